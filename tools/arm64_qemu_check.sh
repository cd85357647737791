#!/usr/bin/env bash
# Checks the linux-arm64 prebuilt addon on an x86-64 Debian 12 machine: runs the library's loader
# and a few kernels with Debian's arm64 Node.js (18, nodejs:arm64 and its libraries, unpacked into
# a private sysroot; nothing is installed for arm64) under qemu-user. docs/NATIVE.md, "Prebuilt addons".
#   apt-get install -y qemu-user g++-aarch64-linux-gnu
#   TENSORSLIM_PREBUILD_ARCHES=arm64 node scripts/prebuild.mjs && npm run build
#   tools/arm64_qemu_check.sh            (about 3 min: Node under emulation is slow)
# The .deb files come from deb.debian.org at the versions apt lists for amd64 (the same source
# packages); the sysroot is kept in ${TENSORSLIM_ARM64_SYSROOT:-/tmp/tensorslim-arm64-sysroot}.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f prebuilds/linux-arm64/tensorslim.node ] || { echo "error: prebuilds/linux-arm64/tensorslim.node is missing: run TENSORSLIM_PREBUILD_ARCHES=arm64 node scripts/prebuild.mjs" >&2; exit 1; }
[ -f dist/backends/native/addon.js ] || { echo "error: dist/ is missing: run npm run build" >&2; exit 1; }
command -v qemu-aarch64 >/dev/null || { echo "error: qemu-aarch64 is missing: apt-get install -y qemu-user" >&2; exit 1; }
[ -d /usr/aarch64-linux-gnu/lib ] || { echo "error: the arm64 glibc is missing: apt-get install -y g++-aarch64-linux-gnu" >&2; exit 1; }
sysroot="${TENSORSLIM_ARM64_SYSROOT:-/tmp/tensorslim-arm64-sysroot}"
if [ ! -x "$sysroot/usr/bin/node" ]; then
  mkdir -p "$sysroot/debs"
  for p in nodejs libnode108 libbrotli1 libc-ares2 libicu72 libnghttp2-14 libssl3 libuv1 zlib1g node-cjs-module-lexer node-acorn node-undici; do
    f="$(apt-cache show "$p" | sed -n 's/^Filename: \(pool\/main\/.*\)$/\1/p' | head -1)"
    [ -n "$f" ] || { echo "error: apt-cache knows no Debian package $p (apt-get update?)" >&2; exit 1; }
    case "$f" in *_all.deb) url="$f" ;; *) url="${f%_amd64.deb}_arm64.deb" ;; esac
    curl -fsSL -o "$sysroot/debs/$(basename "$url")" "http://deb.debian.org/debian/$url"
    dpkg -x "$sysroot/debs/$(basename "$url")" "$sysroot"
  done
  mkdir -p "$sysroot/lib/aarch64-linux-gnu"
  cp -a /usr/aarch64-linux-gnu/lib/. "$sysroot/lib/aarch64-linux-gnu/"
  ln -sf aarch64-linux-gnu/ld-linux-aarch64.so.1 "$sysroot/lib/ld-linux-aarch64.so.1"
fi
pkg="$(mktemp -d)"
trap 'rm -rf "$pkg"' EXIT
mkdir -p "$pkg/native" "$pkg/prebuilds"
cp -r dist package.json "$pkg/" && cp native/binding.gyp "$pkg/native/" && cp -r prebuilds/linux-arm64 "$pkg/prebuilds/"
cp tools/arm64_qemu_check.mjs "$pkg/check.mjs" && ln -s "$PWD/node_modules" "$pkg/node_modules"
cd "$pkg"
qemu-aarch64 -L "$sysroot" -E LD_LIBRARY_PATH=/lib/aarch64-linux-gnu:/usr/lib/aarch64-linux-gnu "$sysroot/usr/bin/node" check.mjs
