#!/usr/bin/env bash
# Kill a pipeline run with SIGKILL at random moments across all its stages, start it again each
# time, and at the end compare its submission and checkpoints with an uninterrupted run's: they
# must be identical, and after every kill every file already written must read whole.
#   scripts/kill-resume-test.sh [KILLS] [SEED]        (defaults: at most 20 kills, seed 1)
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
trap 'rm -f "$pipeline"' EXIT
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
start=$(date +%s.%N)
$canopy run "$pipeline" --results results/kill-test-whole --quiet
whole=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
echo "uninterrupted run: ${whole}s"

echo "killed run: up to $kills SIGKILLs, each 1 to 6 s after a start, until a run finishes by itself"
RANDOM=$seed
killed=0
while [ "$killed" -lt "$kills" ]; do
  delay=$(awk -v r=$RANDOM 'BEGIN { printf "%.1f", 1 + (r / 32767) * 5 }')
  set +e
  timeout -s KILL "$delay" $canopy run "$pipeline" --results results/kill-test-killed --quiet 2>/dev/null
  status=$?
  set -e
  [ "$status" -eq 0 ] && { echo "  the run finished within ${delay}s: done after $killed kills"; break; }
  killed=$((killed + 1))
  # The stage that was running: the first one stages.json does not list as done.
  stage=$(python3 - <<'PY'
import json
try:
    done = json.load(open("results/kill-test-killed/stages.json"))
except Exception:
    done = {}
order = [("folds", "prepare"), ("train", "train"), ("predict", "predict"), ("ensemble", "ensemble"), ("tune", "tune"),
         ("submit", "submit"), ("report", "report")]
print(next((name for key, name in order if key not in done), "after report"))
PY
)
  epochs=$(grep -c "" results/kill-test-killed/train_log.csv 2>/dev/null || echo 1)
  echo "  kill $killed after ${delay}s during $stage ($((epochs - 1)) epochs logged); $(python3 scripts/check-results.py results/kill-test-killed)"
done
echo "restart to the end"
$canopy run "$pipeline" --results results/kill-test-killed --quiet
python3 scripts/check-results.py results/kill-test-killed

cmp results/kill-test-whole/submission.csv results/kill-test-killed/submission.csv
echo "submission identical to the uninterrupted run's ($(wc -l < results/kill-test-whole/submission.csv) lines)"
for model in resnet18 lenet5; do
  for fold in 0 1 2; do
    cmp results/kill-test-whole/models/$model/fold-$fold/best.safetensors results/kill-test-killed/models/$model/fold-$fold/best.safetensors
  done
done
echo "best checkpoints identical on every fold of both models"
