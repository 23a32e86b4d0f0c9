#!/usr/bin/env python3
"""Per-band mean and (population) standard deviation of datasets/planet-sample's 20 training chips,
the expected values of the normalisation-statistics tests (Tests/PlanetDataTests/LoaderTests.swift,
Tests/CanopyCLITests/DataCommandTests.swift).

Independent of Canopy: the JPEGs are decoded by Pillow (its own libjpeg-turbo; Planet's JPEGs are
4-component, R,G,B,255 with no Adobe marker, which Pillow returns as "CMYK" with every component
inverted, so R = 255 - C and K = 0), the 16-bit
TIFFs are read by the small uncompressed-strip reader below, and numpy does the sums in float64.
Units are those of Canopy's ChipPlanes: samples / 255 (JPEG) or / 65535 (TIFF), TIFF bands in
R,G,B,N order (stored B,G,R,N).

    .venv-torch/bin/python scripts/test-values/normalization_statistics.py
"""
import csv
import os
import struct

import numpy as np
from PIL import Image

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SAMPLE = os.path.join(ROOT, "datasets", "planet-sample")


def read_tiff(path):
    """An uncompressed little-endian, chunky, stripped TIFF as an (H, W, C) uint16 array."""
    data = open(path, "rb").read()
    assert data[:4] == b"II*\x00", path
    (ifd,) = struct.unpack_from("<I", data, 4)
    (count,) = struct.unpack_from("<H", data, ifd)
    sizes = {3: 2, 4: 4}
    tags = {}
    for k in range(count):
        tag, kind, n, value = struct.unpack_from("<HHII", data, ifd + 2 + 12 * k)
        size = sizes.get(kind, 1)
        fmt = {2: "H", 4: "I"}.get(size, "B")
        at = ifd + 2 + 12 * k + 8 if n * size <= 4 else value
        tags[tag] = list(struct.unpack_from("<" + fmt * n, data, at))
    width, height, spp = tags[256][0], tags[257][0], tags[277][0]
    assert tags[258] == [16] * spp and tags[259] == [1] and tags.get(284, [1]) == [1], path
    pixels = b"".join(data[o:o + n] for o, n in zip(tags[273], tags[279]))
    return np.frombuffer(pixels, "<u2")[: width * height * spp].reshape(height, width, spp)


def main():
    names = [row["image_name"] for row in csv.DictReader(open(os.path.join(SAMPLE, "train_v2.csv")))]
    rgb, rgbn = [], []
    for name in names:
        image = Image.open(os.path.join(SAMPLE, "train-jpg", name + ".jpg"))
        assert image.mode == "CMYK" and image.size == (256, 256)
        array = np.asarray(image)
        assert (array[:, :, 3] == 0).all()
        rgb.append((255 - array[:, :, :3].astype(np.float64)).reshape(-1, 3) / 255.0)
        bgrn = read_tiff(os.path.join(SAMPLE, "train-tif-v2", name + ".tif"))
        rgbn.append(bgrn[:, :, [2, 1, 0, 3]].reshape(-1, 4) / 65535.0)
    for label, values in (("rgb", rgb), ("rgbn", rgbn)):
        values = np.concatenate(values).astype(np.float64)
        print(f"{label}: {len(names)} chips, {values.shape[0]} pixels")
        print("  mean:", ", ".join(repr(float(v)) for v in values.mean(axis=0)))
        print("  std: ", ", ".join(repr(float(v)) for v in values.std(axis=0)))


if __name__ == "__main__":
    main()
