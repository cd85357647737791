#!/bin/sh
# Builds bench/gemm_harness.cc against native/src (the GEMM driver, the ISA kernels, the thread pool;
# each ISA file with its own flags, as native/binding.gyp does) and OpenBLAS, into
# ${TMPDIR:-/tmp}/gemm_harness, then runs it with the given arguments (see gemm_harness.cc).
#   usage: bench/gemm_harness.sh [N] [rounds] [threads] [reps]
#   GEMM_AB=<checkout> (e.g. /work/main) replaces OpenBLAS by that checkout's driver, compiled into
#   the same binary under another namespace: before (the "openblas*" fields) and after alternate in
#   one process, into ${TMPDIR:-/tmp}/gemm_harness-ab-<name>.
#   GEMM_SRC=<dir> builds against another checkout's native/src instead (main's driver, to compare
#   before and after in alternating processes), into ${TMPDIR:-/tmp}/gemm_harness-<name of its checkout>.
set -e
root=$(cd "$(dirname "$0")/.." && pwd)
src="${GEMM_SRC:-$root/native/src}"
tag=""
[ -z "$GEMM_SRC" ] || tag="-$(basename "$(cd "$src/../.." && pwd)")"
out="${TMPDIR:-/tmp}/gemm_harness$tag.build"
blas=$(ls /usr/lib/x86_64-linux-gnu/libopenblas.so.0 /usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0 2>/dev/null | head -n 1)
[ -n "$blas" ] || { echo "gemm_harness: libopenblas.so.0 not found (Debian: apt-get install libopenblas0-pthread)" >&2; exit 2; }
flags="-O3 -std=c++17 -fno-math-errno -I$src"
# compile SRC OUT [FLAGS]: the driver's objects from SRC (native/src) into OUT
compile() {
  mkdir -p "$2"
  f0="-O3 -std=c++17 -fno-math-errno $3 -I$1"
  g++ $f0 -mavx512f -mavx512bw -mavx512dq -mavx512vl -mavx2 -mfma -mprefer-vector-width=512 -c "$1/isa_avx512.cc" -o "$2/isa_avx512.o"
  g++ $f0 -mavx2 -mfma -c "$1/isa_avx2.cc" -o "$2/isa_avx2.o"
  for f in isa_generic gemm cpu threadpool; do g++ $f0 -c "$1/$f.cc" -o "$2/$f.o"; done
}
compile "$src" "$out"
ab=""
if [ -n "$GEMM_AB" ]; then  # the other checkout's driver as the peer, in namespace ts_before (gemm_harness.cc)
  tag="$tag-ab-$(basename "$(cd "$GEMM_AB" && pwd)")"
  compile "$GEMM_AB/native/src" "$out/before" -Dts=ts_before
  ab="-DGEMM_AB $out/before/*.o"
fi
g++ $flags "$root/bench/gemm_harness.cc" "$out"/*.o $ab "$blas" -lpthread -o "${TMPDIR:-/tmp}/gemm_harness$tag"
[ -z "$GEMM_BUILD_ONLY" ] || exit 0
exec "${TMPDIR:-/tmp}/gemm_harness$tag" "$@"
