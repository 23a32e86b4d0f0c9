#!/usr/bin/env bash
# Kill a pipeline run with SIGKILL at random moments across all seven stages, start it again each
# time, and at the end compare its submission and checkpoints with an uninterrupted run's: they
# must be identical, and after every kill every file already written must read whole.
#   scripts/kill-resume-test.sh [KILLS] [SEED]        (defaults: 20 kills, seed 1)
# Training is killed from outside at random delays; the other stages last milliseconds, so there
# the run SIGKILLs itself at a random step of one of its durable writes (scripts/kill-resume-test.py
# and Sources/Support/CrashPoints.swift say how).
# Uses a small synthetic dataset (datasets/synth-kill) and a 3-fold ResNet-18 at 64 px with an
# ensemble, so that every stage has work to do.
set -euo pipefail
cd "$(dirname "$0")/.."
kills=${1:-20}
seed=${2:-1}
canopy=.build/release/canopy
swift build -c release --product canopy >/dev/null
[ -f datasets/synth-kill/train_v2.csv ] || $canopy synth --out datasets/synth-kill --train 240 --test 60 --seed 7 >/dev/null

pipeline=$(mktemp --suffix=.yaml)
cat > "$pipeline" <<YAML
name: kill-test
data: {root: datasets/synth-kill, input_size: 64}
folds: {k: 3, seed: 1}
models:
  - {backbone: resnet18, epochs: 3, batch_size: 16, optimizer: {learning_rate: 0.02}}
  - {backbone: lenet5, epochs: 2, batch_size: 16}
tta: flips
ensemble: {method: ridge}
YAML

rm -rf results/kill-test-whole results/kill-test-killed
points=$(mktemp)
trap 'rm -f "$pipeline" "$points"' EXIT
start=$(date +%s.%N)
# The uninterrupted run also lists its crash points (the steps of each durable write, per stage).
CANOPY_CRASH_AT=list $canopy run "$pipeline" --results results/kill-test-whole --quiet 2>"$points"
whole=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
echo "uninterrupted run: ${whole}s"

python3 scripts/kill-resume-test.py "$canopy" "$pipeline" results/kill-test-killed "$kills" "$seed" "$points"
echo "restart to the end"
$canopy run "$pipeline" --results results/kill-test-killed --quiet
python3 scripts/check-results.py results/kill-test-killed

cmp results/kill-test-whole/submission.csv results/kill-test-killed/submission.csv
echo "submission identical to the uninterrupted run's ($(wc -l < results/kill-test-whole/submission.csv) lines)"
for file in thresholds.json report.csv predictions/ensemble-oof.csv predictions/ensemble-test.csv; do
  cmp results/kill-test-whole/$file results/kill-test-killed/$file
done
echo "thresholds, per-label report and ensemble predictions identical too"
for model in resnet18 lenet5; do
  for fold in 0 1 2; do
    cmp results/kill-test-whole/models/$model/fold-$fold/best.safetensors results/kill-test-killed/models/$model/fold-$fold/best.safetensors
  done
done
echo "best checkpoints identical on every fold of both models"
