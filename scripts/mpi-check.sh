#!/usr/bin/env bash
# Issue 21's checks of `mpirun -np 2 canopy ...` on this machine (loopback), in release, on
# `canopy synth` data. Prints one block per check; exits non-zero when a check fails.
#
#   1. mode: data, 2 ranks x 16 chips against 1 process x 32, same seed, 20 steps: the weights'
#      largest relative difference, for LeNet-5 (Adam) and ResNet-18 with sync_batch_norm (SGD, 64 px),
#      beside what one process differs from itself with another convolution algorithm (--winograd off).
#   2. mode: folds: the submission byte-identical to one process's.
#   3. predict --images sharded over 2 ranks: the same file as one process's.
#   4. The allreduce of ResNet-18's gradients (bench allreduce), over shared memory and over TCP.
#   5. Throughput, mode: data, ResNet-18 at 128 px: 2 ranks x 1 thread against 1 process x 2 threads
#      (images/s of the epochs in train_log.csv, alternating runs), with overlap off, over TCP with and
#      without overlap, and one rank's share (batch 16) run alone on 1 thread: where the loss goes.
#   6. A rank killed with SIGKILL mid-epoch: the job ends (time and message), the rerun's submission
#      is the uninterrupted run's.
#
# Options through the environment: CANOPY (a built binary; default: build in release), WORK (default a
# temporary folder, removed at the end), ROUNDS (throughput runs per side, default 2), SKIP (checks to
# leave out, e.g. "5 6"). Needs Open MPI (scripts/install-deps.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
if [[ -z "${CANOPY:-}" ]]; then
  swift build -c release --product canopy
  CANOPY=.build/release/canopy
fi
CANOPY=$(realpath "$CANOPY")
if [[ -z "${WORK:-}" ]]; then
  WORK=$(mktemp -d)
  trap 'rm -rf "$WORK"' EXIT
fi
mkdir -p "$WORK"
ROUNDS=${ROUNDS:-2}
SKIP=${SKIP:-}
MPIRUN=(mpirun --allow-run-as-root --oversubscribe --bind-to none)
failed=0
skip() { [[ " $SKIP " == *" $1 "* ]]; }
fail() { echo "FAILED: $*"; failed=1; }
largest() { "$CANOPY" weights compare "$1" "$2" --json | sed 's/.*"largest_relative_difference":\([^,}]*\).*/\1/'; }
largest_in() { "$CANOPY" weights compare "$1" "$2" --json | sed 's/.*"largest_in":"\([^"]*\)".*/\1/'; }
conv_largest() { "$CANOPY" weights compare "$1" "$2" | grep -E "conv|fc|downsample.0|classifier|features" | sed -n 's/.*= \([^ ]*\) of max.*/\1/p' | sort -g | tail -1; }

echo "== data: canopy synth (340 training chips at 64 px, 1000 at 256 px for throughput)"
[[ -d "$WORK/small" ]] || "$CANOPY" synth --out "$WORK/small" --train 340 --test 40 --seed 5 --size 64 >/dev/null
skip 5 || [[ -d "$WORK/large" ]] || "$CANOPY" synth --out "$WORK/large" --train 1000 --test 20 --seed 6 >/dev/null

if ! skip 1; then
  echo "== 1. mode: data, 2 ranks x 16 against 1 process x 32, 20 steps (170 training chips, 5 steps an epoch, 4 epochs)"
  for model in lenet resnet; do
    if [[ $model == lenet ]]; then
      spec="{backbone: lenet5, epochs: 4, batch_size: 32, optimizer: {kind: adam, learning_rate: 0.001}}"; size=32; sync=false; net=lenet5
    else
      spec="{backbone: resnet18, epochs: 4, batch_size: 32, optimizer: {kind: sgd, learning_rate: 0.01}}"; size=64; sync=true; net=resnet18
    fi
    cat > "$WORK/parity-$model.yaml" <<YAML
name: parity-$model
data: {root: $WORK/small, input_size: $size}
folds: {k: 2, seed: 1, train: [0]}
models:
  - $spec
threads: 1
distributed: {mode: data, sync_batch_norm: $sync}
outputs: {report: false}
YAML
    rm -rf "$WORK/p-$model-1" "$WORK/p-$model-2" "$WORK/p-$model-off"
    "$CANOPY" run "$WORK/parity-$model.yaml" --results "$WORK/p-$model-1" --quiet
    "${MPIRUN[@]}" -np 2 "$CANOPY" run "$WORK/parity-$model.yaml" --results "$WORK/p-$model-2" --quiet
    "$CANOPY" run "$WORK/parity-$model.yaml" --results "$WORK/p-$model-off" --quiet --winograd off
    w=models/$net/fold-0/last.safetensors
    echo "$net (sync_batch_norm $sync): 2 ranks vs 1 process: largest relative difference $(largest "$WORK/p-$model-1/$w" "$WORK/p-$model-2/$w") ($(largest_in "$WORK/p-$model-1/$w" "$WORK/p-$model-2/$w")), convolution/linear weights $(conv_largest "$WORK/p-$model-1/$w" "$WORK/p-$model-2/$w")"
    echo "$net: 1 process, --winograd off vs f4x4:  largest relative difference $(largest "$WORK/p-$model-1/$w" "$WORK/p-$model-off/$w") ($(largest_in "$WORK/p-$model-1/$w" "$WORK/p-$model-off/$w")), convolution/linear weights $(conv_largest "$WORK/p-$model-1/$w" "$WORK/p-$model-off/$w")"
  done
fi

if ! skip 2; then
  echo "== 2. mode: folds: LeNet-5 and ResNet-18 on 3 folds over 2 ranks against 1 process"
  cat > "$WORK/folds.yaml" <<YAML
name: folds
data: {root: $WORK/small, input_size: 32}
folds: {k: 3, seed: 2}
models:
  - {backbone: lenet5, epochs: 2, batch_size: 16}
  - {backbone: resnet18, epochs: 1, batch_size: 16}
tta: flips
distributed: {mode: folds}
outputs: {report: false}
YAML
  rm -rf "$WORK/f1" "$WORK/f2"
  "$CANOPY" run "$WORK/folds.yaml" --results "$WORK/f1" --quiet
  "${MPIRUN[@]}" -np 2 "$CANOPY" run "$WORK/folds.yaml" --results "$WORK/f2" > "$WORK/f2.log"
  if cmp -s "$WORK/f1/submission.csv" "$WORK/f2/submission.csv"; then
    echo "submission.csv byte-identical ($(wc -l < "$WORK/f1/submission.csv") lines); jobs per rank: $(grep -c '^\[rank 0\]   .* fold .: training redone' "$WORK/f2.log") on rank 0, $(grep -c '^\[rank 1\]   .* fold .: training redone' "$WORK/f2.log") on rank 1"
  else
    fail "mode: folds submission differs"
  fi
fi

if ! skip 3; then
  echo "== 3. predict --images over 2 ranks"
  mkdir -p "$WORK/chips"
  for copy in 1 2 3 4 5 6 7 8; do for f in "$WORK"/small/test-jpg/*.jpg; do cp "$f" "$WORK/chips/c$copy-$(basename "$f")"; done; done
  "$CANOPY" predict "$WORK/folds.yaml" --results "$WORK/f1" --quiet --images "$WORK/chips" --out "$WORK/one.csv"
  "${MPIRUN[@]}" -np 2 "$CANOPY" predict "$WORK/folds.yaml" --results "$WORK/f1" --quiet --images "$WORK/chips" --out "$WORK/two.csv"
  if cmp -s "$WORK/one.csv" "$WORK/two.csv"; then echo "identical: $(($(wc -l < "$WORK/one.csv") - 1)) chips"; else fail "predict --images differs"; fi
fi

if ! skip 4; then
  echo "== 4. allreduce of ResNet-18's gradients (11.2 M floats, 44.7 MB), 2 ranks"
  echo -n "shared memory (vader): "; "${MPIRUN[@]}" -np 2 "$CANOPY" bench allreduce --rounds 20
  echo -n "TCP loopback:          "; "${MPIRUN[@]}" --mca btl tcp,self -np 2 "$CANOPY" bench allreduce --rounds 20
fi

if ! skip 5; then
  echo "== 5. throughput, mode: data, ResNet-18 at 128 px, batch 32, one epoch of 800 chips (alternating, $ROUNDS each)"
  cat > "$WORK/speed.yaml" <<YAML
name: speed
data: {root: $WORK/large, input_size: 128}
folds: {k: 5, seed: 1, train: [0]}
models:
  - {backbone: resnet18, epochs: 1, batch_size: 32, optimizer: {kind: adam, learning_rate: 0.001}}
distributed: {mode: data}
outputs: {report: false, submission: false}
YAML
  # half.yaml: what one rank computes of a step, run alone with the whole machine's memory and cache
  # to itself: twice its rate is what two ranks would reach with free communication and no contention.
  sed -e 's/batch_size: 32/batch_size: 16/' -e '/^distributed:/d' "$WORK/speed.yaml" > "$WORK/half.yaml"
  rate() { awk -F, 'NR == 2 { print $10 }' "$1/train_log.csv"; }
  for round in $(seq 1 "$ROUNDS"); do
    rm -rf "$WORK"/s[1-6]
    "$CANOPY" run "$WORK/speed.yaml" --results "$WORK/s1" --quiet --threads 2
    "${MPIRUN[@]}" -np 2 "$CANOPY" run "$WORK/speed.yaml" --results "$WORK/s2" --threads 1 > "$WORK/s2.log"
    "${MPIRUN[@]}" -np 2 "$CANOPY" run "$WORK/speed.yaml" --results "$WORK/s3" --threads 1 --set distributed.overlap=false > "$WORK/s3.log"
    "${MPIRUN[@]}" --mca btl tcp,self -np 2 "$CANOPY" run "$WORK/speed.yaml" --results "$WORK/s4" --threads 1 > "$WORK/s4.log"
    "${MPIRUN[@]}" --mca btl tcp,self -np 2 "$CANOPY" run "$WORK/speed.yaml" --results "$WORK/s5" --threads 1 --set distributed.overlap=false > "$WORK/s5.log"
    "$CANOPY" run "$WORK/half.yaml" --results "$WORK/s6" --quiet --threads 1
    echo "round $round: 1 process x 2 threads $(rate "$WORK/s1") images/s; 2 ranks x 1 thread $(rate "$WORK/s2") (overlap), $(rate "$WORK/s3") (no overlap), $(rate "$WORK/s4") (TCP, overlap), $(rate "$WORK/s5") (TCP, no overlap); one rank's share alone (1 process x 1 thread, batch 16) $(rate "$WORK/s6")"
    for run in s2 s3 s4 s5; do grep "gradients summed" "$WORK/$run.log" | sed "s/^/  $run: /"; done
  done
fi

# kill_check MODE FOLD REFERENCE: rank 1 SIGKILLed half a second into its second epoch of FOLD, the
# job's end timed, the same command run again, its submission compared with REFERENCE's.
kill_check() {
  local mode=$1 fold=$2 reference=$3 out="$WORK/k-$1"
  rm -rf "$out"
  "${MPIRUN[@]}" -np 2 "$CANOPY" run "$WORK/kill.yaml" --results "$out" --set distributed.mode="$mode" > "$out.log" 2>&1 &
  local job=$! waited=0 rank1=""
  until grep -q "^\[rank 1\] resnet18 fold $fold epoch 1/" "$out.log" 2>/dev/null; do
    sleep 0.2; waited=$((waited + 1)); [[ $waited -lt 3000 ]] || { fail "rank 1 never reached epoch 2"; kill "$job"; return; }
  done
  # Rank 1: the process whose environment says so.
  for pid in $(pgrep -f " run $WORK/kill.yaml"); do
    if tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=1'; then rank1=$pid; fi
  done
  [[ -n "$rank1" ]] || { fail "rank 1 not found"; kill "$job"; return; }
  sleep 0.5
  local killed_at status=0
  killed_at=$(date +%s%N)
  kill -KILL "$rank1"
  wait "$job" || status=$?
  echo "mode $mode: killed rank 1 (pid $rank1) in epoch 2 of fold $fold; mpirun exited $status after $(( ($(date +%s%N) - killed_at) / 1000000 )) ms: $(grep -m1 'noticed that process rank' "$out.log")"
  "${MPIRUN[@]}" -np 2 "$CANOPY" run "$WORK/kill.yaml" --results "$out" --set distributed.mode="$mode" > "$out-rerun.log" 2>&1
  grep -h "resuming after epoch" "$out-rerun.log" | sed 's/^/  /'
  if cmp -s "$reference/submission.csv" "$out/submission.csv"; then
    echo "  rerun: submission.csv byte-identical to the uninterrupted run's ($reference)"
  else
    fail "mode $mode: the rerun's submission differs from $reference's"
  fi
}

if ! skip 6; then
  echo "== 6. rank 1 killed with SIGKILL mid-epoch, then the same command again"
  cat > "$WORK/kill.yaml" <<YAML
name: kill
data: {root: $WORK/small, input_size: 64}
folds: {k: 2, seed: 3}
models:
  - {backbone: resnet18, epochs: 3, batch_size: 16}
threads: 1
outputs: {report: false}
YAML
  rm -rf "$WORK/k-one" "$WORK/k-data-whole"
  "$CANOPY" run "$WORK/kill.yaml" --results "$WORK/k-one" --quiet
  kill_check folds 1 "$WORK/k-one"
  "${MPIRUN[@]}" -np 2 "$CANOPY" run "$WORK/kill.yaml" --results "$WORK/k-data-whole" --set distributed.mode=data > /dev/null
  kill_check data 0 "$WORK/k-data-whole"
fi
exit $failed
