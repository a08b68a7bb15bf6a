#!/usr/bin/env bash
# bench/api.sh [WORKER]: the local API server (runpod-worker
# handlers/echo.lua --rp_serve_api) under wrk: keep-alive, loopback, POST
# /runsync with a small job (bench/api_runsync.lua), SECS (10) seconds per
# run, with 1 and with CONNS (32) connections; --latency gives p50/p99.
# Also the server's idle RSS (VmRSS) before and after the load. The server
# logs at WARN so that per-job INFO lines do not dominate. bench/RESULTS.md
# records the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
WORKER=${1:-bin/runpod-worker}
THREADS=${THREADS:-2}
CONNS=${CONNS:-32}
SECS=${SECS:-10}
PORT=${PORT:-$(( 20000 + RANDOM % 30000 ))}
# shellcheck source=bench/lib.sh
. bench/lib.sh
start_api
rss() { awk '/^VmRSS/ {print $2 " kB"}' "/proc/$pid/status"; }
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "== idle RSS after start: $(rss)"
for c in 1 "$CONNS"; do
  t=$(( c < THREADS ? c : THREADS ))
  echo "== POST /runsync: wrk -t$t -c$c -d${SECS}s --latency -s bench/api_runsync.lua"
  wrk -t"$t" -c"$c" -d"${SECS}s" --latency -s bench/api_runsync.lua "$base"
done
sleep 1
echo "== idle RSS after the load: $(rss)"
curl -s "$base/health"
echo
