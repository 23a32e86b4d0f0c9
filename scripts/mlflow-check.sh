#!/usr/bin/env bash
# MLflow tracking against a real `mlflow server` on loopback (issue 22, part 3). Not part of the test
# suite (scripts/test.sh needs neither Python nor a server); run it by hand.
#
# Set-up, once: a Python venv with MLflow, and canopy built in release:
#   python3 -m venv .venv-mlflow && .venv-mlflow/bin/pip install mlflow     (or MLFLOW_VENV=/path/to/venv)
#   swift build -c release --product canopy                                 (or CANOPY=/path/to/canopy)
#
# What it does, in a temporary folder, everything under nice -n 19:
#  1. starts `mlflow server` (SQLite backend, artifact serving on, its default) on 127.0.0.1;
#  2. `canopy run pipelines/quickstart.yaml --set tracking.mlflow=URI`, then reads the MLflow run back
#     with MLflow's own client (scripts/mlflow_check.py compare): parameters = config.json, metric
#     histories = train_log.csv, final metrics = metrics.json, artifacts = the files, byte for byte;
#  3. stops the server and runs the same pipeline into another folder: it must finish with exactly one
#     warning and the same results (mlflow_check.py same: submission.csv and thresholds.json bytes,
#     metrics.json and train_log.csv but for their timings);
#  4. starts the server again on the same database and sends that second folder with `canopy track`,
#     read back the same way.
# Exit status 0 when everything matched. MLFLOW_CHECK_KEEP=1 keeps the temporary folder.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${MLFLOW_VENV:-.venv-mlflow}
CANOPY=${CANOPY:-.build/release/canopy}
PY="$VENV/bin/python"
[ -x "$VENV/bin/mlflow" ] || { echo "no mlflow in $VENV: python3 -m venv $VENV && $VENV/bin/pip install mlflow (or set MLFLOW_VENV)" >&2; exit 2; }
[ -x "$CANOPY" ] || { echo "no $CANOPY: swift build -c release --product canopy (or set CANOPY)" >&2; exit 2; }
WORK=$(mktemp -d /tmp/canopy-mlflow.XXXXXX)
PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URI=http://127.0.0.1:$PORT
# The server shares 2 cores with training at the same low priority: a request may wait its turn.
TIMEOUT=${MLFLOW_CHECK_TIMEOUT:-30}
SERVER=""

start_server() {
    # Its own process group (setsid), so stopping it stops its workers too.
    setsid nice -n 19 "$VENV/bin/mlflow" server --backend-store-uri "sqlite:///$WORK/mlflow.db" \
        --artifacts-destination "$WORK/artifacts" --host 127.0.0.1 --port "$PORT" --workers 1 >> "$WORK/server.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 1 300); do
        if "$PY" -c "import urllib.request; urllib.request.urlopen('$URI/health', timeout=5)" 2>/dev/null; then
            echo "mlflow server $("$VENV/bin/mlflow" --version | awk '{print $NF}') at $URI (pid $SERVER)"
            return 0
        fi
        kill -0 "$SERVER" 2>/dev/null || { tail -20 "$WORK/server.log"; exit 1; }
        sleep 1
    done
    echo "mlflow server did not answer in 300 s" >&2
    exit 1
}

stop_server() {
    if [ -n "$SERVER" ]; then
        kill -- "-$SERVER" 2>/dev/null || true
        wait "$SERVER" 2>/dev/null || true
        SERVER=""
    fi
}

finish() {
    stop_server
    if [ "${MLFLOW_CHECK_KEEP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap finish EXIT

# The run id from canopy's closing line: tracked in MLflow at URI: experiment "NAME", run ID
run_id() { sed -n 's/.*tracked in MLflow at .*, run \([0-9a-f]*\)$/\1/p' "$1" | tail -1; }
warnings() { grep -c '^warning: ' "$1" || true; }
seconds_since() { local ms=$(( ($(date +%s%N) - $1) / 1000000 )); printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100)); }

echo "== 1. a tracked run"
start_server
started=$(date +%s%N)
nice -n 19 "$CANOPY" run pipelines/quickstart.yaml --results "$WORK/tracked" \
    --set tracking.mlflow="$URI" --set tracking.timeout_seconds="$TIMEOUT" > "$WORK/tracked.out" 2> "$WORK/tracked.err"
echo "canopy run: $(seconds_since "$started") s, $(warnings "$WORK/tracked.err") warning(s)"
cat "$WORK/tracked.err"
grep 'tracked in MLflow' "$WORK/tracked.out"
RUN=$(run_id "$WORK/tracked.out")
[ -n "$RUN" ] || { echo "no MLflow run id in canopy's output" >&2; exit 1; }
[ "$(warnings "$WORK/tracked.err")" = 0 ] || { echo "a warning with the server up" >&2; exit 1; }

echo "== 2. read back through MLflow's client"
nice -n 19 "$PY" scripts/mlflow_check.py compare "$URI" "$RUN" "$WORK/tracked"

echo "== 3. the server stopped: the same run into another folder"
stop_server
started=$(date +%s%N)
nice -n 19 "$CANOPY" run pipelines/quickstart.yaml --results "$WORK/offline" \
    --set tracking.mlflow="$URI" --set tracking.timeout_seconds="$TIMEOUT" > "$WORK/offline.out" 2> "$WORK/offline.err"
echo "canopy run: $(seconds_since "$started") s, exit 0, $(warnings "$WORK/offline.err") warning(s):"
cat "$WORK/offline.err"
[ "$(warnings "$WORK/offline.err")" = 1 ] || { echo "expected exactly one warning" >&2; exit 1; }
nice -n 19 "$PY" scripts/mlflow_check.py same "$WORK/tracked" "$WORK/offline"

echo "== 4. the server back: canopy track sends the second folder"
start_server
nice -n 19 "$CANOPY" track "$WORK/offline" --mlflow "$URI" --timeout "$TIMEOUT" > "$WORK/track.out" 2> "$WORK/track.err"
cat "$WORK/track.out" "$WORK/track.err"
RUN2=$(run_id "$WORK/track.out")
[ -n "$RUN2" ] || { echo "no MLflow run id from canopy track" >&2; exit 1; }
nice -n 19 "$PY" scripts/mlflow_check.py compare "$URI" "$RUN2" "$WORK/offline"
echo "== all matched"
