#!/usr/bin/env bash
# bench/api_floor.sh [WORKER]: POST /runsync of the echo handler against
# the same server's GET /health (its floor: the HTTP server alone), with
# wrk -t1 -cCONNS (8), the server pinned to CPU 0 and wrk to CPU 1 when
# there are two, SECS (5) seconds each, /health first. Besides the rates,
# the server's CPU time (user + system, /proc/PID/stat) per request, which
# other load on the machine disturbs less. bench/RESULTS.md records the
# figures.
set -euo pipefail
cd "$(dirname "$0")/.."
WORKER=${1:-bin/runpod-worker}
CONNS=${CONNS:-8}
SECS=${SECS:-5}
PORT=${PORT:-$(( 20000 + RANDOM % 30000 ))}
pin_server=() pin_load=()
if [ "$(nproc)" -ge 2 ]; then
  pin_server=(taskset -c 0) pin_load=(taskset -c 1)
fi
# shellcheck source=bench/lib.sh
. bench/lib.sh
start_api "${pin_server[@]}"
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load $(cut -d' ' -f1-3 /proc/loadavg)"
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
# run NAME WRK-ARGS...: prints wrk's output to stderr, then "RATE CPU_US".
run() {
  local before out
  before=$(ticks)
  out=$("${pin_load[@]}" wrk -t1 -c"$CONNS" -d"${SECS}s" "$@")
  echo "$out" >&2
  awk -v t0="$before" -v t1="$(ticks)" -v hz="$hz" '
    /requests in/ {n = $1}
    /^Requests\/sec/ {r = $2}
    END {printf "%d %.1f\n", r, (t1 - t0) * 1e6 / hz / n}' <<<"$out"
}
echo "== GET /health: wrk -t1 -c$CONNS -d${SECS}s"
read -r health health_cpu < <(run "$base/health")
echo "== POST /runsync: wrk -t1 -c$CONNS -d${SECS}s -s bench/api_runsync.lua"
read -r runsync runsync_cpu < <(run -s bench/api_runsync.lua "$base")
echo "health_rps $health runsync_rps $runsync share $(awk -v a="$runsync" -v b="$health" 'BEGIN {printf "%.1f%%", 100 * a / b}')"
echo "cpu_us_per_request health $health_cpu runsync $runsync_cpu"
