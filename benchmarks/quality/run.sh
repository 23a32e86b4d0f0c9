#!/usr/bin/env bash
# Canopy's recipe beside the PyTorch and Keras reference pipelines on one `canopy synth` dataset, one
# after another on the same machine, each scored against the dataset's test_labels.csv.
#
#   benchmarks/quality/run.sh SEED [PIPELINE]
#
# PIPELINE defaults to pipelines/synth-benchmark.yaml (its data.root is replaced by the dataset's).
# Environment: OUT [results/quality], PY [.venv-bench/bin/python], FRAMEWORKS [canopy torch keras],
# CANOPY [.build/release/canopy, built when missing], PEER_SIZE [64] and PEER_EPOCHS [60]: the peers'
# best flags for 30 minutes on 2 cores (docs/QUALITY.md, third round). Each system's wall time, and its score lines
# (mean F2, micro F2, macro F2 and the per-label table), go to OUT/seed-SEED/.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
SEED=${1:?usage: run.sh SEED [PIPELINE]}
PIPELINE=${2:-pipelines/synth-benchmark.yaml}
OUT=${OUT:-results/quality}/seed-$SEED
PY=${PY:-.venv-bench/bin/python}
FRAMEWORKS=${FRAMEWORKS:-"canopy torch keras"}
PEER_SIZE=${PEER_SIZE:-64}
PEER_EPOCHS=${PEER_EPOCHS:-60}
CANOPY=${CANOPY:-.build/release/canopy}
DATA=$OUT/data
mkdir -p "$OUT"
[ -x "$CANOPY" ] || swift build -c release --product canopy
[ -f "$DATA/test_labels.csv" ] || "$CANOPY" synth --out "$DATA" --train 4000 --test 2000 --seed "$SEED"

timed() {  # NAME COMMAND...: runs it, wall seconds to OUT/NAME.seconds
    local name=$1; shift
    local start=$(date +%s)
    "$@" > "$OUT/$name.log" 2>&1
    echo $(( $(date +%s) - start )) > "$OUT/$name.seconds"
}

for framework in $FRAMEWORKS; do
    case $framework in
        canopy)
            timed canopy "$CANOPY" run "$PIPELINE" --set "data.root=$DATA" --results "$OUT/canopy" --force
            submission=$OUT/canopy/submission.csv ;;
        torch)
            timed torch "$PY" benchmarks/quality/torch_reference.py --data "$DATA" --truth "$DATA/test_labels.csv" --arch resnet18 \
                --size "$PEER_SIZE" --epochs "$PEER_EPOCHS" --batch 32 --lr 1e-3 --folds 1 --seed 0 --tta d4 --threads 2 --out "$OUT/torch"
            submission=$OUT/torch/submission.csv ;;
        keras)
            KERAS_BACKEND=tensorflow timed keras "$PY" benchmarks/quality/keras_reference.py --data "$DATA" --truth "$DATA/test_labels.csv" \
                --arch resnet18 --size "$PEER_SIZE" --epochs "$PEER_EPOCHS" --batch 32 --lr 1e-3 --folds 1 --seed 0 --tta d4 --threads 2 --out "$OUT/keras"
            submission=$OUT/keras/submission.csv ;;
        *) echo "run.sh: unknown framework $framework" >&2; exit 2 ;;
    esac
    "$PY" benchmarks/quality/f2_score.py "$submission" "$DATA/test_labels.csv" > "$OUT/$framework.score" || true
    echo "$framework: $(cat "$OUT/$framework.seconds") s; $(head -3 "$OUT/$framework.score" | tr '\n' ' ')"
done
