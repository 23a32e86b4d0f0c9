#!/usr/bin/env bash
# Canopy's backbones against torchvision, both ways: torchvision's weights give the same logits in
# Canopy, and Canopy's weights give the same logits in torchvision (within 1e-4 relative).
# Needs .venv-torch with torch and torchvision (see benchmarks/reference/torchvision_parity.py).
# The weights (hundreds of MB) go to a temporary folder, never into the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv-torch/bin/python}
folder=$(mktemp -d)
trap 'rm -rf "$folder"' EXIT
"$python" benchmarks/reference/torchvision_parity.py export "$folder"
CANOPY_TORCHVISION_PARITY="$folder" swift test --disable-swift-testing --filter BackbonesTests.BackboneParityTests 2>&1 \
  | grep -E "parity|error|Executed" | tail -20
"$python" benchmarks/reference/torchvision_parity.py reverse "$folder"
