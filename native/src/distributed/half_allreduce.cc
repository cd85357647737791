// The compressed all-reduce of the DDP 'bf16' / 'fp16' comm hooks: float32 gradients in, their
// average out, 16-bit floats on the wire, everything on the communication thread (the JS thread only
// queues it). See half_allreduce.h for the algorithm. The conversions have an AVX-512 path (integer
// round-to-nearest-even for bfloat16, since vcvtneps2bf16 needs AVX512_BF16; vcvtps2ph for half), an
// AVX2 + F16C path and a scalar one; TENSORSLIM_CPU=avx2|generic forces a lower one, so every path is
// tested on any machine (test/distributed/comm_hooks.test.ts compares each with the scalar math).
#include "half_allreduce.h"

#include <immintrin.h>

#include <algorithm>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include <gloo/context.h>
#include <gloo/transport/unbound_buffer.h>
#include <gloo/types.h>

#define TS_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,f16c,fma")))
#define TS_TARGET_AVX2 __attribute__((target("avx2,f16c,fma")))

namespace tsdist {

namespace {

constexpr uint8_t kHalfSlotPrefix = 0x48;  // above Gloo's (0x01-0x08) and dist_addon.cc's (0x40, 0x41)
constexpr uint16_t kBf16Nan = 0x7fc0, kFp16Nan = 0x7e00;  // what the vector paths write for any NaN

// ---- scalar: the reference of the vector paths (NaN in, the canonical NaN out) ----
inline uint16_t round16(Half16 fmt, float v) {
  if (std::isnan(v)) return fmt == Half16::Bf16 ? kBf16Nan : kFp16Nan;
  return fmt == Half16::Bf16 ? floatToBf16(v) : floatToHalf(v);
}
inline float widen1(Half16 fmt, uint16_t h) { return fmt == Half16::Bf16 ? bf16ToFloat(h) : halfToFloat(h); }
inline uint16_t compress1(Half16 fmt, float x, float world) {
  if (fmt == Half16::Bf16) return round16(fmt, bf16ToFloat(round16(fmt, x)) / world);
  return round16(fmt, x / world);
}
void compressScalar(Half16 fmt, const float* x, uint16_t* out, size_t n, float world) {
  for (size_t i = 0; i < n; i++) out[i] = compress1(fmt, x[i], world);
}
void widenScalar(Half16 fmt, const uint16_t* in, float* out, size_t n) {
  for (size_t i = 0; i < n; i++) out[i] = widen1(fmt, in[i]);
}
void sumScalar(Half16 fmt, const uint16_t* const* parts, int k, uint16_t* out16, float* out32, size_t n, size_t from = 0) {
  for (size_t i = from; i < n; i++) {
    float s = widen1(fmt, parts[0][i]);
    for (int q = 1; q < k; q++) s += widen1(fmt, parts[q][i]);
    out16[i] = round16(fmt, s);
    out32[i] = widen1(fmt, out16[i]);
  }
}

#if defined(__x86_64__)
// ---- AVX-512: 16 lanes ----
TS_TARGET_AVX512 inline __m256i round16x16(Half16 fmt, __m512 v) {
  const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
  __m256i h;
  if (fmt == Half16::Bf16) {
    const __m512i u = _mm512_castps_si512(v);
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    const __m512i r = _mm512_add_epi32(u, _mm512_add_epi32(_mm512_set1_epi32(0x7fff), lsb));
    h = _mm512_cvtepi32_epi16(_mm512_srli_epi32(r, 16));
  } else {
    h = _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  return _mm256_mask_mov_epi16(h, nan, _mm256_set1_epi16(static_cast<short>(fmt == Half16::Bf16 ? kBf16Nan : kFp16Nan)));
}
TS_TARGET_AVX512 inline __m512 widen16x16(Half16 fmt, __m256i h) {
  if (fmt == Half16::Bf16) return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  return _mm512_cvtph_ps(h);
}
TS_TARGET_AVX512 void compressAvx512(Half16 fmt, const float* x, uint16_t* out, size_t n, float world) {
  const __m512 w = _mm512_set1_ps(world);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 v = _mm512_loadu_ps(x + i);
    if (fmt == Half16::Bf16) v = widen16x16(fmt, round16x16(fmt, v));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), round16x16(fmt, _mm512_div_ps(v, w)));
  }
  compressScalar(fmt, x + i, out + i, n - i, world);
}
TS_TARGET_AVX512 void widenAvx512(Half16 fmt, const uint16_t* in, float* out, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(out + i, widen16x16(fmt, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(in + i))));
  widenScalar(fmt, in + i, out + i, n - i);
}
TS_TARGET_AVX512 void sumAvx512(Half16 fmt, const uint16_t* const* parts, int k, uint16_t* out16, float* out32, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 s = widen16x16(fmt, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(parts[0] + i)));
    for (int q = 1; q < k; q++) s = _mm512_add_ps(s, widen16x16(fmt, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(parts[q] + i))));
    const __m256i h = round16x16(fmt, s);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out16 + i), h);
    _mm512_storeu_ps(out32 + i, widen16x16(fmt, h));
  }
  sumScalar(fmt, parts, k, out16, out32, n, i);
}

// ---- AVX2 + F16C: 8 lanes ----
// The low 16 bits of each 32-bit lane, packed (values are at most 0xffff, so packus does not saturate).
TS_TARGET_AVX2 inline __m128i pack32to16(__m256i v) {
  return _mm256_castsi256_si128(_mm256_permute4x64_epi64(_mm256_packus_epi32(v, v), 0x08));
}
TS_TARGET_AVX2 inline __m128i round16x8(Half16 fmt, __m256 v) {
  const __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
  __m128i h;
  if (fmt == Half16::Bf16) {
    const __m256i u = _mm256_castps_si256(v);
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    const __m256i r = _mm256_add_epi32(u, _mm256_add_epi32(_mm256_set1_epi32(0x7fff), lsb));
    h = pack32to16(_mm256_srli_epi32(r, 16));
  } else {
    h = _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  const __m128i nan16 = pack32to16(_mm256_srli_epi32(nan, 16));  // 0xffff where NaN
  return _mm_blendv_epi8(h, _mm_set1_epi16(static_cast<short>(fmt == Half16::Bf16 ? kBf16Nan : kFp16Nan)), nan16);
}
TS_TARGET_AVX2 inline __m256 widen16x8(Half16 fmt, __m128i h) {
  if (fmt == Half16::Bf16) return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  return _mm256_cvtph_ps(h);
}
TS_TARGET_AVX2 void compressAvx2(Half16 fmt, const float* x, uint16_t* out, size_t n, float world) {
  const __m256 w = _mm256_set1_ps(world);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_loadu_ps(x + i);
    if (fmt == Half16::Bf16) v = widen16x8(fmt, round16x8(fmt, v));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), round16x8(fmt, _mm256_div_ps(v, w)));
  }
  compressScalar(fmt, x + i, out + i, n - i, world);
}
TS_TARGET_AVX2 void widenAvx2(Half16 fmt, const uint16_t* in, float* out, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, widen16x8(fmt, _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i))));
  widenScalar(fmt, in + i, out + i, n - i);
}
TS_TARGET_AVX2 void sumAvx2(Half16 fmt, const uint16_t* const* parts, int k, uint16_t* out16, float* out32, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 s = widen16x8(fmt, _mm_loadu_si128(reinterpret_cast<const __m128i*>(parts[0] + i)));
    for (int q = 1; q < k; q++) s = _mm256_add_ps(s, widen16x8(fmt, _mm_loadu_si128(reinterpret_cast<const __m128i*>(parts[q] + i))));
    const __m128i h = round16x8(fmt, s);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out16 + i), h);
    _mm256_storeu_ps(out32 + i, widen16x8(fmt, h));
  }
  sumScalar(fmt, parts, k, out16, out32, n, i);
}
#endif

bool cpuHas(HalfPath p) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (p == HalfPath::Avx512) return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("f16c");
  if (p == HalfPath::Avx2) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c") && __builtin_cpu_supports("fma");
#endif
  return p == HalfPath::Generic;
}

}  // namespace

HalfPath halfPathFor(const char* forced) {
  HalfPath want = HalfPath::Avx512;
  if (forced != nullptr && std::strcmp(forced, "avx2") == 0) want = HalfPath::Avx2;
  if (forced != nullptr && std::strcmp(forced, "generic") == 0) want = HalfPath::Generic;
  for (int p = static_cast<int>(want); p < static_cast<int>(HalfPath::Generic); p++) {
    if (cpuHas(static_cast<HalfPath>(p))) return static_cast<HalfPath>(p);
  }
  return HalfPath::Generic;
}

const char* halfPathName(HalfPath p) {
  return p == HalfPath::Avx512 ? "avx512" : p == HalfPath::Avx2 ? "avx2" : "generic";
}

void compress16(HalfPath path, Half16 fmt, const float* x, uint16_t* out, size_t n, float world) {
#if defined(__x86_64__)
  if (path == HalfPath::Avx512) return compressAvx512(fmt, x, out, n, world);
  if (path == HalfPath::Avx2) return compressAvx2(fmt, x, out, n, world);
#endif
  compressScalar(fmt, x, out, n, world);
}

void widen16(HalfPath path, Half16 fmt, const uint16_t* in, float* out, size_t n) {
#if defined(__x86_64__)
  if (path == HalfPath::Avx512) return widenAvx512(fmt, in, out, n);
  if (path == HalfPath::Avx2) return widenAvx2(fmt, in, out, n);
#endif
  widenScalar(fmt, in, out, n);
}

void sum16(HalfPath path, Half16 fmt, const uint16_t* const* parts, int k, uint16_t* out16, float* out32, size_t n) {
#if defined(__x86_64__)
  if (path == HalfPath::Avx512) return sumAvx512(fmt, parts, k, out16, out32, n);
  if (path == HalfPath::Avx2) return sumAvx2(fmt, parts, k, out16, out32, n);
#endif
  sumScalar(fmt, parts, k, out16, out32, n);
}

void halfAllReduce(const std::shared_ptr<gloo::Context>& ctx, float* data, size_t n, Half16 fmt, HalfPath path,
                   uint32_t tag, std::chrono::milliseconds timeout) {
  const int size = ctx->size, rank = ctx->rank;
  // scratch kept by the communication thread between calls (a fresh 10 MB each step costs page faults)
  thread_local std::vector<uint16_t> bitsBuf, inboxBuf, sumBuf;
  auto scratch = [](std::vector<uint16_t>& v, size_t len) { if (v.size() < std::max<size_t>(len, 1)) v.resize(std::max<size_t>(len, 1)); return v.data(); };
  uint16_t* bits = scratch(bitsBuf, n);
  if (size == 1) {
    compress16(path, fmt, data, bits, n, 1.0f);
    widen16(path, fmt, bits, data, n);
    return;
  }
  // chunk q: elements [at(q), at(q + 1)), as equal as can be (some empty when n < size)
  auto at = [&](int q) { return static_cast<size_t>(static_cast<unsigned __int128>(n) * static_cast<unsigned>(q) / static_cast<unsigned>(size)); };
  const size_t mine = at(rank), mineLen = at(rank + 1) - mine;
  const uint64_t scatterSlot = gloo::Slot::build(kHalfSlotPrefix, tag);
  const uint64_t gatherSlot = gloo::Slot::build(kHalfSlotPrefix, tag) + static_cast<uint8_t>(1);
  const float world = static_cast<float>(size);
  auto waitOrThrow = [&](bool ok, const char* what, int peer) {
    if (!ok) throw std::runtime_error(std::string("timed out after ") + std::to_string(timeout.count()) + " ms " + what + " rank " + std::to_string(peer));
  };

  // 1. reduce-scatter: every peer's chunk of mine goes to it (compressed just before it is sent, so
  // the conversion of the next chunk overlaps the transfer of this one), its chunks of mine come here.
  auto whole = ctx->createUnboundBuffer(bits, n * 2);
  uint16_t* inbox = scratch(inboxBuf, static_cast<size_t>(size - 1) * mineLen);
  std::vector<std::unique_ptr<gloo::transport::UnboundBuffer>> in(size);
  std::vector<const uint16_t*> parts(size);
  for (int s = 1; s < size; s++) {
    const int peer = (rank + size - s) % size;  // receive from the ranks before, send to the ranks after
    uint16_t* slot = inbox + static_cast<size_t>(s - 1) * mineLen;
    parts[peer] = slot;
    in[peer] = ctx->createUnboundBuffer(slot, mineLen * 2);
    in[peer]->recv(peer, scatterSlot);
  }
  for (int s = 1; s < size; s++) {
    const int peer = (rank + s) % size;
    compress16(path, fmt, data + at(peer), bits + at(peer), at(peer + 1) - at(peer), world);
    whole->send(peer, scatterSlot, at(peer) * 2, (at(peer + 1) - at(peer)) * 2);
  }
  compress16(path, fmt, data + mine, bits + mine, mineLen, world);
  parts[rank] = bits + mine;
  for (int s = 1; s < size; s++) {
    const int peer = (rank + size - s) % size;
    waitOrThrow(in[peer]->waitRecv(timeout), "receiving the compressed chunk of", peer);
  }
  // the 16-bit sum of this rank's chunk, added in float32 in rank order and rounded once; its widened
  // value is this rank's part of the result
  uint16_t* sum = scratch(sumBuf, mineLen);
  sum16(path, fmt, parts.data(), size, sum, data + mine, mineLen);
  for (int s = 1; s < size; s++) waitOrThrow(whole->waitSend(timeout), "sending the compressed chunk to", (rank + s) % size);

  // 2. all-gather: this rank's summed chunk to every peer; each peer's summed chunk into its place.
  auto out = ctx->createUnboundBuffer(sum, mineLen * 2);
  for (int s = 1; s < size; s++) {
    const int peer = (rank + size - s) % size;
    in[peer] = ctx->createUnboundBuffer(bits + at(peer), (at(peer + 1) - at(peer)) * 2);
    in[peer]->recv(peer, gatherSlot);
  }
  for (int s = 1; s < size; s++) out->send((rank + s) % size, gatherSlot);
  for (int s = 1; s < size; s++) {
    const int peer = (rank + size - s) % size;
    waitOrThrow(in[peer]->waitRecv(timeout), "receiving the summed chunk of", peer);
    widen16(path, fmt, bits + at(peer), data + at(peer), at(peer + 1) - at(peer));
  }
  for (int s = 1; s < size; s++) waitOrThrow(out->waitSend(timeout), "sending the summed chunk to", (rank + s) % size);
}

}  // namespace tsdist
