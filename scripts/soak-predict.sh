#!/usr/bin/env bash
# Soak test: `canopy predict --images` over CHIPS chips (default 100,000) must keep its memory flat:
# the peak RSS at the end within 10% of the peak after the first tenth (10,000 chips).
#   scripts/soak-predict.sh [CHIPS]
# The chips are the 1,000 test chips of a synthetic dataset (datasets/synth-soak, made if missing)
# hard-linked over and over under new names into datasets/soak-CHIPS/ (git-ignored, no extra disk).
# A 2-fold LeNet-5 at 64 px is trained once (results/soak); the measured run then only predicts:
# both folds with flips TTA, so 2 x 2 forward passes per chip.
set -euo pipefail
cd "$(dirname "$0")/.."
chips=${1:-100000}
canopy=.build/release/canopy
swift build -c release --product canopy >/dev/null
if [ ! -d datasets/synth-soak/test-jpg ]; then
  rm -rf datasets/synth-soak
  $canopy synth --out datasets/synth-soak --train 2000 --test 1000 --seed 1 >/dev/null
fi
folder=datasets/soak-$chips
if [ "$(find "$folder" -name '*.jpg' 2>/dev/null | wc -l)" -ne "$chips" ]; then
  rm -rf "$folder"
  python3 - "$folder" "$chips" <<'PY'
import os, sys
folder, count = sys.argv[1], int(sys.argv[2])
source = "datasets/synth-soak/test-jpg"
files = sorted(f for f in os.listdir(source) if f.endswith(".jpg"))
os.makedirs(folder)
for i in range(count):
    os.link(os.path.join(source, files[i % len(files)]), os.path.join(folder, f"chip_{i}.jpg"))
PY
fi

pipeline=$(mktemp --suffix=.yaml)
log=$(mktemp)
trap 'rm -f "$pipeline" "$log"' EXIT
cat > "$pipeline" <<YAML
name: soak
data: {root: datasets/synth-soak, input_size: 64}
folds: {k: 2, seed: 1}
models:
  - {backbone: lenet5, epochs: 2, batch_size: 32}
tta: flips
YAML
# Train (and predict a first 1,000 chips) in one process, so the measured run below only predicts.
$canopy predict "$pipeline" --results results/soak --images datasets/synth-soak/test-jpg --quiet
echo "predicting $chips chips in $folder (2 folds x flips)"
/usr/bin/time -v $canopy predict "$pipeline" --results results/soak --images "$folder" 2>&1 | tee "$log" | grep -E "chips .*peak RSS|wrote" | sed 's/\[[#.]*\] //'

python3 - "$log" "$chips" <<'PY'
import re, sys
log, chips = sys.argv[1], int(sys.argv[2])
points = [(int(m.group(1)), float(m.group(2))) for m in re.finditer(r" (\d+)/\d+ chips .*peak RSS (\d+) MB", open(log).read())]
tenth = next(rss for done, rss in points if done >= chips // 10)
end = points[-1][1]
print(f"peak RSS after {chips // 10:,} chips: {tenth:.0f} MB; at the end ({points[-1][0]:,} chips): {end:.0f} MB; "
      f"ratio {end / tenth:.3f}")
if end > 1.10 * tenth:
    sys.exit("memory grew by more than 10%")
PY
