#!/usr/bin/env bash
# bench/setup.sh: times the README's set-up commands on a fresh Debian 12,
# the minbase root file system spec/image.sh makes (run that first), in a
# buildah container with the committed tree (git archive HEAD) as /src:
# `make deps all` plus the echo handler (the first command), then
# `make test-deps` (what `make test` installs first), then both again.
# Needs root, buildah and Debian's mirror; prints one line per step.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${RP_IMAGE_DIR:-$PWD/build/image}
store=(--root "$dir/storage" --runroot "$dir/run" --storage-driver overlay)
c=$(buildah "${store[@]}" from --pull-never --quiet localhost/debian:bookworm-slim)
release() {
  buildah "${store[@]}" rm "$c" >/dev/null
  ! grep -q " $dir/storage/overlay " /proc/mounts || umount "$dir/storage/overlay"
}
trap release EXIT
src=$(mktemp -d)
git archive HEAD | tar -x -C "$src"
buildah "${store[@]}" copy --quiet "$c" "$src" /src >/dev/null
rm -rf "$src"

step() {
  local name=$1
  shift
  local t0 t1
  t0=$(date +%s.%N)
  buildah "${store[@]}" run --isolation chroot --network host --workingdir /src "$c" \
    -- sh -c "$*" >"$dir/setup-$name.log" 2>&1 ||
    { echo "$name failed, see $dir/setup-$name.log"; exit 1; }
  t1=$(date +%s.%N)
  awk -v n="$name" -v a="$t0" -v b="$t1" -v c="$*" 'BEGIN { printf "%-16s %6.1f s  %s\n", n, b - a, c }'
}

step make "apt-get update -qq && apt-get install -y -qq make"
step deps-all "make deps all && bin/runpod-worker handlers/echo.lua --test_input '{\"input\": {\"x\": 1}}'"
step test-deps "make test-deps"
step deps-again "make deps all"
step test-deps-again "make test-deps"
buildah "${store[@]}" run --isolation chroot "$c" -- sh -c \
  'echo "packages: $(dpkg-query -W | wc -l), /usr: $(du -sm /usr | cut -f1) MB"'
