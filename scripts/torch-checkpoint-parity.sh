#!/usr/bin/env bash
# PyTorch checkpoints in, without Python (issue 22, part 1): torchvision's resnet18, vgg11_bn and
# googlenet with random weights, saved by torch.save, load into Canopy the way models[].init loads them
# and give torchvision's logits (within 1e-4 relative); a .pth whose pickle names os.system is refused.
# Needs .venv-torch with torch, torchvision and safetensors (see benchmarks/reference/torch_checkpoint_parity.py);
# Python only writes the files. The weights (about 600 MB) go to a temporary folder, never into the repository.
#   PYTHON=path/to/python SCRATCH=.build scripts/torch-checkpoint-parity.sh
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv-torch/bin/python}
scratch=${SCRATCH:-.build}
folder=$(mktemp -d)
trap 'rm -rf "$folder"' EXIT
"$python" benchmarks/reference/torch_checkpoint_parity.py export "$folder"

CANOPY_TORCH_CHECKPOINT_PARITY="$folder" swift test --scratch-path "$scratch" --disable-swift-testing \
  --filter BackbonesTests.TorchCheckpointParityTests 2>&1 | grep -E "parity|error|Executed" | tail -20

swift build --scratch-path "$scratch" --product canopy >/dev/null
set +e
message=$("$scratch/debug/canopy" weights convert "$folder/evil.pth" --out "$folder/evil.safetensors" 2>&1)
status=$?
set -e
echo "canopy weights convert evil.pth: exit $status: $message"
if [ "$status" -eq 0 ] || ! grep -q "refused global posix.system" <<<"$message" || [ -e "$folder/evil.safetensors" ]; then
  echo "FAILED: evil.pth was not refused as it should be" >&2
  exit 1
fi
echo "evil.pth refused, nothing written"
