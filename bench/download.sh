#!/usr/bin/env bash
# bench/download.sh [BUILD]: runpod.download's throughput from a local
# server (build/spec/fake_inference, GET /bytes?n=SIZE) to a file under
# plain lua5.4, against `curl -o FILE` of the same URL as the baseline, RUNS
# (3) runs each of SIZE (512 MiB) bytes, into a fresh temporary directory.
# bench/RESULTS.md records the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
SIZE=${SIZE:-536870912}
RUNS=${RUNS:-3}
root=$PWD
tmp=$(mktemp -d)
"$BUILD/spec/fake_inference" 0 >"$tmp/server.out" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do
  grep -q listening "$tmp/server.out" && break
  sleep 0.05
done
url="http://127.0.0.1:$(grep -o '[0-9]*' "$tmp/server.out")/bytes?n=$SIZE"
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "== $SIZE bytes from $url"
TIMEFORMAT=%R
mbps() { awk -v b="$SIZE" -v s="$1" 'BEGIN { printf "%.0f MB/s (%.2f s)", b / s / 1e6, s }'; }
for i in $(seq "$RUNS"); do
  s=$( { time curl -s -o "$tmp/curl.bin" "$url"; } 2>&1 )
  echo "curl -o FILE, run $i: $(mbps "$s")"
  rm -f "$tmp/curl.bin"
  s=$( { cd "$tmp" && time RUNPOD_ALLOW_PRIVATE_DOWNLOAD_URLS=true \
    LUA_PATH="$root/lua/?.lua;$root/lua/?/init.lua" LUA_CPATH="$root/$BUILD/lib/?.so" \
    lua5.4 -e "assert(require('runpod').download('bench', '$url', { tries = 1 })[1])"; } 2>&1 )
  echo "runpod.download, run $i: $(mbps "$s")"
  rm -rf "$tmp/jobs"
done
