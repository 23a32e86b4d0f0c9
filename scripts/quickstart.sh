#!/usr/bin/env bash
# The main job on a fresh machine: install what is missing, build in release, run on the sample.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release --product canopy
.build/release/canopy run pipelines/quickstart.yaml "$@"
