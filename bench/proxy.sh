#!/usr/bin/env bash
# bench/proxy.sh: a proxy worker's overhead. 30 concurrent streaming chat
# completions (64 tokens each, one every TOKEN_MS ms), ROUNDS times, sent
# straight to build/spec/fake_inference and through runpod-worker's local
# API server (OpenAI route -> handlers/vllm.lua with VLLM_BASE_URL ->
# runpod.proxy -> the same backend). Prints time to first token p50/p99 of
# both and the difference, tokens/s of both, the worker's and the backend's
# CPU time per job, and the worker's RSS; with perf installed, also the
# worker's context switches per token, counted over CS_SECS (3) seconds
# from one second into its run (the threads of the connections open then).
# Needs node (bench/proxy_client.mjs).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
WORKER=${WORKER:-bin/runpod-worker}
FAKE=${FAKE:-$BUILD/spec/fake_inference}
CONC=${CONC:-30}
ROUNDS=${ROUNDS:-10}
WORDS=${WORDS:-64}
TOKEN_MS=${TOKEN_MS:-10}
CS_SECS=${CS_SECS:-3}
export CONC ROUNDS WORDS TOKEN_MS CS_SECS

if ! command -v node >/dev/null; then
  echo "proxy: node not found, skipped"
  exit 0
fi
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT

# cpu PID: user + system time of the process so far, in seconds.
cpu() { awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"; }
kib() { awk "/^$2:/ {print \$2}" "/proc/$1/status"; }

FAKE_TOKEN_MS=$TOKEN_MS "$FAKE" 0 >"$tmp/fake.out" &
fake=$!
for _ in $(seq 100); do grep -q listening "$tmp/fake.out" && break; sleep 0.05; done
backend="http://127.0.0.1:$(sed -n 's/^listening on //p' "$tmp/fake.out")"

port=$(( 20000 + RANDOM % 20000 ))
VLLM_BASE_URL=$backend "$WORKER" handlers/vllm.lua --rp_serve_api --rp_api_port "$port" \
  --rp_api_concurrency "$CONC" --rp_log_level WARN >"$tmp/worker.out" 2>&1 &
worker=$!
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$port/health" >/dev/null && break
  sleep 0.05
done

# A warm-up round each way, not counted.
node bench/proxy_client.mjs "$backend/v1/chat/completions" "$CONC" 1 8 >/dev/null
node bench/proxy_client.mjs "http://127.0.0.1:$port/openai/v1/chat/completions" "$CONC" 1 8 \
  >/dev/null

f0=$(cpu "$fake")
node bench/proxy_client.mjs "$backend/v1/chat/completions" "$CONC" "$ROUNDS" "$WORDS" \
  >"$tmp/direct.json"
f1=$(cpu "$fake")
w0=$(cpu "$worker")
if command -v perf >/dev/null; then
  (sleep 1; perf stat -x, -e context-switches -p "$worker" -- sleep "$CS_SECS" 2>&1 >/dev/null |
     awk -F, '/context-switches/ {print $1}' >"$tmp/cs") &
  counter=$!
fi
node bench/proxy_client.mjs "http://127.0.0.1:$port/openai/v1/chat/completions" "$CONC" \
  "$ROUNDS" "$WORDS" >"$tmp/worker.json"
w1=$(cpu "$worker")
if [ -n "${counter:-}" ]; then wait "$counter"; fi
f2=$(cpu "$fake")
rss=$(kib "$worker" VmRSS)
hwm=$(kib "$worker" VmHWM)

node -e '
const fs = require("fs");
const [d, w] = [process.argv[1], process.argv[2]].map((f) => JSON.parse(fs.readFileSync(f)));
const pct = (a, p) => { const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor(p / 100 * s.length))]; };
const jobs = d.ttft.length;
const [fd, fw, ww] = process.argv.slice(3).map(Number);
console.log(`jobs ${jobs} per side, ${process.env.CONC} at once, ${process.env.WORDS} tokens each, one every ${process.env.TOKEN_MS} ms`);
console.log(`ttft_ms direct p50 ${pct(d.ttft, 50).toFixed(2)} p99 ${pct(d.ttft, 99).toFixed(2)}; worker p50 ${pct(w.ttft, 50).toFixed(2)} p99 ${pct(w.ttft, 99).toFixed(2)}`);
console.log(`added_ttft_ms p50 ${(pct(w.ttft, 50) - pct(d.ttft, 50)).toFixed(2)} p99 ${(pct(w.ttft, 99) - pct(d.ttft, 99)).toFixed(2)}`);
const td = d.tokens / d.seconds, tw = w.tokens / w.seconds;
console.log(`tokens_per_s direct ${td.toFixed(0)} worker ${tw.toFixed(0)} ratio ${(tw / td * 100).toFixed(1)}%`);
console.log(`cpu_ms_per_job backend ${(fd / jobs * 1000).toFixed(2)} (direct) ${(fw / jobs * 1000).toFixed(2)} (through the worker); worker ${(ww / jobs * 1000).toFixed(2)} = ${(ww / fw * 100).toFixed(1)}% of the backend`);
const cs = Number(process.argv[6]);
if (cs > 0) console.log(`worker_context_switches_per_token ${(cs / (tw * Number(process.env.CS_SECS))).toFixed(2)}`);
' "$tmp/direct.json" "$tmp/worker.json" "$(awk "BEGIN {print $f1 - $f0}")" \
  "$(awk "BEGIN {print $f2 - $f1}")" "$(awk "BEGIN {print $w1 - $w0}")" \
  "$(cat "$tmp/cs" 2>/dev/null || echo -1)"
echo "worker_rss_kib $rss peak_kib $hwm"
