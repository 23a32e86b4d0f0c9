#!/usr/bin/env python3
"""Per-band minimum, mean and maximum of two sample chips, the values `canopy inspect` must print
(Tests/CanopyCLITests/InspectCommandTests.swift): train_1.jpg decoded by Pillow (Planet's
4-component JPEG comes out as inverted CMYK: R = 255 - C), train_0.tif read by the plain strip
reader of normalization_statistics.py (bands as stored, B,G,R,N).

    .venv-torch/bin/python scripts/test-values/inspect_values.py
"""
import os
import sys

import numpy as np
from PIL import Image

sys.dont_write_bytecode = True
from normalization_statistics import SAMPLE, read_tiff  # noqa: E402

jpeg = 255 - np.asarray(Image.open(os.path.join(SAMPLE, "train-jpg", "train_1.jpg")))[:, :, :3].astype(np.int64)
tiff = read_tiff(os.path.join(SAMPLE, "train-tif-v2", "train_0.tif")).astype(np.int64)
for name, array in (("train_1.jpg", jpeg), ("train_0.tif", tiff)):
    values = array.reshape(-1, array.shape[-1])
    print(name)
    print("  min: ", values.min(axis=0).tolist())
    print("  mean:", [float(v) for v in values.mean(axis=0)])
    print("  max: ", values.max(axis=0).tolist())
