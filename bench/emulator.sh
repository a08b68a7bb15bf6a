#!/usr/bin/env bash
# bench/emulator.sh [EMULATOR]: request rates of bin/runpod-emulator with wrk
# (keep-alive, loopback, 10 s each):
#   1. GET /v2/emulator/health
#   2. the worker loop: job-take then job-done on pre-submitted jobs,
#      alternating per response (bench/emulator_take_done.lua)
# Prints wrk's reports; bench/RESULTS.md records the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
EMU=${1:-bin/runpod-emulator}
THREADS=${THREADS:-2}
CONNS=${CONNS:-32}
SECS=${SECS:-10}
# The store holds at most RP_JOBSTORE_MAX_JOBS (100000) jobs: the take+done
# run is kept short enough (TD_SECS) that the queue never runs dry, which
# the final /health (inQueue > 0) shows.
TD_SECS=${TD_SECS:-4}
out=$(mktemp)
"$EMU" --port 0 --take-hold-ms 0 --retain-max 10000 >"$out" 2>/dev/null &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$out"' EXIT
for _ in $(seq 50); do grep -q '^listening' "$out" && break; sleep 0.1; done
base=$(sed -n 's/^listening on //p' "$out")
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "== GET /health: wrk -t$THREADS -c$CONNS -d${SECS}s"
wrk -t"$THREADS" -c"$CONNS" -d"${SECS}s" "$base/v2/emulator/health"
curl -s -o /dev/null -X POST -d '{"input": {"prompt": "hello"}}' \
  "$base/_emulator/jobs?count=99000"
echo "== job-take + job-done: wrk -t$THREADS -c$CONNS -d${TD_SECS}s -s bench/emulator_take_done.lua"
wrk -t"$THREADS" -c"$CONNS" -d"${TD_SECS}s" -s bench/emulator_take_done.lua "$base"
curl -s "$base/v2/emulator/health"
echo
