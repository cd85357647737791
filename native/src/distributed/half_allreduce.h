// 16-bit float conversions and the compressed float32 all-reduce of the DDP 'bf16' / 'fp16' comm hooks
// (half_allreduce.cc). The scalar conversions round to nearest even; src/distributed/comm_hooks.ts
// has the same ones (tests compare them bit for bit).
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>

namespace gloo { class Context; }

namespace tsdist {

inline float bf16ToFloat(uint16_t h) {
  uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline uint16_t floatToBf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);  // NaN stays NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}
inline float halfToFloat(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t man = h & 0x3ffu;
  float f;
  if (exp == 0) {
    f = std::ldexp(static_cast<float>(man), -24);  // zero or subnormal
    return sign ? -f : f;
  }
  uint32_t u = exp == 31 ? (sign | 0x7f800000u | (man << 13)) : (sign | ((exp + 112) << 23) | (man << 13));
  std::memcpy(&f, &u, 4);
  return f;
}
inline uint16_t floatToHalf(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return sign | 0x7e00u;           // NaN
  if (a >= 0x477ff000u) return sign | 0x7c00u;          // rounds to >= 65520: infinity
  if (a < 0x38800000u) {                                // below 2^-14: subnormal half (or zero)
    float m = std::fabs(f) * 16777216.0f;               // in units of 2^-24, exact
    float r = std::nearbyint(m);                        // default rounding mode: to nearest even
    return sign | static_cast<uint16_t>(r);
  }
  uint32_t mant = a + 0xfffu + ((a >> 13) & 1u);        // round the 13 dropped bits to nearest even
  return sign | static_cast<uint16_t>(((mant >> 13) - (112u << 10)) & 0xffffu);
}

/** The 16-bit formats: 0 bfloat16, 1 IEEE half. */
enum class Half16 { Bf16 = 0, Fp16 = 1 };

/** SIMD paths of the conversions: the best the CPU has, or TENSORSLIM_CPU=avx2|generic forcing a lower one. */
enum class HalfPath { Avx512 = 0, Avx2 = 1, Generic = 2 };
/** The path for TENSORSLIM_CPU's value (nullptr or '' for the best) on this CPU; never one the CPU lacks. */
HalfPath halfPathFor(const char* forced);
const char* halfPathName(HalfPath p);

// The conversions on a path, exposed for the fuzz test through the compressed all-reduce on 1 rank.
// compress: bf16: bf16(bf16(x) / world) (PyTorch's bf16_compress_hook); fp16: half(x / world).
void compress16(HalfPath path, Half16 fmt, const float* x, uint16_t* out, size_t n, float world);
// widen: out[i] = the float32 value of in[i].
void widen16(HalfPath path, Half16 fmt, const uint16_t* in, float* out, size_t n);
// sum: out16[i] = round16(parts[0][i] + ... + parts[k-1][i]) added in float32 in that order, out32[i]
// its float32 value.
void sum16(HalfPath path, Half16 fmt, const uint16_t* const* parts, int k, uint16_t* out16, float* out32, size_t n);

/**
 * The compressed average of `data` (n float32) over the context's ranks, in place: each rank
 * compresses its buffer to 16 bits (compress16 with the world size), sends rank q its q-th chunk
 * (chunks as equal as can be), sums the chunks it receives for its own chunk in float32 (in rank
 * order) and rounds the sum once to 16 bits, sends that to every rank, and widens all chunks back
 * into `data`. Each rank sends and receives (N-1)/N of the 16-bit buffer twice: half the bytes of a
 * float32 ring all-reduce. Runs on the calling (communication) thread; throws on failure or timeout.
 */
void halfAllReduce(const std::shared_ptr<gloo::Context>& ctx, float* data, size_t n, Half16 fmt, HalfPath path,
                   uint32_t tag, std::chrono::milliseconds timeout);

}  // namespace tsdist
