// The per-instruction-set parts of the int8 GEMM behind int8Linear (int8_linear.cc drives them):
// the packed layouts, the micro-kernel, the epilogue and the activation kernels each path provides
// (int8_gemm_generic.cc, int8_gemm_avx2.cc, int8_gemm_avx512.cc). No N-API here: the ISA translation
// units include it.
//
// The product is raw[m][n] = sum_k a[m][k] * b[n][k] with a unsigned 8-bit (activations, shifted
// by +128 first when they are int8) and b signed 8-bit (weights), accumulated in 32-bit registers
// that wrap (never saturate): the zero points are applied afterwards, in the epilogue, in the same
// wrapping arithmetic, so the result equals the reference's int32 sum bit for bit.
//
// Packed weights: output channels in panels of `nr`, K in groups of `kg` consecutive values; panel p,
// group g holds for each of its nr channels j the kg values b[p nr + j][g kg .. g kg + kg) (zeros past
// N and past K), as `wbytes`-byte integers. Packed activations: one row per m of G kg values (zeros past
// K), as `xbytes`-byte unsigned integers, rows `lda` bytes apart.
//
//   path     kernel instruction              nr  kg  wbytes xbytes  mr
//   vnni     vpdpbusd zmm (u8 x s8 -> s32)    64   4   1      1      6
//   avx512   vpmaddwd zmm (s16 x s16 -> s32)  64   2   2      2      6
//   avxvnni  vpdpbusd ymm, VEX (AVX-VNNI)     16   4   1      1      6
//   avx2     vpmaddwd ymm (s16 x s16 -> s32)  16   2   2      2      6
//   generic  portable int32 loops             16   4   1      1      4
//
// AVX2 and AVX-512 without VNNI widen both operands to int16 and use vpmaddwd, whose pair sums
// (at most 2 x 255 x 128 = 65280 in magnitude) cannot overflow its 32-bit lanes; vpmaddubsw, which
// would take the bytes directly, saturates its int16 pair sums (255 x -128 x 2 = -65280 < -32768) and
// is therefore not used.
//
// Every SIMD epilogue, quantizer and range finder performs the scalar one's IEEE operations lane by
// lane (int32 -> double is exact, one double multiply, one rounding to float, one float add; rounding
// to nearest even for the quantizer), so every path gives the scalar functions' bits; where a vector
// form would need another operation order (a zero point beyond 2^24, tails shorter than a vector)
// it calls the scalar function.
#pragma once
#include <cmath>
#include <cstdint>

namespace ts {

// The tail of the int8 GEMM (see int8_linear.cc, step 4): per element
//   acc  = raw - zw[n] rowsum[m] + cterm[n]                 (uint32, wrapping)
//   real = float(double(int32(acc)) * double(mult[n])) (+ bias[n], float)
//   out  = real (kind 0) or clamp(nearbyint(real * inv) + zp) (kind 1; NaN, |r| >= 2^63 -> qmin).
// Output element (m, n) goes to out[(m / rowsPerImage) * imageStride + n * chanStride + (m % rowsPerImage) * rowStride]:
// a row-major (M, N) matrix is rowsPerImage = M, rowStride = N, chanStride = 1; a convolution's NCHW
// output is rowsPerImage = OH OW, imageStride = N OH OW, chanStride = OH OW, rowStride = 1.
struct Int8Epilogue {
  const uint32_t* rowsum;  // (M)
  const int32_t* zw;       // (N)
  const uint32_t* cterm;   // (N): K zx zw[n] - zx colsum[n]
  const float* mult;       // (N)
  const float* bias;       // (N) or null
  int kind;                // 0 float32, 1 requantize
  bool outSigned;
  float inv;
  double zp, qmin, qmax;
  long rowsPerImage, imageStride, chanStride, rowStride;
  void* out;
};

// The direct convolution for few output channels (int8_conv_direct.h): stride 1, groups 1.
//   x: (N, C, hp, wp) int32 planes holding input - zx, zero in the padding, plus slack after the
//      last image of (kw - 1) dw + the path's lanes per task values (read by dropped lanes only);
//   w: (O, C kh kw) int32, w - zw[o]; mult[o] = float(xScale * double(wScale[o])); bias or null;
//   out: (N, O, oh, ow) float32 (kind 0) or requantized bytes (kind 1) as Int8Epilogue.
struct Int8DirectConv {
  const int32_t* x;
  long c, hp, wp, kh, kw, dh, dw, oh, ow, O;
  const int32_t* w;
  // pairs: xpairs[q] = int16 x[q] | int16 x[q + dw] << 16 (same layout and slack as x), wpairs (O, C kh
  // ceil(kw / 2)) = int16 w[.., 2jp] | int16 w[.., 2jp + 1] << 16 (0 past kw); needs |w| <= 32767
  bool pairs;
  const int32_t* xpairs;
  const int32_t* wpairs;
  const float* mult;
  const float* bias;
  // quads (the vnni and avxvnni paths, when every zw[o] is 0): xquads[q] holds the four bytes
  // u[q], u[q + dw], u[q + 2 dw], u[q + 3 dw] of the flat padded planes u = x as uint8 (int8 input
  // shifted by +128, its zero point with it; the padding holds that zero point zu), wquads (O, C kh
  // ceil(kw / 4)) the int8 weights of taps (c, i, 4 jq .. 4 jq + 3) (0 past kw), so one vpdpbusd does
  // four taps; the raw sums sum_k u w then exceed the reference's sum_k (x - zx) w by corr[o] = zu
  // sum_k w[o][k] (wrapping), which the epilogue subtracts; corr is null otherwise
  bool quads;
  const int32_t* xquads;
  const int32_t* wquads;
  const int32_t* corr;
  // fexact[o] != 0: 255 sum_k |w[o][k]| < 2^24, so every accumulator of channel o is below 2^24 in
  // magnitude and float(acc) * mult[o] has the bits of float(double(acc) * double(mult[o])); or null
  const uint8_t* fexact;
  int kind;
  float inv;
  double zp, qmin, qmax;
  void* out;
};

struct Int8GemmIsa {
  const char* name;  // "vnni", "avx512", "avxvnni", "avx2", "generic"
  int nr, kg, wbytes, xbytes, mr;
  // c[i][j] (+)= sum over groups of a row i x panel column j, for i < mr (1 <= mr <= this->mr), j < nr:
  // a: packed activation rows (lda bytes apart), b: one packed weight panel (from group 0 of the
  // range), c: int32 rows of nr values, ldc apart (overwritten, or added to when accumulate).
  void (*ukr)(int mr, long groups, const uint8_t* a, long lda, const uint8_t* b, int32_t* c, long ldc, bool accumulate);
  // The epilogue over raw sums tile[i][j] (ldt apart) of rows m0.. m0 + rows, channels n0.. n0 + cols.
  void (*epilogue)(const Int8Epilogue& e, const int32_t* tile, long ldt, long m0, long rows, long n0, long cols);
  // One activation row: dst[k] = src[k] ^ flip as xbytes-byte integers for k < K, zeros up to kpad;
  // returns sum_k (src[k] ^ flip) (wrapping uint32).
  uint32_t (*pack_row)(const uint8_t* src, long K, long kpad, uint8_t flip, uint8_t* dst);
  // out[i] = clamp(nearbyint(x[i] * inv) + zp) over [-128, 127] (sgn, int8 bits) or [0, 255];
  // NaN, infinite and |r| >= 2^63 give the range's minimum (quantizeValue in src/backend/quantized.ts).
  void (*quantize)(const float* x, long n, float inv, long zp, bool sgn, uint8_t* out);
  // min and max of x[0..n) and the index of the first NaN or infinity (-1: none; min and max are then
  // unspecified). n >= 1.
  long (*range)(const float* x, long n, float* lo, float* hi);
  // The direct convolution: tasks [t0, t1), task t = image t / B, lanes (t % B) direct_lanes ..,
  // B = ceil(oh wp / direct_lanes) (int8_conv_direct.h).
  void (*conv_direct)(const Int8DirectConv& p, long t0, long t1);
  long direct_lanes;
  bool direct_quads;  // conv_direct runs Int8DirectConv::quads (vpdpbusd)
};

const Int8GemmIsa* int8_gemm_generic();
const Int8GemmIsa* int8_gemm_avx2();     // nullptr when not compiled in
const Int8GemmIsa* int8_gemm_avxvnni();  // AVX2 + AVX-VNNI (VEX), nullptr when not compiled in
const Int8GemmIsa* int8_gemm_avx512();   // AVX-512BW, nullptr when not compiled in
const Int8GemmIsa* int8_gemm_vnni();     // AVX-512 VNNI, nullptr when not compiled in

// The portable functions (int8_gemm_generic.cc); the SIMD paths call them for their tails.
void int8_epilogue_scalar(const Int8Epilogue& e, const int32_t* tile, long ldt, long m0, long rows, long n0, long cols);
uint32_t int8_pack_row_scalar(const uint8_t* src, long K, long kpad, uint8_t flip, int xbytes, uint8_t* dst);
void int8_quantize_scalar(const float* x, long n, float inv, long zp, bool sgn, uint8_t* out);
long int8_range_scalar(const float* x, long n, float* lo, float* hi);

// Where the epilogue writes element (m, n).
inline long int8_out_index(const Int8Epilogue& e, long m, long n) {
  const long img = m / e.rowsPerImage, r = m - img * e.rowsPerImage;
  return img * e.imageStride + n * e.chanStride + r * e.rowStride;
}

// nearbyint(p) in the default rounding mode (half to even) without a libm call (baseline x86-64 has
// no roundss): below 2^22, adding and subtracting 1.5 * 2^23 rounds p to an integer in one float
// rounding (the sum lies in [2^23, 2^24), where float spacing is 1; 1.5 * 2^23 is even, so ties keep
// their parity); larger or non-finite values are integers, infinities or NaN already, or go to libm.
inline float int8_round_half_even(float p) {
  if (std::fabs(p) < 4194304.0f) {
    constexpr float b = 12582912.0f;  // (p + b) - b is not simplified without -ffast-math
    return (p + b) - b;
  }
  return std::nearbyint(p);
}

}  // namespace ts
