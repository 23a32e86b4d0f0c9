#!/usr/bin/env bash
# The test suite under a sanitizer, in its own build folder.
#   scripts/sanitize.sh address [FILTER]   AddressSanitizer + LeakSanitizer (.build-asan)
#   scripts/sanitize.sh thread  [FILTER]   ThreadSanitizer (.build-tsan)
# FILTER is passed to `swift test --filter` (e.g. "ImageIOTests", "TensorTests|NNTests").
#
# LeakSanitizer also reports what XCTest and Foundation (Process, expectations) keep for the life
# of the process; the run passes when `swift test` exits 0, every test passes, no other sanitizer error appears, and no
# leak was allocated from Canopy's own code (a frame under Sources/ or Tests/ other than the test
# harness's Process use is printed for review).
set -uo pipefail
cd "$(dirname "$0")/.."
kind=${1:?usage: scripts/sanitize.sh address|thread [FILTER]}
filter=${2:-}
case $kind in
  address) scratch=.build-asan;;
  thread) scratch=.build-tsan;;
  *) echo "unknown sanitizer $kind (address or thread)" >&2; exit 2;;
esac
scripts/install-deps.sh
log=$(mktemp)
# Leak reports are judged below (XCTest's own are expected), not by LeakSanitizer's exit code, so
# that the exit status left to judge is the tests' own.
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}exitcode=0"
args=(--disable-swift-testing --sanitize="$kind" --scratch-path "$scratch")
[ -n "$filter" ] && args+=(--filter "$filter")
swift test "${args[@]}" > "$log" 2>&1
status=$?
grep -E "Executed .* tests|error:|WARNING: ThreadSanitizer|ERROR: AddressSanitizer" "$log" | tail -20

failed=0
# swift test's own status first: a failure, a crash (signal) or a build error all end here.
[ $status -ne 0 ] && { echo "sanitize: swift test exited $status"; failed=1; }
grep -q "with [1-9][0-9]* failures" "$log" && { echo "sanitize: test failures"; failed=1; }
grep -q "ERROR: AddressSanitizer" "$log" && { echo "sanitize: AddressSanitizer error"; failed=1; }
grep -q "WARNING: ThreadSanitizer" "$log" && { echo "sanitize: ThreadSanitizer report"; failed=1; }
grep -q "Executed [0-9]* tests" "$log" || { echo "sanitize: no test ran"; failed=1; }
# Leak reports: a block per leak; ours are those with a frame in Sources/.
ours=$(awk '/leak of/{if(block!="")print block; block=$0; next} /^$/{if(block!="")print block; block=""; next} {if(block!="")block=block"\n"$0} END{if(block!="")print block}' "$log" \
  | awk 'BEGIN{RS="Direct leak|Indirect leak"} /\/Sources\//{print "----" $0}')
leaks=$(grep -c "leak of" "$log")
if [ -n "$ours" ]; then
  echo "sanitize: leaks allocated from Canopy's code:"; echo "$ours"; failed=1
else
  echo "sanitize: $leaks leak report(s), none allocated from Canopy's code (XCTest/Foundation keep those)"
fi
echo "full log: $log"
exit $failed
