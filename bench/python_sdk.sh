#!/usr/bin/env bash
# bench/python_sdk.sh: small echo jobs ({"x": 1}) at concurrency 1 through
# bin/runpod-emulator, RunPod's Python worker (runpod-python's
# runpod.serverless.start with an echo handler) against runpod-worker
# (handlers/echo.lua), timed by the same watcher (bench/watch_completed.py):
# jobs/s, CPU per job and RSS of each.
#
# runpod-python is not packaged for Debian and cannot be installed here:
# set RUNPOD_PYTHON to a folder holding an importable `runpod` package (a
# checkout of github.com/runpod/runpod-python, with any module it imports
# that is missing on PYTHONPATH too); without it the script says so and
# stops. PY_JOBS jobs for Python (20: it does about one a second),
# LUA_JOBS for runpod-worker (20000).
set -euo pipefail
cd "$(dirname "$0")/.."
WORKER=${WORKER:-bin/runpod-worker}
EMULATOR=${EMULATOR:-bin/runpod-emulator}
PYTHON=${PYTHON:-python3}
PY_JOBS=${PY_JOBS:-20}
LUA_JOBS=${LUA_JOBS:-20000}
if [ -z "${RUNPOD_PYTHON:-}" ]; then
  echo "python_sdk: RUNPOD_PYTHON is not set (a folder with runpod-python's runpod package): skipped"
  exit 0
fi

tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT
. bench/lib.sh
export RUNPOD_POD_ID=bench-worker
cat >"$tmp/echo.py" <<'PY'
import runpod

def handler(job):
    return {"echo": job["input"]}

runpod.serverless.start({"handler": handler})
PY

# run NAME N COMMAND...: starts the worker, lets it settle idle for 3 s,
# queues N jobs and reports when the last is done.
run() {
  local name=$1 n=$2 w c0 c1
  shift 2
  start_emulator bench bench-key
  "$@" >"$tmp/$name.log" 2>&1 &
  w=$!
  sleep 3
  watch_start "$n"
  c0=$(cpu_ms $w)
  curl -s -X POST -H 'Authorization: Bearer bench-key' --data-binary '{"input": {"x": 1}}' \
    "$base/_emulator/jobs?count=$n" >/dev/null
  watch_seconds
  c1=$(cpu_ms $w)
  echo "$name jobs $n seconds $secs jobs_per_s $(calc "$n / $secs" 2)" \
    "cpu_ms_per_job $(calc "($c1 - $c0) / $n" 3) rss_kib $(rss $w)"
  kill -TERM $w; wait $w || true
  stop_emulator
}

echo "== small echo at concurrency 1: runpod-python vs runpod-worker"
RUNPOD_DEBUG_LEVEL=ERROR PYTHONPATH="$RUNPOD_PYTHON" run runpod_python "$PY_JOBS" \
  "$PYTHON" "$tmp/echo.py"
RUNPOD_LOG_LEVEL=ERROR run runpod_worker "$LUA_JOBS" "$WORKER" handlers/echo.lua
