#!/usr/bin/env bash
# The test suite on a fresh machine: install what is missing, then XCTest (Swift Testing disabled,
# so the last line counts every test).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift test --disable-swift-testing "$@"
