# bench/lib.sh: helpers the serverless benchmarks source (bench/serverless.sh,
# bench/soak.sh, bench/data_path.sh, bench/python_sdk.sh; the emulator's
# expect $EMULATOR and $tmp, a scratch
# directory) and the local API server's (bench/api.sh, bench/api_floor.sh).

# start_emulator ENDPOINT KEY [FLAG...]: bin/runpod-emulator on a free
# loopback port with its request log off; sets $emu (pid) and $base (its
# URL) and exports the RUNPOD_WEBHOOK_* environment a worker needs.
start_emulator() {
  local endpoint=$1 key=$2
  shift 2
  "$EMULATOR" --port 0 --endpoint "$endpoint" --api-key "$key" --take-hold-ms 200 \
    --log-max 0 "$@" >"$tmp/emu.out" 2>&1 &
  emu=$!
  for _ in $(seq 100); do
    grep -q RUNPOD_WEBHOOK_PING "$tmp/emu.out" 2>/dev/null && break
    sleep 0.05
  done
  eval "$(grep '^export' "$tmp/emu.out")"
  # The built-in fitness checks connect to 8.8.8.8:53 by default; the
  # benchmarks measure the job loop and reach nothing off this machine.
  export RUNPOD_SKIP_AUTO_SYSTEM_CHECKS=true
  base=$(sed -n 's/^listening on //p' "$tmp/emu.out")
}
stop_emulator() { kill "$emu"; wait "$emu" 2>/dev/null || true; }

# completed: the jobs the emulator of endpoint "bench" (key bench-key)
# counts as completed.
completed() {
  curl -s -H 'Authorization: Bearer bench-key' "$base/v2/bench/health" |
    sed 's/.*"completed":\([0-9]*\).*/\1/'
}

# watch_start N: bench/watch_completed.py against $base in the background,
# until the emulator counts N completed jobs; returns once it is watching.
# watch_seconds: waits for it and sets the seconds from the first job it
# saw taken to the Nth completed (the same clock for every program timed)
# into $secs.
watch_start() {
  python3 bench/watch_completed.py "$base" "$1" >"$tmp/watch.out" &
  watch=$!
  for _ in $(seq 1000); do
    grep -q ready "$tmp/watch.out" 2>/dev/null && return 0
    sleep 0.01
  done
  echo "the job watcher did not start" >&2
  return 1
}
watch_seconds() {
  wait "$watch"
  secs=$(sed -n 's/^seconds //p' "$tmp/watch.out")
}

# wait_completed N: until the emulator counts N completed jobs (600 s max)
wait_completed() {
  watch_start "$1"
  wait "$watch"
}

# cpu_ms PID: user + system CPU time of the process so far, in ms
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.0f", ($14 + $15) * 1000 / hz }' "/proc/$1/stat"; }
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.${2:-0}f\", $1 }"; }

# start_api [PREFIX...]: $WORKER handlers/echo.lua --rp_serve_api on $PORT,
# logging at WARN, run under PREFIX (taskset, say); sets $pid and $base,
# stops the server on exit, and waits until /health reports it ready.
start_api() {
  base=http://127.0.0.1:$PORT
  "$@" "$WORKER" handlers/echo.lua --rp_serve_api --rp_api_port "$PORT" \
    --rp_log_level WARN >/dev/null 2>&1 &
  pid=$!
  trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
  for _ in $(seq 100); do
    curl -s "$base/health" | grep -q '"ready":1' && break
    sleep 0.1
  done
}
