// Branch-free float32 exp, shared by the per-ISA kernels (kernels_impl.h), the fused LayerNorm/GELU
// and attention's float32 score rows (layer_norm_gelu_impl.h), so the loops vectorize on every path (libm's expf
// is a scalar call). No include guard and no includes on purpose: include it INSIDE an anonymous
// namespace, after <stdint.h>, so every translation unit gets its own internal copy (a copy compiled
// with -mavx512f must never be merged by the linker into the baseline path).
//
// exp(x) = 2^n e^r with n = round(x log2 e) (the 1.5 * 2^23 trick, exact for |n| < 2^22),
// r = x - n ln2 by a Cody-Waite split (|r| <= ln2/2), and e^r = 1 + r + r^2 P(r), P Cephes' expf
// minimax polynomial (relative error < 2 ulp).

inline float f32_from_bits(int32_t i) { float f; __builtin_memcpy(&f, &i, 4); return f; }
inline int32_t f32_bits(float f) { int32_t i; __builtin_memcpy(&i, &f, 4); return i; }

// e^r for |r| <= ln2/2.
inline float exp_poly_f32(float r) {
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  return (r * r) * p + r + 1.0f;
}

// Full range: 2^n applied as two factors 2^(n/2) 2^(n - n/2), each a normal float, so results down
// to the subnormal range and up to FLT_MAX come out right; x > 88.72... gives inf, x < -103.97... 0,
// NaN stays NaN. The elementwise exp kernel uses this one.
inline float exp_f32(float x) {
  const float hi = 88.7228394f, lo = -103.972084f;
  const float xc = x > hi ? hi : (x < lo ? lo : x);
  const float t = xc * 1.44269504088896341f + 12582912.0f;
  const int32_t n = f32_bits(t) - 0x4B400000;
  const float nf = t - 12582912.0f;
  const float e = exp_poly_f32((xc - nf * 0.693359375f) - nf * -2.12194440e-4f);
  const int32_t n1 = n >> 1, n2 = n - n1;
  const float y = e * f32_from_bits((n1 + 127) << 23) * f32_from_bits((n2 + 127) << 23);
  return x != x ? x : (x > hi ? __builtin_inff() : y);
}

// Clamped to [-87, 88] (one 2^n factor, fewer operations): far-negative arguments give ~1e-38
// instead of 0, +inf gives e^88. For finite inputs whose result only matters to absolute
// precision: GELU's tanh/pdf.
inline float exp_f32_clamped(float x) {
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  const float fn = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  const float p = exp_poly_f32((x - fn * 0.693359375f) - fn * -2.12194440e-4f);
  return p * f32_from_bits((int32_t(fn) + 127) << 23);
}
