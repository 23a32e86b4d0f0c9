#!/usr/bin/env bash
# libFuzzer (with AddressSanitizer) on Canopy's parsers of outside input.
#   scripts/fuzz.sh --list             names the targets
#   scripts/fuzz.sh TARGET SECONDS     builds TARGET and fuzzes it for SECONDS
#   scripts/fuzz.sh TARGET --replay F  runs one input (a crash file, say) through the target
#   scripts/fuzz.sh --all SECONDS [TARGET...]
#                                      fuzzes every target (or those named) in turn, SECONDS each, logs
#                                      in fuzz-logs/, and prints a table: executions, corpus, findings
# The corpus grows in fuzz-corpus/TARGET (git-ignored), seeded from the sample chips and the test
# fixtures; crashes land in fuzz-crashes/TARGET. See docs/FUZZING.md.
set -euo pipefail
cd "$(dirname "$0")/.."
targets=(FuzzJPEG FuzzPNG FuzzTIFF FuzzLabelCSV FuzzSampleSubmission FuzzFolds FuzzPipeline FuzzSafeTensors FuzzTorchCheckpoint)
if [ "${1:-}" = "--list" ] || [ $# -eq 0 ]; then
  printf '%s\n' "${targets[@]}"
  [ $# -eq 0 ] && { echo "usage: scripts/fuzz.sh TARGET SECONDS | --list" >&2; exit 2; }
  exit 0
fi
if [ "$1" = "--all" ]; then
  seconds=${2:?usage: scripts/fuzz.sh --all SECONDS [TARGET...]}
  shift 2
  [ $# -gt 0 ] && targets=("$@")
  mkdir -p fuzz-logs
  status=0
  printf '| target | seconds | executions | corpus (units) | crashes, hangs, OOMs |\n| --- | --- | --- | --- | --- |\n'
  for target in "${targets[@]}"; do
    log=fuzz-logs/$target.log
    start=$(date +%s)
    "$0" "$target" "$seconds" >"$log" 2>&1 || status=1
    elapsed=$(( $(date +%s) - start ))
    runs=$(sed -n 's/^stat::number_of_executed_units: //p' "$log" | tail -1)
    corpus=$(grep -oE 'corp: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
    findings=$(grep -cE '^==[0-9]+==ERROR|Test unit written to|SUMMARY: libFuzzer' "$log" || true)
    printf '| %s | %s | %s | %s | %s |\n' "$target" "$elapsed" "${runs:-?}" "${corpus:-?}" "$findings"
  done
  exit $status
fi
target=$1
case " ${targets[*]} " in *" $target "*) ;; *) echo "unknown target $target (scripts/fuzz.sh --list)" >&2; exit 2;; esac

scripts/install-deps.sh
scratch=.build-fuzz
swift build -c release --product "$target" --scratch-path "$scratch" \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING -Xswiftc -g \
  -Xcc -fsanitize=fuzzer-no-link,address -Xcc -g >&2
binary="$scratch/release/$target"

if [ "${2:-}" = "--replay" ]; then
  shift 2
  exec "$binary" -runs=1 "$@"
fi
seconds=${2:?usage: scripts/fuzz.sh TARGET SECONDS}

corpus=fuzz-corpus/$target
crashes=fuzz-crashes/$target
mkdir -p "$corpus" "$crashes"
if [ -z "$(ls -A "$corpus")" ]; then
  case $target in
    FuzzJPEG) seeds=$(find datasets/planet-sample/train-jpg Tests/ImageIOTests/Fixtures -name '*.jpg');;
    FuzzPNG) seeds=$(find Tests/ImageIOTests/Fixtures -name '*.png');;
    FuzzTIFF) seeds=$(find datasets/planet-sample/train-tif-v2 -name 'train_1?.tif'; find Tests/ImageIOTests/Fixtures -name '*.tif');;
    FuzzLabelCSV) seeds="datasets/planet-sample/train_v2.csv";;
    FuzzSampleSubmission) seeds="datasets/planet-sample/sample_submission_v2.csv";;
    FuzzFolds) seeds=scripts/fuzz-seeds/folds.csv;;
    FuzzPipeline) seeds=$(find pipelines -name '*.yaml');;
    FuzzSafeTensors) seeds=$(find Tests/NNTests/Fixtures -name '*.safetensors' | head -20);;
    FuzzTorchCheckpoint) seeds=$(find Tests/NNTests/Fixtures/torch -name '*.pth');;
  esac
  for seed in $seeds; do cp "$seed" "$corpus/$(basename "$seed")"; done
fi
# -rss_limit_mb and -timeout turn memory blow-ups and hangs into reported failures.
exec "$binary" "$corpus" -artifact_prefix="$crashes/" -max_total_time="$seconds" -timeout=10 \
  -rss_limit_mb=2048 -max_len=300000 -print_final_stats=1
