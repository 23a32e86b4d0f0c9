#!/usr/bin/env bash
# Canopy beside PyTorch and Keras/TensorFlow, alternating in one go: for each configuration, round 1 runs
# canopy, torch, keras (each its own process), round 2 the same order, and so on. Every process's last
# JSON line goes to results/compare/runs.jsonl (with the run ID and round added); at the end a Markdown
# table (benchmarks/summarize.py) gives the median images/s per framework, Canopy/Keras and
# Canopy/PyTorch ratios and peak RSS, and is also saved as results/compare/summary-RUN.md.
#
#   benchmarks/compare.sh [--quick]
#
# Environment (defaults in brackets):
#   CONFIGS  "model:size:mode ..." [ResNet-18 train and infer at 64, 128 and 256 px; VGG-11-BN, GoogLeNet
#            and ResNet-50 train at 128 px: the rows issue 20 asks for]
#   ROUNDS [3]  BATCH [32]  THREADS [2]  STEPS [10]  WARMUP [2]   (--quick: ROUNDS=1 STEPS=3 WARMUP=1)
#   INFER_STEPS [30; --quick 3]: timed steps of the infer rows, a fraction of a training step each (ten
#            64 px inference passes are half a second, where one disturbance moved a round by half)
#   CANOPY   path of a built canopy; unset: `swift build -c release --product canopy` and .build/release/canopy
#   PY       the peers' Python [.venv-bench/bin/python, made by benchmarks/reference/setup.sh]
#   FRAMEWORKS which to run, in order [canopy torch keras]
#   TIMEOUT  seconds allowed to one process [none]
#   OUT      [results/compare/runs.jsonl]
# A framework missing from the venv is reported as skipped (a line in runs.jsonl and a note under the
# table); a process that fails or prints no JSON is reported as failed; neither stops the run, but the
# script then exits 1 (after printing the table), so a comparison with a failed run never passes.
# Exit status: 0 every process succeeded (skipped frameworks allowed), 1 one or more failed or the
# summary could not be made, 2 a usage error.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

QUICK=0
for arg in "$@"; do
    case $arg in
        --quick) QUICK=1 ;;
        -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "compare.sh: unknown argument $arg (--quick, --help)" >&2; exit 2 ;;
    esac
done

CONFIGS=${CONFIGS:-"resnet18:64:train resnet18:64:infer resnet18:128:train resnet18:128:infer resnet18:256:train resnet18:256:infer vgg11_bn:128:train googlenet:128:train resnet50:128:train"}
BATCH=${BATCH:-32}
THREADS=${THREADS:-2}
if [ $QUICK = 1 ]; then
    ROUNDS=1 STEPS=3 WARMUP=1 INFER_STEPS=3
else
    ROUNDS=${ROUNDS:-3} STEPS=${STEPS:-10} WARMUP=${WARMUP:-2} INFER_STEPS=${INFER_STEPS:-30}
fi
PY=${PY:-.venv-bench/bin/python}
FRAMEWORKS=${FRAMEWORKS:-"canopy torch keras"}
OUT=${OUT:-results/compare/runs.jsonl}
DIR=$(dirname "$OUT")
ERR=$DIR/stderr.log
RUN=$(date -u +%Y%m%dT%H%M%SZ)-$$
mkdir -p "$DIR"

say() { echo "compare: $*"; }

# --- Canopy ---
if [ -z "${CANOPY:-}" ]; then
    say "building canopy (swift build -c release --product canopy)"
    swift build -c release --product canopy >&2 || { say "swift build failed"; exit 1; }
    CANOPY=.build/release/canopy
fi
[ -x "$CANOPY" ] || { say "no canopy binary at $CANOPY"; exit 1; }

# --- what the venv has ---
declare -A SKIP
if [ ! -x "$PY" ]; then
    SKIP[torch]="no $PY (run benchmarks/reference/setup.sh)"
    SKIP[keras]="no $PY (run benchmarks/reference/setup.sh)"
else
    "$PY" -c 'import importlib.util, sys, torch; sys.exit(importlib.util.find_spec("torchvision") is None)' 2>/dev/null \
        || SKIP[torch]="torch or torchvision not installed in $PY"
    TF_CPP_MIN_LOG_LEVEL=3 "$PY" -c 'import tensorflow, keras' 2>/dev/null \
        || SKIP[keras]="tensorflow or keras not installed in $PY"
fi

record() {  # fw model size mode round status reason
    local name=$1
    [ "$name" = keras ] && name=keras-tensorflow
    printf '{"run":"%s","round":%s,"framework":"%s","model":"%s","size":%s,"mode":"%s","batch":%s,"threads":%s,"status":"%s","reason":"%s"}\n' \
        "$RUN" "$5" "$name" "$2" "$3" "$4" "$BATCH" "$THREADS" "$6" "${7//\"/\'}" >> "$OUT"
}

run_one() {  # fw model size mode round
    local fw=$1 model=$2 size=$3 mode=$4 round=$5 out rc line
    local steps=$STEPS
    [ "$mode" = infer ] && steps=$INFER_STEPS
    local common=(--model "$model" --size "$size" --batch "$BATCH" --threads "$THREADS" --steps "$steps" --warmup "$WARMUP")
    local cmd
    case $fw in
        canopy) cmd=("$CANOPY" bench "$mode" "${common[@]}" --json) ;;
        torch) cmd=("$PY" benchmarks/reference/bench_torch.py --mode "$mode" "${common[@]}") ;;
        keras) cmd=(env KERAS_BACKEND=tensorflow "$PY" benchmarks/reference/bench_keras.py --mode "$mode" "${common[@]}") ;;
        *) say "unknown framework $fw"; return ;;
    esac
    if [ -n "${SKIP[$fw]:-}" ]; then
        say "round $round $fw $model $size $mode: skipped (${SKIP[$fw]})"
        record "$fw" "$model" "$size" "$mode" "$round" skipped "${SKIP[$fw]}"
        return
    fi
    [ -n "${TIMEOUT:-}" ] && cmd=(timeout "$TIMEOUT" "${cmd[@]}")
    out=$(mktemp)
    echo "=== run $RUN round $round: ${cmd[*]}" >> "$ERR"
    "${cmd[@]}" > "$out" 2>> "$ERR"
    rc=$?
    line=$(grep '^{' "$out" | tail -n 1)
    if [ $rc = 0 ] && [ -n "$line" ]; then
        echo "$line" | sed "s/^{/{\"run\":\"$RUN\",\"round\":$round,/" >> "$OUT"
        say "round $round $fw: $(grep -v '^{' "$out" | tail -n 1)"
    else
        local why="exit $rc"
        [ $rc = 0 ] && why="no JSON line"
        [ $rc = 124 ] && why="timed out after ${TIMEOUT}s"
        say "round $round $fw $model $size $mode: FAILED ($why; see $ERR)"
        record "$fw" "$model" "$size" "$mode" "$round" failed "$why"
        FAILURES=$((FAILURES + 1))
    fi
    rm -f "$out"
}

FAILURES=0
say "run $RUN: configs [$CONFIGS], $ROUNDS round(s), batch $BATCH, $THREADS threads, $STEPS steps ($INFER_STEPS for infer) after $WARMUP warm-up; canopy $CANOPY, python $PY"
for c in $CONFIGS; do
    IFS=: read -r model size mode <<< "$c"
    case $mode in train|infer) ;; *) say "config $c: mode must be train or infer"; exit 2 ;; esac
    for ((round = 1; round <= ROUNDS; round++)); do
        for fw in $FRAMEWORKS; do
            run_one "$fw" "$model" "$size" "$mode" "$round"
        done
    done
done

echo
python3 benchmarks/summarize.py "$OUT" --run "$RUN" > "$DIR/summary-$RUN.md"
summary=$?
cat "$DIR/summary-$RUN.md"
[ $summary = 0 ] || { say "the summary failed (exit $summary)"; exit 1; }
if [ $FAILURES -gt 0 ]; then
    say "$FAILURES run(s) FAILED: the table above is incomplete"
    exit 1
fi
