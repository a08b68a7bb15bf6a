#!/usr/bin/env bash
# spec/image.sh: builds the project's Dockerfile without Docker, for
# spec/image_spec.lua and bench/RESULTS.md.
#
# mmdebstrap makes a Debian 12 minbase root file system from Debian's
# mirror (the only network access), podman imports it as
# debian:bookworm-slim, and buildah builds the Dockerfile with chroot
# isolation, offline (--pull=never). Everything lives in its own container
# storage under $RP_IMAGE_DIR (default build/image), so the machine's
# images are left alone; the base file system and buildah's layers are
# kept there, and a second run rebuilds only what changed.
#
# Prints KEY=VALUE lines on stdout (the image, the storage options, sizes
# in bytes, seconds taken); the tools' output goes to stderr. When the
# tools or the permissions are missing, prints "SKIP: <reason>" and exits
# 77.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${RP_IMAGE_DIR:-$PWD/build/image}
image=localhost/runpod-lua:test
base=localhost/debian:bookworm-slim
mirror=${RP_DEBIAN_MIRROR:-http://deb.debian.org/debian}

skip() {
  echo "SKIP: $*"
  exit 77
}

for tool in mmdebstrap podman buildah; do
  command -v "$tool" >/dev/null ||
    skip "$tool is not installed (make image-deps installs vendor/image-packages.txt)"
done
[ "$(id -u)" -eq 0 ] ||
  skip "the image is built as root (podman/buildah with chroot isolation); run as root"

mkdir -p "$dir"
store=(--root "$dir/storage" --runroot "$dir/run" --storage-driver overlay)

now() { date +%s.%N; }

# Both downloads from Debian's mirror (the base, and the Dockerfile's
# apt-get) are tried three times: a mirror that drops one connection must
# not fail the suite. Anything else fails at once.
tries() {
  local n
  for n in 1 2 3; do
    "$@" && return 0
    echo "image.sh: attempt $n of 3 failed: $1" >&2
    [ "$n" -lt 3 ] && sleep $((n * 5))
  done
  return 1
}
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# The base: Debian's minbase variant, the package set debian:bookworm-slim
# is made of, merged /usr without the usrmerge package (as in the official
# image), with the point release's updates and security fixes.
base_seconds=0
if [ ! -s "$dir/base.tar" ]; then
  t0=$(now)
  rm -f "$dir/base-part.tar"
  # The base comes from Debian's mirror, outside this project: when it
  # cannot be fetched (three tries), the image is not tested, and the
  # reason says so.
  tries mmdebstrap --quiet --variant=minbase \
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr bookworm "$dir/base-part.tar" \
    "deb $mirror bookworm main" "deb $mirror bookworm-updates main" \
    "deb ${mirror%/debian}/debian-security bookworm-security main" </dev/null >&2 ||
    skip "the Debian base could not be fetched from $mirror (mmdebstrap failed 3 times; its output is above)"
  mv "$dir/base-part.tar" "$dir/base.tar"
  base_seconds=$(since "$t0")
fi
if ! podman "${store[@]}" image exists "$base"; then
  podman "${store[@]}" import --quiet "$dir/base.tar" "$base" >&2
fi

# Can this machine run a chroot-isolated container at all?
probe=$(buildah "${store[@]}" from --pull-never --quiet "$base" 2>&1) ||
  skip "buildah cannot create a container here: $probe"
if ! err=$(buildah "${store[@]}" run --isolation chroot "$probe" true 2>&1); then
  buildah "${store[@]}" rm "$probe" >/dev/null 2>&1 || true
  skip "buildah cannot run a chroot-isolated container here: $err"
fi
buildah "${store[@]}" rm "$probe" >/dev/null

t0=$(now)
tries buildah "${store[@]}" bud --isolation chroot --pull=never --layers \
  --network host \
  -t "$image" -f Dockerfile . >&2
build_seconds=$(since "$t0")

size() { podman "${store[@]}" image inspect --format '{{.Size}}' "$1"; }
base_bytes=$(size "$base")
image_bytes=$(size "$image")
echo "image=$image"
echo "storage_root=$dir/storage"
echo "storage_runroot=$dir/run"
echo "base_bytes=$base_bytes"
echo "image_bytes=$image_bytes"
echo "added_bytes=$((image_bytes - base_bytes))"
echo "base_seconds=$base_seconds"
echo "build_seconds=$build_seconds"
