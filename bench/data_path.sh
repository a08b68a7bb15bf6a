#!/usr/bin/env bash
# bench/data_path.sh: a large job's bytes through serverless mode, against
# the protocol's floor, in one run (bin/runpod-emulator on loopback):
#  - bench/bare_client (job-take + job-done with plain libcurl, no Lua,
#    posting {"output": <the job>}) and runpod-worker with the echo
#    handler, concurrency 1, on BIG_JOBS jobs whose input holds a 5 MB
#    string: jobs/s, CPU per job and peak RSS of each;
#  - the same pair on SMALL_JOBS jobs whose input is {"x": 1}: the cost of
#    a job's round trip itself (BIG_JOBS=0 or SMALL_JOBS=0 skips a pair,
#    FLOATS=0 the next part);
#  - JSON encode of an embeddings document (600 x 768 floats):
#    runpod.json.encode against Debian's python3 json.dumps, MB/s, on the
#    very same document (bench/json_floats.lua writes it, both encode it).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
WORKER=${WORKER:-bin/runpod-worker}
EMULATOR=${EMULATOR:-bin/runpod-emulator}
BIG_JOBS=${BIG_JOBS:-40}
BIG_BYTES=${BIG_BYTES:-5000000}
SMALL_JOBS=${SMALL_JOBS:-20000}
# The runpod module for bench/json_floats.lua: this tree's, unless set
# (LUA_CPATH=<another build>/lib/?.so;; measures that build's codec).
export LUA_PATH=${LUA_PATH:-"$PWD/lua/?.lua;$PWD/lua/?/init.lua;;"}
export LUA_CPATH=${LUA_CPATH:-"$PWD/$BUILD/lib/?.so;;"}

tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT

. bench/lib.sh
export RUNPOD_POD_ID=bench-worker

python3 -c "import sys; sys.stdout.write('{\"image\": \"' + 'QUJD' * ($BIG_BYTES // 4) + '\"}')" \
  >"$tmp/input.json"
submit() { # submit N: N jobs whose input is $tmp/input.json
  { printf '{"input": '; cat "$tmp/input.json"; printf '}'; } >"$tmp/job.json"
  curl -s -X POST -H 'Content-Type: application/json' -H 'Authorization: Bearer bench-key' \
    --data-binary @"$tmp/job.json" "$base/_emulator/jobs?count=$1" >/dev/null
}
hwm() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }

# pair N: bare_client on N jobs, then runpod-worker (handlers/echo.lua,
# concurrency 1) on N more. Both are timed by the same watcher
# (watch_start), from the first job it sees taken to the last one done.
# bare_client reports its own CPU time and peak RSS (its start-up is a few
# ms over N jobs). The worker is started and idle first; its CPU time is
# read from just before the jobs are queued until the last is done, so
# that neither its start nor jobs it ran before the first reading count.
pair() {
  local n=$1 w c0 c1 secs peak
  start_emulator bench bench-key
  watch_start "$n"
  submit "$n"
  "$BUILD/bench/bare_client" "$n" | sed 's/ seconds .* cpu_ms_per_job/ cpu_ms_per_job/' \
    >"$tmp/bare.out"
  watch_seconds
  echo "bare_client jobs $n seconds $secs jobs_per_s $(calc "$n / $secs" 1)" \
    "$(sed 's/.* cpu_ms_per_job/cpu_ms_per_job/' "$tmp/bare.out")"
  RUNPOD_LOG_LEVEL=ERROR "$WORKER" handlers/echo.lua &
  w=$!
  sleep 0.5                         # started, polling an empty queue
  watch_start $((n * 2))
  c0=$(cpu_ms $w)
  submit "$n"
  watch_seconds
  c1=$(cpu_ms $w)
  peak=$(hwm $w)
  kill -TERM $w; wait $w || true
  echo "runpod_worker jobs $n seconds $secs jobs_per_s $(calc "$n / $secs" 1)" \
    "cpu_ms_per_job $(calc "($c1 - $c0) / $n" 3) maxrss_kib $peak"
  stop_emulator
}

if [ "$BIG_JOBS" -gt 0 ]; then
  echo "== 5 MB echo: protocol floor vs runpod-worker (concurrency 1, $BIG_JOBS jobs of $BIG_BYTES bytes)"
  pair "$BIG_JOBS"
fi

if [ "$SMALL_JOBS" -gt 0 ]; then
  echo "== small echo: protocol floor vs runpod-worker (concurrency 1, $SMALL_JOBS jobs of {\"x\": 1})"
  printf '{"x": 1}' >"$tmp/input.json"
  pair "$SMALL_JOBS"
fi

[ "${FLOATS:-1}" = 0 ] && exit 0
echo "== JSON encode, 600 x 768 floats: runpod.json.encode vs python3 json.dumps"
lua5.4 bench/json_floats.lua "$tmp/floats.json"
python3 - "$tmp/floats.json" <<'PY'
import json, sys, time
doc = json.load(open(sys.argv[1]))
n, best = 0, None
for _ in range(5):
    t0 = time.perf_counter()
    s = json.dumps(doc)
    dt = time.perf_counter() - t0
    best = dt if best is None or dt < best else best
print("python3_json_dumps bytes %d best_ms %.1f mb_per_s %.1f" % (len(s), best * 1e3, len(s) / best / 1e6))
PY
