// The portable (baseline x86-64) parts of the int8 GEMM (int8_gemm_isa.h): the micro-kernel (u8 x s8
// products summed in uint32, wrapping as the SIMD paths' int32 lanes do; 4 rows x 16 channels per
// call) and the scalar epilogue, activation packing, quantizer and range finder, which define the bits
// every SIMD path reproduces (the SIMD paths call them for their tails).
#include <cstring>

#include "int8_gemm_isa.h"
#define TS_DIRECT_VL 4
#include "int8_conv_direct.h"

namespace ts {
namespace {

constexpr int kNr = 16, kKg = 4, kMr = 4;

template <int MR>
void tile(long groups, const uint8_t* a, long lda, const uint8_t* b, int32_t* c, long ldc, bool accumulate) {
  uint32_t acc[MR][kNr] = {};
  if (accumulate) for (int i = 0; i < MR; i++) for (int j = 0; j < kNr; j++) acc[i][j] = uint32_t(c[i * ldc + j]);
  for (long g = 0; g < groups; g++) {
    const int8_t* bg = reinterpret_cast<const int8_t*>(b) + g * kNr * kKg;
    for (int i = 0; i < MR; i++) {
      const uint8_t* ai = a + i * lda + g * kKg;
      const uint32_t a0 = ai[0], a1 = ai[1], a2 = ai[2], a3 = ai[3];
      for (int j = 0; j < kNr; j++) {
        const int8_t* w = bg + j * kKg;
        acc[i][j] += a0 * uint32_t(int32_t(w[0])) + a1 * uint32_t(int32_t(w[1])) + a2 * uint32_t(int32_t(w[2])) + a3 * uint32_t(int32_t(w[3]));
      }
    }
  }
  for (int i = 0; i < MR; i++) for (int j = 0; j < kNr; j++) c[i * ldc + j] = int32_t(acc[i][j]);
}

void ukr(int mr, long groups, const uint8_t* a, long lda, const uint8_t* b, int32_t* c, long ldc, bool accumulate) {
  switch (mr) {
    case 1: tile<1>(groups, a, lda, b, c, ldc, accumulate); break;
    case 2: tile<2>(groups, a, lda, b, c, ldc, accumulate); break;
    case 3: tile<3>(groups, a, lda, b, c, ldc, accumulate); break;
    default: tile<4>(groups, a, lda, b, c, ldc, accumulate); break;
  }
}

uint32_t pack_row(const uint8_t* src, long K, long kpad, uint8_t flip, uint8_t* dst) { return int8_pack_row_scalar(src, K, kpad, flip, 1, dst); }

const Int8GemmIsa kGeneric{"generic", kNr, kKg, 1, 1, kMr, ukr, int8_epilogue_scalar, pack_row, int8_quantize_scalar, int8_range_scalar, direct::int8_conv_direct, direct::kDirectR * direct::kDirectVl, false};

// clamp(r + zp) for a rounded product r, as quantizeValue: NaN, infinities and |r| >= 2^63 give qmin.
inline double clamp_rounded(float r, double zp, double qmin, double qmax) {
  if (!(std::fabs(double(r)) < 9223372036854775808.0)) return qmin;
  const double q = double(r) + zp;
  return q < qmin ? qmin : q > qmax ? qmax : q;
}

}  // namespace

void int8_epilogue_scalar(const Int8Epilogue& e, const int32_t* tile, long ldt, long m0, long rows, long n0, long cols) {
  // every field in a local: the byte stores below may alias anything, so the compiler would reload
  // the struct's fields for each element otherwise
  const uint32_t* rowsum = e.rowsum;
  const int32_t* zw = e.zw;
  const uint32_t* cterm = e.cterm;
  const float* mult = e.mult;
  const float* bias = e.bias;
  const long cs = e.chanStride;
  const float inv = e.inv;
  const double zp = e.zp, qmin = e.qmin, qmax = e.qmax;
  for (long i = 0; i < rows; i++) {
    const long m = m0 + i;
    const uint32_t rs = rowsum[m];
    const long base = int8_out_index(e, m, n0);
    const int32_t* t = tile + i * ldt;
    if (e.kind == 0) {
      float* o = static_cast<float*>(e.out) + base;
      for (long j = 0; j < cols; j++) {
        const long n = n0 + j;
        const uint32_t acc = uint32_t(t[j]) - uint32_t(zw[n]) * rs + cterm[n];
        float real = float(double(int32_t(acc)) * double(mult[n]));
        if (bias != nullptr) real = real + bias[n];
        o[j * cs] = real;
      }
      continue;
    }
    uint8_t* o = static_cast<uint8_t*>(e.out) + base;  // int8 bits when outSigned
    for (long j = 0; j < cols; j++) {
      const long n = n0 + j;
      const uint32_t acc = uint32_t(t[j]) - uint32_t(zw[n]) * rs + cterm[n];
      float real = float(double(int32_t(acc)) * double(mult[n]));
      if (bias != nullptr) real = real + bias[n];
      o[j * cs] = uint8_t(int(clamp_rounded(int8_round_half_even(real * inv), zp, qmin, qmax)));
    }
  }
}

uint32_t int8_pack_row_scalar(const uint8_t* src, long K, long kpad, uint8_t flip, int xbytes, uint8_t* dst) {
  uint32_t s = 0;
  if (xbytes == 1) {
    for (long k = 0; k < K; k++) { const uint8_t u = src[k] ^ flip; dst[k] = u; s += u; }
    for (long k = K; k < kpad; k++) dst[k] = 0;
  } else {
    for (long k = 0; k < K; k++) { const uint16_t u = uint8_t(src[k] ^ flip); std::memcpy(dst + 2 * k, &u, 2); s += u; }
    for (long k = K; k < kpad; k++) { dst[2 * k] = 0; dst[2 * k + 1] = 0; }
  }
  return s;
}

void int8_quantize_scalar(const float* x, long n, float inv, long zp, bool sgn, uint8_t* out) {
  const double lo = sgn ? -128 : 0, hi = sgn ? 127 : 255, z = double(zp);
  for (long i = 0; i < n; i++) out[i] = uint8_t(int(clamp_rounded(int8_round_half_even(x[i] * inv), z, lo, hi)));  // int8 bits when signed
}

long int8_range_scalar(const float* x, long n, float* lo, float* hi) {
  float l = INFINITY, h = -INFINITY;
  for (long i0 = 0; i0 < n; i0 += 4096) {
    const long i1 = i0 + 4096 < n ? i0 + 4096 : n;
    float s = 0;
    for (long i = i0; i < i1; i++) { const float v = x[i]; l = v < l ? v : l; h = v > h ? v : h; s += v - v; }
    if (s != 0 || s != s) {  // a NaN or an infinity in this block: find the first
      for (long i = i0; i < i1; i++) if (!std::isfinite(x[i])) { *lo = l; *hi = h; return i; }
    }
  }
  *lo = l; *hi = h;
  return -1;
}

const Int8GemmIsa* int8_gemm_generic() { return &kGeneric; }

#if defined(TS_NO_X86_PATHS)
const Int8GemmIsa* int8_gemm_avx2() { return nullptr; }
const Int8GemmIsa* int8_gemm_avxvnni() { return nullptr; }
const Int8GemmIsa* int8_gemm_avx512() { return nullptr; }
const Int8GemmIsa* int8_gemm_vnni() { return nullptr; }
#endif

}  // namespace ts
