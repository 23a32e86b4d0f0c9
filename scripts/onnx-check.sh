#!/usr/bin/env bash
# `canopy export` checked by the real onnxruntime: LeNet-5, AlexNet, VGG-11 (BN), ResNet-18, ResNet-50
# and GoogLeNet (and alexnet_lrn, LeNet-5 at a second size) trained for three steps on the sample's
# labelled chips (one holdout fold, small inputs: only export fidelity matters here), exported with
# check files for 16 of the sample's test chips, then scripts/onnx_check.py: onnx.checker on every
# file, and onnxruntime's probabilities against Canopy's (max absolute and relative difference, fails
# above 1e-4; also the logits recovered from both, see that script).
#
# Set-up, once (a git-ignored virtual environment; the test suite itself needs no Python):
#   python3 -m venv .venv-onnx && .venv-onnx/bin/pip install onnxruntime onnx numpy
# Options through the environment: PYTHON (default .venv-onnx/bin/python), CANOPY (a built binary;
# default: build in release), WORK (default a temporary folder, removed at the end; set it to keep
# the results, the ONNX files and serving.json). Everything runs under nice: the machine may be shared.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv-onnx/bin/python}
if ! "$python" -c "import onnx, onnxruntime, numpy" 2>/dev/null; then
  echo "$python lacks onnx/onnxruntime/numpy: python3 -m venv .venv-onnx && .venv-onnx/bin/pip install onnxruntime onnx numpy" >&2
  exit 2
fi
if [[ -z "${CANOPY:-}" ]]; then
  nice -n 19 swift build -c release --product canopy
  CANOPY=.build/release/canopy
fi
if [[ -z "${WORK:-}" ]]; then
  WORK=$(mktemp -d)
  trap 'rm -rf "$WORK"' EXIT
fi
mkdir -p "$WORK"
cat > "$WORK/onnx-check.yaml" <<'YAML'
# The six backbones the issue names, plus alexnet_lrn (LRN) and LeNet-5 at 52 px (its adaptive pool
# then divides evenly: 10 -> 5, an AveragePool; at 64 px it is 13 -> 5, the MatMul bins). Three epochs
# (three steps) on one fold of the sample: weights and batch-norm statistics moved away from their
# initialisation, small inputs where the architecture allows.
name: onnx-check
data: {root: datasets/planet-sample, input_size: 64, limit_test: 8, workers: 1}
folds: {k: 2, seed: 1, train: [0]}
models:
  - {backbone: lenet5, input_size: 64, epochs: 3, batch_size: 10, optimizer: {kind: adam, learning_rate: 0.003}}
  - {name: lenet5-52, backbone: lenet5, input_size: 52, epochs: 3, batch_size: 10, optimizer: {kind: adam, learning_rate: 0.003}}
  - {backbone: alexnet, input_size: 64, epochs: 3, batch_size: 10, optimizer: {kind: adam, learning_rate: 0.0003}}
  - {backbone: alexnet_lrn, input_size: 64, epochs: 3, batch_size: 10, optimizer: {kind: adam, learning_rate: 0.0003}}
  - {backbone: vgg11_bn, input_size: 32, epochs: 3, batch_size: 10, optimizer: {kind: adam, learning_rate: 0.0003}}
  - {backbone: resnet18, input_size: 64, epochs: 3, batch_size: 10, optimizer: {kind: adam, learning_rate: 0.001}}
  - {backbone: resnet50, input_size: 32, epochs: 3, batch_size: 10, optimizer: {kind: adam, learning_rate: 0.001}}
  - {backbone: googlenet, input_size: 48, epochs: 3, batch_size: 10, optimizer: {kind: adam, learning_rate: 0.001}}
tta: none
outputs: {submission: false, report: false, checkpoints: false}
YAML
nice -n 19 "$CANOPY" run "$WORK/onnx-check.yaml" --results "$WORK/results" --quiet
nice -n 19 "$CANOPY" export "$WORK/onnx-check.yaml" --results "$WORK/results" --out "$WORK/onnx" \
  --check-images datasets/planet-sample/test-jpg --check-count 16
nice -n 19 "$python" scripts/onnx_check.py "$WORK/onnx" "$@"
