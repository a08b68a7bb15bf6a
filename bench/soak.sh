#!/usr/bin/env bash
# bench/soak.sh: a long run of serverless mode through bin/runpod-emulator
# (`make bench-soak`; not part of CI). SOAK_JOBS jobs (default 100,000)
# go into one bin/runpod-worker whose handler (bench/soak_handler.lua)
# refreshes its VM every 100 jobs and fails about 5% of them. The worker's
# RSS is sampled every second. Prints start/peak/end RSS, jobs/s, and the
# exactly-once check from /_emulator/stats: every job ended COMPLETED or
# FAILED with exactly one final job-done post, no late post and no
# re-queue. Exits 1 when a job was lost or delivered twice.
set -euo pipefail
cd "$(dirname "$0")/.."
WORKER=${WORKER:-bin/runpod-worker}
EMULATOR=${EMULATOR:-bin/runpod-emulator}
JOBS=${SOAK_JOBS:-100000}
LIMIT_S=${SOAK_LIMIT_S:-3600}

tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT

. bench/lib.sh
start_emulator soak soak-key --retain-max "$JOBS" --retain-ms 60000000
export RUNPOD_POD_ID=soak-worker

health() { curl -s -m 10 -H 'Authorization: Bearer soak-key' "$base/v2/soak/health"; }
ended() { health | jq '.jobs.completed + .jobs.failed'; }

# Queue the jobs in batches (each /_emulator/jobs call copies one body).
left=$JOBS
while [ "$left" -gt 0 ]; do
  n=$((left > 10000 ? 10000 : left))
  curl -s -m 60 -X POST -H 'Content-Type: application/json' \
    --data '{"input": {"x": 1, "text": "soak"}}' \
    "$base/_emulator/jobs?count=$n" >/dev/null
  left=$((left - n))
done

t0=$(now)
RUNPOD_LOG_LEVEL=ERROR "$WORKER" bench/soak_handler.lua >"$tmp/worker.err" 2>&1 &
w=$!
sleep 0.2
start=$(rss $w)
peak=$start
samples=0
while :; do
  done_n=$(ended)
  [ "$done_n" -ge "$JOBS" ] && break
  if ! kill -0 $w 2>/dev/null; then
    echo "the worker died" >&2
    tail -20 "$tmp/worker.err" >&2
    exit 1
  fi
  if [ "$(calc "$(now) - $t0")" -gt "$LIMIT_S" ]; then
    echo "timed out after $LIMIT_S s with $done_n of $JOBS jobs ended" >&2
    exit 1
  fi
  r=$(rss $w)
  [ "$r" -gt "$peak" ] && peak=$r
  samples=$((samples + 1))
  if [ $((samples % 60)) -eq 0 ]; then
    echo "t=$(calc "$(now) - $t0")s ended=$done_n rss_kib=$r" >&2
  fi
  sleep 1
done
t1=$(now)
sleep 1
end=$(rss $w)
kill -TERM $w
wait $w || true

curl -s -m 120 "$base/_emulator/stats" >"$tmp/stats.json"
# Per job: status, final posts (done), late posts and re-queues.
jq -r '[.jobs[]] |
  "jobs \(length) completed \([.[] | select(.status == "COMPLETED")] | length)" +
  " failed \([.[] | select(.status == "FAILED")] | length)" +
  " done_not_1 \([.[] | select(.done != 1)] | length)" +
  " late \([.[] | .late] | add)" +
  " retries \([.[] | .retries] | add)"' "$tmp/stats.json" >"$tmp/check"
cat "$tmp/check"
echo "start_kib $start peak_kib $peak end_kib $end jobs $JOBS seconds $(calc "$t1 - $t0" 1) jobs_per_s $(calc "$JOBS / ($t1 - $t0)")"
read -r _ total _ completed _ failed _ not_once _ late _ retries <"$tmp/check"
if [ "$total" -ne "$JOBS" ] || [ $((completed + failed)) -ne "$JOBS" ] ||
   [ "$not_once" -ne 0 ] || [ "$late" -ne 0 ] || [ "$retries" -ne 0 ]; then
  echo "FAIL: not every job was delivered exactly once" >&2
  exit 1
fi
echo "exactly_once yes"
