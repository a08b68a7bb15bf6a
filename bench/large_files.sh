#!/usr/bin/env bash
# bench/large_files.sh [BUILD]: model-sized files through the library, each
# against a plain tool doing the same work on the same data, with the peak
# RSS of both (GNU time's %M), under plain lua5.4 against BUILD/lib:
#   - runpod.download of DL_SIZE bytes (2 GiB) from build/spec/fake_inference
#     vs `curl -o FILE`;
#   - runpod.upload of a UP_SIZE-byte file (1 GiB), multipart, to s3rver
#     (spec/s3, `make s3-deps`; skipped without it) vs `curl -T FILE
#     --aws-sigv4` (one PUT);
#   - runpod.volume_cache hydrate of SMALL_FILES (1000) 4 KiB files and
#     BIG_FILES (5) of BIG_SIZE bytes (64 MiB) from a mirror made by sync,
#     vs `cp -a` of the same tree.
# The peak RSS of the library runs must not follow the file sizes: run with
# larger or smaller sizes to see. bench/RESULTS.md records the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-${BUILD:-build}}
DL_SIZE=${DL_SIZE:-2147483648}
UP_SIZE=${UP_SIZE:-1073741824}
SMALL_FILES=${SMALL_FILES:-1000}
BIG_FILES=${BIG_FILES:-5}
BIG_SIZE=${BIG_SIZE:-67108864}
root=$PWD
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rp-large.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
export LUA_PATH="$root/lua/?.lua;$root/lua/?/init.lua" LUA_CPATH="$root/$BUILD/lib/?.so"
export RUNPOD_ALLOW_PRIVATE_DOWNLOAD_URLS=true

# timed LABEL BYTES CMD...: runs CMD, prints seconds, MB/s and peak RSS.
timed() {
  local label=$1 bytes=$2
  shift 2
  /usr/bin/time -f '%e %M' -o "$tmp/time" "$@" >/dev/null
  read -r secs kib <"$tmp/time"
  awk -v l="$label" -v b="$bytes" -v s="$secs" -v k="$kib" 'BEGIN {
    printf "%-34s %7.2f s  %6.0f MB/s  peak RSS %6.1f MiB\n", l, s, (s > 0 ? b / s / 1e6 : 0), k / 1024 }'
}

# listening FILE: the port a test server printed ("listening on PORT").
listening() {
  for _ in $(seq 200); do
    grep -q 'listening on' "$1" 2>/dev/null && break
    sleep 0.05
  done
  sed -n 's/.*listening on \([0-9]*\).*/\1/p' "$1" | head -1
}

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"

echo "== download: $DL_SIZE bytes over 127.0.0.1"
"$BUILD/spec/fake_inference" 0 >"$tmp/fake.out" 2>&1 &
pids+=($!)
url="http://127.0.0.1:$(listening "$tmp/fake.out")/bytes?n=$DL_SIZE"
timed "curl -o FILE" "$DL_SIZE" curl -s -o "$tmp/curl.bin" "$url"
rm -f "$tmp/curl.bin"
(cd "$tmp" && timed "runpod.download" "$DL_SIZE" lua5.4 -e \
  "assert(require('runpod').download('bench', '$url', { tries = 1 })[1])")
rm -rf "$tmp/jobs"

echo "== upload: $UP_SIZE bytes to s3rver on 127.0.0.1"
if [ -d spec/s3/node_modules/s3rver ] && command -v node >/dev/null; then
  head -c "$UP_SIZE" /dev/urandom >"$tmp/up.bin"
  mkdir -p "$tmp/s3"
  node spec/s3/server.js "$tmp/s3" bench >"$tmp/s3.out" 2>&1 &
  pids+=($!)
  s3="http://127.0.0.1:$(listening "$tmp/s3.out")"
  timed "curl -T FILE --aws-sigv4 (1 PUT)" "$UP_SIZE" curl -s -f -T "$tmp/up.bin" \
    --aws-sigv4 "aws:amz:us-east-1:s3" --user S3RVER:S3RVER \
    -H "x-amz-content-sha256: $(sha256sum "$tmp/up.bin" | cut -d' ' -f1)" \
    "$s3/bench/curl.bin"
  timed "runpod.upload (multipart, 4 x 8 MiB)" "$UP_SIZE" lua5.4 -e "
    assert(require('runpod').upload('bench', '$tmp/up.bin', { endpoint = '$s3',
      access_key_id = 'S3RVER', secret_access_key = 'S3RVER', bucket = 'bench' }))"
  rm -f "$tmp/up.bin"
  rm -rf "$tmp/s3"
else
  echo "skipped: s3rver not installed (make s3-deps)"
fi

echo "== hydrate: $SMALL_FILES small files + $BIG_FILES x $BIG_SIZE bytes"
mkdir -p "$tmp/cache/small" "$tmp/cache/big" "$tmp/vol"
for i in $(seq "$SMALL_FILES"); do head -c 4096 /dev/urandom >"$tmp/cache/small/f$i.txt"; done
for i in $(seq "$BIG_FILES"); do head -c "$BIG_SIZE" /dev/urandom >"$tmp/cache/big/w$i.bin"; done
total=$(du -sb "$tmp/cache" | cut -f1)
vc="local vc = require('runpod').volume_cache{ dirs = { '$tmp/cache' }, namespace = 'b',
  volume_path = '$tmp/vol', best_effort = false }"
timed "volume_cache:sync" "$total" lua5.4 -e "$vc assert(vc:sync{ background = false } > 0)"
mv "$tmp/cache" "$tmp/cache.orig"
sync
timed "cp -a (the same tree)" "$total" cp -a "$tmp/cache.orig" "$tmp/cache.cp"
rm -rf "$tmp/cache.cp"
timed "volume_cache:hydrate" "$total" lua5.4 -e "$vc assert(vc:hydrate() > 0)"
diff -r "$tmp/cache.orig" "$tmp/cache" >/dev/null && echo "hydrated tree identical to the original"
