#!/usr/bin/env bash
# bench/api_floor.sh [WORKER]: POST /runsync of the echo handler against
# the same server's GET /health (its floor: the HTTP server alone), with
# wrk -t1 -cCONNS (8), the server pinned to CPU 0 and wrk to CPU 1 when
# there are two, SECS (5) seconds each, /health first. Besides the rates,
# the server's CPU time (user + system, /proc/PID/stat) per request, which
# other load on the machine disturbs less, and, when perf is installed,
# the server's context switches per request (perf stat over the middle
# SECS - 2 seconds of each run): the thread hops a request costs, which
# other load hardly changes. bench/RESULTS.md records the figures.
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
tmp_cs=$(mktemp)
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$tmp_cs"' EXIT
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load $(cut -d' ' -f1-3 /proc/loadavg)"
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
window=$(( SECS > 3 ? SECS - 2 : 1 ))
# switches: the server's context switches over the window (perf stat,
# which follows the connection threads that exist when it starts), or -1.
switches() {
  if ! command -v perf >/dev/null; then echo -1; return; fi
  sleep 1
  perf stat -x, -e context-switches -p "$pid" -- sleep "$window" 2>&1 >/dev/null |
    awk -F, '/context-switches/ {n = $1} END {print (n == "" ? -1 : n)}'
}
# run NAME WRK-ARGS...: prints wrk's output to stderr, then "RATE CPU_US
# SWITCHES_PER_REQUEST" (-1 without perf).
run() {
  local before out cs counter
  before=$(ticks)
  switches >"$tmp_cs" &
  counter=$!
  out=$("${pin_load[@]}" wrk -t1 -c"$CONNS" -d"${SECS}s" "$@")
  wait "$counter"
  cs=$(cat "$tmp_cs")
  echo "$out" >&2
  awk -v t0="$before" -v t1="$(ticks)" -v hz="$hz" -v cs="$cs" -v w="$window" '
    /requests in/ {n = $1}
    /^Requests\/sec/ {r = $2}
    END {printf "%d %.1f %.2f\n", r, (t1 - t0) * 1e6 / hz / n,
         cs < 0 ? -1 : cs / (r * w)}' <<<"$out"
}
echo "== GET /health: wrk -t1 -c$CONNS -d${SECS}s"
read -r health health_cpu health_cs < <(run "$base/health")
echo "== POST /runsync: wrk -t1 -c$CONNS -d${SECS}s -s bench/api_runsync.lua"
read -r runsync runsync_cpu runsync_cs < <(run -s bench/api_runsync.lua "$base")
echo "health_rps $health runsync_rps $runsync share $(awk -v a="$runsync" -v b="$health" 'BEGIN {printf "%.1f%%", 100 * a / b}')"
echo "cpu_us_per_request health $health_cpu runsync $runsync_cpu"
echo "context_switches_per_request health $health_cs runsync $runsync_cs"
