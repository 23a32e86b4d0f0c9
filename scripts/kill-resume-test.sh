#!/usr/bin/env bash
# Kill a pipeline run with SIGKILL during training, start it again until it finishes, and compare
# its submission with an uninterrupted run of the same pipeline: they must be identical.
#   scripts/kill-resume-test.sh [KILLS] [SEED]
# Uses a small synthetic dataset (datasets/synth-kill) and a 3-fold ResNet-18 at 64 px.
set -euo pipefail
cd "$(dirname "$0")/.."
kills=${1:-3}
seed=${2:-1}
canopy=.build/release/canopy
swift build -c release --product canopy >/dev/null
[ -f datasets/synth-kill/train_v2.csv ] || $canopy synth --out datasets/synth-kill --train 240 --test 60 --seed 7 >/dev/null

pipeline=$(mktemp --suffix=.yaml)
trap 'rm -f "$pipeline"' EXIT
cat > "$pipeline" <<YAML
name: kill-test
data: {root: datasets/synth-kill, input_size: 64}
folds: {k: 3, seed: 1}
models:
  - {backbone: resnet18, epochs: 3, batch_size: 16, optimizer: {learning_rate: 0.02}}
tta: flips
YAML

rm -rf results/kill-test-whole results/kill-test-killed
echo "uninterrupted run"
$canopy run "$pipeline" --results results/kill-test-whole --quiet

echo "killed run: $kills SIGKILLs at random moments during training"
RANDOM=$seed
for ((i = 1; i <= kills; i++)); do
  delay=$(awk -v r=$RANDOM 'BEGIN { printf "%.1f", 3 + r % 120 / 10 }')
  set +e
  timeout -s KILL "$delay" $canopy run "$pipeline" --results results/kill-test-killed --quiet
  status=$?
  set -e
  state=$(ls results/kill-test-killed/models/resnet18 2>/dev/null | tr '\n' ' ')
  echo "  kill $i after ${delay}s (exit $status); fold folders: ${state:-none}"
  # Every file written so far must still read: the fold records and the checkpoints.
  for record in results/kill-test-killed/models/resnet18/fold-*/fold.json; do
    [ -f "$record" ] && python3 -c "import json,sys; json.load(open(sys.argv[1]))" "$record"
  done
done
echo "restart to the end"
$canopy run "$pipeline" --results results/kill-test-killed --quiet

if cmp results/kill-test-whole/submission.csv results/kill-test-killed/submission.csv; then
  echo "submission identical to the uninterrupted run's ($(wc -l < results/kill-test-whole/submission.csv) lines)"
else
  echo "submissions differ" >&2
  exit 1
fi
for fold in 0 1 2; do
  cmp results/kill-test-whole/models/resnet18/fold-$fold/best.safetensors results/kill-test-killed/models/resnet18/fold-$fold/best.safetensors
done
echo "best checkpoints identical on every fold"
