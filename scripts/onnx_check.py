#!/usr/bin/env python3
"""Checks the ONNX files `canopy export` wrote against Canopy's own outputs.

For every network listed in OUT/serving.json: onnx.checker.check_model (full check, with shape
inference), then onnxruntime on the check file's `input` (the chips as Canopy feeds them, [N, C, H, W])
against the check file's `probabilities` (Canopy's output for them, [N, 17]). Prints, per network, the
largest absolute difference and the largest relative one, |ort - canopy| / max(|canopy|, 1e-6), and
fails (exit 1) when either exceeds the tolerance (1e-4 by default). The batch is also run one chip at
a time, which must agree with the batched run (the batch dimension is free).

Probabilities near 0.5 are a blunt measure for briefly trained networks, whose logits may all be
within a few hundredths of 0: there a probability difference under 1e-4 could hide a logit error of a
few percent. So the logits are also recovered from both sides' probabilities, log(p) - log(1 - p) in
float64 (where 1e-6 < p < 1 - 1e-6, so the inversion is well conditioned), and their largest difference
relative to the largest Canopy logit must stay under --logit-tolerance (1e-3 by default).

Set-up (once): python3 -m venv .venv-onnx && .venv-onnx/bin/pip install onnxruntime onnx numpy
Usage: .venv-onnx/bin/python scripts/onnx_check.py OUT [--tolerance 1e-4] [--logit-tolerance 1e-3]
"""
import argparse
import json
import os
import struct
import sys

import numpy as np
import onnx
import onnxruntime as ort


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    base = 8 + length
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if entry["dtype"] != "F32":
            raise ValueError(f"{path}: {name} is {entry['dtype']}, expected F32")
        begin, end = entry["data_offsets"]
        tensors[name] = np.frombuffer(data[base + begin:base + end], dtype="<f4").reshape(entry["shape"])
    return tensors, header.get("__metadata__", {})


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="the folder canopy export wrote (serving.json, *.onnx, *.check.safetensors)")
    parser.add_argument("--tolerance", type=float, default=1e-4)
    parser.add_argument("--logit-tolerance", type=float, default=1e-3)
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads")
    args = parser.parse_args()

    with open(os.path.join(args.out, "serving.json")) as f:
        serving = json.load(f)
    print(f"onnx {onnx.__version__}, onnxruntime {ort.__version__}, numpy {np.__version__}; tolerance {args.tolerance:g}")
    labels = serving["output"]["labels"]
    failures = []
    rows = []
    for model in serving["models"]:
        for network in model["networks"]:
            path = os.path.join(args.out, network["file"])
            name = f"{model['name']} {network['unit']}"
            try:
                onnx.checker.check_model(path, full_check=True)
                checker = "ok"
            except Exception as error:  # the checker's own exception types vary by version
                checker = f"FAILED: {error}"
                failures.append(f"{name}: checker: {error}")
            if not network.get("check"):
                failures.append(f"{name}: no check file (export with --check-images)")
                continue
            tensors, metadata = read_safetensors(os.path.join(args.out, network["check"]))
            x, expected = tensors["input"], tensors["probabilities"]
            size = model["input_size"]
            assert x.shape[1:] == (len(serving["input"]["bands"]), size, size), (x.shape, size)
            options = ort.SessionOptions()
            options.intra_op_num_threads = args.threads
            options.inter_op_num_threads = 1
            session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
            assert [i.name for i in session.get_inputs()] == [serving["input"]["name"]]
            got = session.run([serving["output"]["name"]], {serving["input"]["name"]: x})[0]
            assert got.shape == expected.shape == (x.shape[0], len(labels)), (got.shape, expected.shape)
            one_by_one = np.concatenate([session.run(None, {"input": x[i:i + 1]})[0] for i in range(x.shape[0])])
            difference = np.abs(got.astype(np.float64) - expected.astype(np.float64))
            absolute = float(difference.max())
            relative = float((difference / np.maximum(np.abs(expected.astype(np.float64)), 1e-6)).max())
            batch = float(np.abs(one_by_one - got).max())
            p, q = expected.astype(np.float64), got.astype(np.float64)
            usable = (p > 1e-6) & (p < 1 - 1e-6) & (q > 1e-6) & (q < 1 - 1e-6)
            canopy_logits, ort_logits = np.log(p) - np.log1p(-p), np.log(q) - np.log1p(-q)
            logit_scale = float(np.abs(canopy_logits[usable]).max()) if usable.any() else 0.0
            logit_difference = float(np.abs(canopy_logits - ort_logits)[usable].max()) if usable.any() else 0.0
            logit_relative = logit_difference / max(logit_scale, 1e-3)
            rows.append((name, model["backbone"], size, x.shape[0], checker, absolute, relative, batch,
                         logit_relative, logit_scale, float(expected.min()), float(expected.max()),
                         os.path.getsize(path) / 1e6))
            if logit_relative > args.logit_tolerance:
                failures.append(f"{name}: logits differ by {logit_difference:.3g} of {logit_scale:.3g} > {args.logit_tolerance:g}")
            if not (absolute <= args.tolerance and relative <= args.tolerance):
                failures.append(f"{name}: max abs {absolute:.3g}, max rel {relative:.3g} > {args.tolerance:g}")
            if batch > args.tolerance:
                failures.append(f"{name}: one chip at a time differs from the batch by {batch:.3g}")

    print(f"{'network':<22} {'backbone':<11} {'px':>4} {'chips':>5} {'checker':<8} {'max abs':>9} {'max rel':>9} "
          f"{'batch=1':>9} {'logit rel':>9} {'max|logit|':>10} {'canopy p range':>20} {'MB':>7}")
    for (name, backbone, size, chips, checker, absolute, relative, batch, logit_relative, logit_scale, low, high,
         megabytes) in rows:
        print(f"{name:<22} {backbone:<11} {size:>4} {chips:>5} {checker[:8]:<8} {absolute:>9.2e} {relative:>9.2e} "
              f"{batch:>9.2e} {logit_relative:>9.2e} {logit_scale:>10.3g} {low:>9.2e}..{high:<9.2e} {megabytes:>7.1f}")
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures))
        return 1
    print(f"all {len(rows)} networks within {args.tolerance:g} of Canopy (logits within {args.logit_tolerance:g} relative)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
