#!/usr/bin/env bash
# bench/proxy.sh: a proxy worker's overhead. CONC (30) concurrent streaming
# chat completions (WORDS tokens each, one every TOKEN_MS ms) from
# build/bench/stream_client, three ways to the same build/spec/fake_inference:
#  - direct: straight to the backend;
#  - relay: through build/bench/tcp_relay, a one-thread epoll relay that
#    copies bytes and parses nothing (what forwarding alone costs);
#  - worker: through runpod-worker's local API server (OpenAI route -> job
#    -> handlers/vllm.lua with VLLM_BASE_URL -> runpod.proxy -> backend).
# The three take turns, PASSES times ROUNDS_PER_PASS rounds each, so load
# from elsewhere on the machine falls on all three alike. Prints time to
# first token p50/p99 of each and what relay and worker add to direct,
# tokens/s, CPU time per job of the backend, the relay and the worker, the
# worker's RSS, and, with perf installed, the worker's context switches
# per token (counted over its first pass).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
WORKER=${WORKER:-bin/runpod-worker}
FAKE=${FAKE:-$BUILD/spec/fake_inference}
CLIENT=${CLIENT:-$BUILD/bench/stream_client}
RELAY=${RELAY:-$BUILD/bench/tcp_relay}
CONC=${CONC:-30}
PASSES=${PASSES:-5}
ROUNDS_PER_PASS=${ROUNDS_PER_PASS:-2}
WORDS=${WORDS:-64}
TOKEN_MS=${TOKEN_MS:-10}

tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT

# cpu PID: user + system time of the process so far, in seconds.
cpu() { awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"; }
kib() { awk "/^$2:/ {print \$2}" "/proc/$1/status"; }
add() { awk "BEGIN {print $1 + $2}"; }
# listening FILE: the port a child printed as "listening on PORT".
listening() {
  for _ in $(seq 100); do grep -q listening "$1" && break; sleep 0.05; done
  sed -n 's/^listening on //p' "$1"
}

FAKE_TOKEN_MS=$TOKEN_MS "$FAKE" 0 >"$tmp/fake.out" &
fake=$!
bport=$(listening "$tmp/fake.out")
"$RELAY" "$bport" >"$tmp/relay.out" &
relay=$!
rport=$(listening "$tmp/relay.out")
wport=$(( 20000 + RANDOM % 20000 ))
VLLM_BASE_URL=http://127.0.0.1:$bport "$WORKER" handlers/vllm.lua --rp_serve_api \
  --rp_api_port "$wport" --rp_api_concurrency "$CONC" --rp_log_level WARN \
  >"$tmp/worker.out" 2>&1 &
worker=$!
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$wport/health" >/dev/null && break
  sleep 0.05
done

declare -A url=(
  [direct]=http://127.0.0.1:$bport/v1/chat/completions
  [relay]=http://127.0.0.1:$rport/v1/chat/completions
  [worker]=http://127.0.0.1:$wport/openai/v1/chat/completions
)
declare -A backend_cpu=([direct]=0 [relay]=0 [worker]=0) own_cpu=([relay]=0 [worker]=0)
declare -A tokens=([direct]=0 [relay]=0 [worker]=0) seconds=([direct]=0 [relay]=0 [worker]=0)
for side in direct relay worker; do : >"$tmp/$side.ttft"; done

for pass in $(seq "$PASSES"); do
  for side in direct relay worker; do
    pid=
    case $side in relay) pid=$relay ;; worker) pid=$worker ;; esac
    if [ "$side" = worker ] && [ "$pass" = 1 ] && command -v perf >/dev/null; then
      perf stat -x, -e context-switches -p "$worker" -o "$tmp/cs" &
      counter=$!
      sleep 0.2
    fi
    f0=$(cpu "$fake")
    p0=$([ -n "$pid" ] && cpu "$pid" || echo 0)
    "$CLIENT" "${url[$side]}" "$CONC" "$ROUNDS_PER_PASS" "$WORDS" >"$tmp/out"
    f1=$(cpu "$fake")
    p1=$([ -n "$pid" ] && cpu "$pid" || echo 0)
    if [ -n "${counter:-}" ]; then
      kill -INT "$counter"; wait "$counter" || true; counter=
      cs_tokens=$(( $(sed 's/.*"tokens": \([0-9]*\).*/\1/' "$tmp/out") \
        * (ROUNDS_PER_PASS + 1) / ROUNDS_PER_PASS ))
    fi
    backend_cpu[$side]=$(add "${backend_cpu[$side]}" "$f1 - $f0")
    [ -n "$pid" ] && own_cpu[$side]=$(add "${own_cpu[$side]}" "$p1 - $p0")
    tokens[$side]=$(add "${tokens[$side]}" "$(sed 's/.*"tokens": \([0-9]*\).*/\1/' "$tmp/out")")
    seconds[$side]=$(add "${seconds[$side]}" "$(sed 's/.*"seconds": \([0-9.]*\).*/\1/' "$tmp/out")")
    sed 's/.*"ttft": \[\([^]]*\)\].*/\1/' "$tmp/out" | tr ',' '\n' | tr -d ' ' >>"$tmp/$side.ttft"
  done
done

# pct SIDE P: the P-th percentile of a side's times to first token.
pct() { sort -g "$tmp/$1.ttft" | awk -v p="$2" '{ v[NR] = $1 } END {
  i = int(p / 100 * NR) + 1; if (i > NR) i = NR; print v[i] }'; }
jobs=$(wc -l <"$tmp/direct.ttft")
# CPU covers each client's first round too (it opens the connections and
# is not timed): per job means per request sent.
sent=$(( PASSES * (ROUNDS_PER_PASS + 1) * CONC ))
echo "jobs $jobs per side, $CONC at once, $WORDS tokens each, one every $TOKEN_MS ms," \
  "$PASSES passes of $ROUNDS_PER_PASS rounds taking turns"
for side in direct relay worker; do
  echo "ttft_ms $side p50 $(pct $side 50) p99 $(pct $side 99)"
done
for side in relay worker; do
  echo "added_ttft_ms $side p50 $(awk "BEGIN {printf \"%.2f\", $(pct $side 50) - $(pct direct 50)}")" \
    "p99 $(awk "BEGIN {printf \"%.2f\", $(pct $side 99) - $(pct direct 99)}")"
done
rate() { awk "BEGIN {printf \"%.0f\", ${tokens[$1]} / ${seconds[$1]}}"; }
echo "tokens_per_s direct $(rate direct) relay $(rate relay) worker $(rate worker)" \
  "(worker $(awk "BEGIN {printf \"%.1f\", ${tokens[worker]} / ${seconds[worker]} / (${tokens[direct]} / ${seconds[direct]}) * 100}")% of direct)"
ms() { awk "BEGIN {printf \"%.2f\", $1 / $sent * 1000}"; }
echo "cpu_ms_per_job backend $(ms "${backend_cpu[direct]}") (direct)" \
  "$(ms "${backend_cpu[relay]}") (through the relay) $(ms "${backend_cpu[worker]}") (through the worker);" \
  "relay $(ms "${own_cpu[relay]}"); worker $(ms "${own_cpu[worker]}")"
echo "cpu_ratio relay/backend $(awk "BEGIN {printf \"%.1f\", ${own_cpu[relay]} / ${backend_cpu[relay]} * 100}")%" \
  "worker/backend $(awk "BEGIN {printf \"%.1f\", ${own_cpu[worker]} / ${backend_cpu[worker]} * 100}")%" \
  "worker/relay $(awk "BEGIN {printf \"%.2f\", ${own_cpu[worker]} / ${own_cpu[relay]}}")x"
echo "worker_rss_kib $(kib "$worker" VmRSS) peak_kib $(kib "$worker" VmHWM)"
if [ -s "$tmp/cs" ] && [ -n "${cs_tokens:-}" ]; then
  cs=$(awk -F, '/context-switches/ {print $1}' "$tmp/cs")
  echo "worker_context_switches_per_token $(awk "BEGIN {printf \"%.2f\", $cs / $cs_tokens}")" \
    "(first pass, about $cs_tokens tokens)"
fi
