#!/usr/bin/env bash
# bench/serverless.sh: serverless mode through bin/runpod-emulator on
# loopback. Prints, in one run:
#  - the protocol's loopback limit (bench/bare_client: job-take + job-done
#    with plain libcurl, no Lua) and runpod-worker with the echo handler,
#    concurrency 1, on the same number of jobs;
#  - cold start: process start to the first job-take request;
#  - RSS idle and after N jobs, with and without refresh_worker on every job;
#  - 64 jobs in flight that each sleep 50 ms (ideal: 1,280 jobs/s);
#  - 64 jobs in flight that each wait on an HTTP request a local server
#    answers after 50 ms (spec/fake_inference's /slow; ideal: 1,280 jobs/s);
#  - how long a delivered job stays in the ping's job list
#    (bench/heartbeat_lag.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
WORKER=${WORKER:-bin/runpod-worker}
EMULATOR=${EMULATOR:-bin/runpod-emulator}
FAKE=${FAKE:-$BUILD/spec/fake_inference}
JOBS=${JOBS:-20000}
RSS_JOBS=${RSS_JOBS:-100000}

tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT

. bench/lib.sh
export RUNPOD_POD_ID=bench-worker

submit() { # submit N [input-json]
  curl -s -X POST -H 'Content-Type: application/json' -H 'Authorization: Bearer bench-key' \
    --data "{\"input\": ${2:-{\"x\": 1\}}}" "$base/_emulator/jobs?count=$1" >/dev/null
}

echo "== protocol limit vs runpod-worker (echo, concurrency 1, $JOBS jobs)"
start_emulator bench bench-key
submit "$JOBS"
"$BUILD/bench/bare_client" "$JOBS"
submit "$JOBS"
t0=$(now)
RUNPOD_LOG_LEVEL=ERROR "$WORKER" handlers/echo.lua &
w=$!
wait_completed $((JOBS * 2))
t1=$(now)
kill -TERM $w; wait $w || true
echo "runpod_worker jobs $JOBS seconds $(calc "$t1 - $t0" 3) jobs_per_s $(calc "$JOBS / ($t1 - $t0)")"
stop_emulator

echo "== cold start: exec to first job-take"
start_emulator bench bench-key
for i in 1 2 3 4 5; do
  RUNPOD_LOG_LEVEL=INFO "$WORKER" handlers/echo.lua >"$tmp/cold.$i" 2>&1 &
  w=$!
  sleep 0.3
  kill -TERM $w; wait $w || true
  sed -n 's/.*Ready: first job-take \([0-9.]*\) ms after start.*/ready_ms \1/p' "$tmp/cold.$i"
done
stop_emulator

for refresh in 0 1; do
  echo "== RSS (KiB) over $RSS_JOBS jobs, refresh on every job: $refresh"
  start_emulator bench bench-key
  PROBE_REFRESH=$refresh RUNPOD_LOG_LEVEL=ERROR "$WORKER" spec/fixtures/state_probe.lua &
  w=$!
  sleep 0.5
  idle=$(rss $w)
  submit "$RSS_JOBS"
  t0=$(now)
  peak=$idle
  while [ "$(completed)" -lt "$RSS_JOBS" ]; do
    r=$(rss $w); [ "$r" -gt "$peak" ] && peak=$r
    sleep 0.5
  done
  t1=$(now)
  end=$(rss $w)
  kill -TERM $w; wait $w || true
  echo "idle_kib $idle peak_kib $peak end_kib $end growth_kib $((end - idle)) jobs_per_s $(calc "$RSS_JOBS / ($t1 - $t0)")"
  stop_emulator
done

echo "== 64 in flight, each sleeping 50 ms (ideal 1280 jobs/s)"
start_emulator bench bench-key
submit 6400 '{"seconds": 0.05}'
t0=$(now)
SLEEPY_CONCURRENCY=64 RUNPOD_LOG_LEVEL=ERROR "$WORKER" spec/fixtures/sleepy.lua &
w=$!
wait_completed 6400
t1=$(now)
kill -TERM $w; wait $w || true
echo "sleepy jobs 6400 seconds $(calc "$t1 - $t0" 3) jobs_per_s $(calc "6400 / ($t1 - $t0)")"
stop_emulator

echo "== 64 in flight, each waiting 50 ms on HTTP (ideal 1280 jobs/s)"
"$FAKE" 0 >"$tmp/fake.out" &
fake=$!
for _ in $(seq 100); do
  grep -q '^listening on' "$tmp/fake.out" 2>/dev/null && break
  sleep 0.05
done
start_emulator bench bench-key
submit 6400 '{"path": "/slow?ms=50"}'
t0=$(now)
FETCH_URL="http://127.0.0.1:$(sed -n 's/^listening on //p' "$tmp/fake.out")" \
  FETCH_CONCURRENCY=64 RUNPOD_LOG_LEVEL=ERROR "$WORKER" spec/fixtures/fetcher.lua &
w=$!
wait_completed 6400
t1=$(now)
kill -TERM $w; wait $w || true
echo "http jobs 6400 seconds $(calc "$t1 - $t0" 3) jobs_per_s $(calc "6400 / ($t1 - $t0)")"
stop_emulator
kill "$fake"; wait "$fake" 2>/dev/null || true

echo "== ping job list: how long a delivered job stays listed (bench/heartbeat_lag.sh)"
WORKER=$WORKER bash bench/heartbeat_lag.sh
