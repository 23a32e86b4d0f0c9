#!/usr/bin/env bash
# Disk-full and read-only test: results on a small tmpfs, which is then filled up (and later
# remounted read-only) while canopy has files to write. Each time canopy must stop with one clear
# error naming the file and the system's reason, and every file written before must be unchanged;
# once space is back, the same command finishes the run.
#   scripts/disk-full-test.sh            (mounts a tmpfs: needs root, or sudo)
set -euo pipefail
cd "$(dirname "$0")/.."
sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
canopy=$PWD/.build/release/canopy
swift build -c release --product canopy >/dev/null

mnt=$(mktemp -d /tmp/canopy-disk-full.XXXX)
pipeline=$(mktemp --suffix=.yaml)
cleanup() { $sudo umount "$mnt" 2>/dev/null || true; rmdir "$mnt"; rm -f "$pipeline"; }
trap cleanup EXIT
$sudo mount -t tmpfs -o size=24m tmpfs "$mnt"
$sudo chmod 777 "$mnt"
results=$mnt/results
cat > "$pipeline" <<YAML
name: disk-full
data: {root: datasets/planet-sample, input_size: 32}
folds: {k: 2, seed: 3}
models:
  - {backbone: lenet5, epochs: 2, batch_size: 5}
  - {name: lenet5-b, backbone: lenet5, epochs: 1, batch_size: 5, seed: 9}
ensemble: {method: ridge}
YAML

unchanged() { # $1: an earlier snapshot; $2: what to say when it holds
  [ "$(snapshot)" = "$1" ] || { echo "FAIL: files changed:"; diff <(echo "$1") <(snapshot); exit 1; }
  echo "   $2"
}
partly_written() { # after a failure part way: the file the error names kept its content, every file
  # reads whole, and no temporary file is left
  local failed; failed=$(sed -E 's/^Error: (.*): cannot write: .*/\1/' <<<"$last_error")
  local relative=./${failed#"$results"/}
  [ "$(grep -F "  $relative" <<<"$1")" = "$(snapshot | grep -F "  $relative")" ] || { echo "FAIL: $relative changed"; exit 1; }
  python3 scripts/check-results.py "$results" >/dev/null
  [ -z "$(find "$results" -name '*.tmp-*')" ] || { echo "FAIL: temporary files left"; exit 1; }
  echo "   $relative kept its content; the files rewritten before it read whole; no temporary file left"
}
snapshot() { (cd "$results" && find . -type f ! -name stages.json -print0 | sort -z | xargs -0 sha256sum); }
fill() { # leaves about $1 KB free
  rm -f "$mnt/filler"
  local free; free=$(df -k --output=avail "$mnt" | tail -1)
  dd if=/dev/zero of="$mnt/filler" bs=1K count=$((free - $1)) status=none 2>/dev/null || true
}
expect_failure() { # what, then the command: must fail with an error naming a file under $results
  local what=$1; shift
  local output status=0
  output=$("$@" 2>&1) || status=$?
  [ "$status" -ne 0 ] || { echo "FAIL: $what: canopy succeeded"; exit 1; }
  local error; error=$(grep "^Error: " <<<"$output" | tail -1)
  grep -q "$results/" <<<"$error" || { echo "FAIL: $what: the error does not name the file: $output"; exit 1; }
  echo "  $what: exit $status, \"$error\""
  last_error=$error
}

echo "1. a whole run on a 24 MB tmpfs"
$canopy run "$pipeline" --results "$results" --quiet
before=$(snapshot)
echo "   $(wc -l <<<"$before") files written"

echo "2. disk full at once: a new decision rule, and not a byte free"
fill 0
expect_failure "disk full, new decision rule" $canopy run "$pipeline" --results "$results" --quiet --set thresholds.method=expected_f2
unchanged "$before" "every earlier file unchanged"

echo "3. disk full part way: 8 KB free, so the run rewrites some files before one does not fit"
fill 8
expect_failure "disk full, new decision rule" $canopy run "$pipeline" --results "$results" --quiet --set thresholds.method=expected_f2
partly_written "$before"

echo "4. disk full while training: the second model's fold 1 starts over"
rm -rf "$results/models/lenet5-b/fold-1"
before_training=$(snapshot)
fill 8
expect_failure "disk full, training" $canopy run "$pipeline" --results "$results" --quiet
partly_written "$before_training"

echo "5. read-only file system"
rm -f "$mnt/filler"
before_read_only=$(snapshot)
$sudo mount -o remount,ro "$mnt"
expect_failure "read-only" $canopy run "$pipeline" --results "$results" --quiet
unchanged "$before_read_only" "every earlier file unchanged"
$sudo mount -o remount,rw "$mnt"

echo "6. space back: the first command finishes the run"
$canopy run "$pipeline" --results "$results" --quiet
python3 scripts/check-results.py "$results"
# Training records carry wall-clock seconds (train_log.csv, fold.json, resume.safetensors's
# history, metrics.json): those differ; weights, predictions, thresholds, submission and report do not.
timed='(train_log\.csv|fold\.json|resume\.safetensors|metrics\.json)$'
diff <(grep -Ev "$timed" <<<"$before") <(snapshot | grep -Ev "$timed") \
  || { echo "FAIL: the finished run differs from the first"; exit 1; }
echo "   identical to the first whole run's, file for file ($(grep -Evc "$timed" <<<"$before") files; the $(grep -Ec "$timed" <<<"$before") holding training times aside)"
echo "disk-full test passed"
