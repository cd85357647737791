// weightOnlyLinear: y = x @ dequant(W)^T + b for the weight-only quantized Linear layers (issue #20):
// x (M, K) float32, W int8 (N, K) or int4 (N, K/2 bytes, column 2j in the low nibble of byte j,
// 2j+1 in the high one) with one float32 scale and one int32 zero point per group of G columns,
// y (M, N) float32. The twin of weightOnlyLinearReference in src/backend/weight_only.ts (layout
// there); TypeScript binding: src/backends/native/weight_only_linear.ts.
//
// One schedule: output rows are spread over the thread pool; each row is dequantized into a
// thread-local float buffer of K values (dequant[k] = scale * (q - zero), exactly the twin's
// float32 values), then dotted with each of the M input rows with 8 independent float32
// accumulators (portable C++, vectorized by the compiler for the baseline ISA), plus the bias.
// The float weight never exists beyond one row per thread. Sums run in float32 in a different
// order than the twin's double sums: results agree to rounding (tests compare with a tolerance).

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "binding.h"
#include "threadpool.h"

namespace ts {

namespace {

void dequant_row(int bits, long n, long K, long G, const uint8_t* data, const float* scales, const int32_t* zeros, float* out) {
  const long nG = K / G;
  for (long g = 0; g < nG; g++) {
    const float s = scales[n * nG + g];
    const int z = zeros[n * nG + g];
    const long k0 = g * G;
    if (bits == 8) {
      const int8_t* d = reinterpret_cast<const int8_t*>(data) + n * K;
      for (long k = k0; k < k0 + G; k++) out[k] = s * float(int(d[k]) - z);
    } else {
      const uint8_t* d = data + (n * K) / 2;
      for (long k = k0; k < k0 + G; k += 2) {
        const uint8_t b = d[k >> 1];
        out[k] = s * float(int(b & 15) - z);
        out[k + 1] = s * float(int(b >> 4) - z);
      }
    }
  }
}

float dot(const float* a, const float* b, long K) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  long k = 0;
  for (; k + 8 <= K; k += 8) {
    for (int j = 0; j < 8; j++) acc[j] += a[k + j] * b[k + j];
  }
  float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; k < K; k++) s += a[k] * b[k];
  return s;
}

}  // namespace

// weightOnlyLinear(x, rows, N, K, G, bits, data, scales, zeros, bias | null, out)
void WeightOnlyLinear(Call& c) {
  void *xd, *dd, *sd, *zd, *bd = nullptr, *od;
  size_t xl, dl, sl, zl, bl = 0, ol;
  const int xt = c.array(0, &xd, &xl, "x");
  const long M = c.integer(1, "rows", 0, 2147483647L), N = c.integer(2, "N", 0, 2147483647L), K = c.integer(3, "K", 1, 2147483647L);
  const long G = c.integer(4, "groupSize", 1, 2147483647L);
  const int bits = int(c.integer(5, "bits", 4, 8));
  const int dt = c.array(6, &dd, &dl, "data"), st = c.array(7, &sd, &sl, "scales"), zt = c.array(8, &zd, &zl, "zeroPoints");
  const bool hasBias = c.has(9);
  const int bt = hasBias ? c.array(9, &bd, &bl, "bias") : DT_F32;
  const int ot = c.array(10, &od, &ol, "out");
  if (bits != 4 && bits != 8) c.fail("bits must be 4 or 8, got " + std::to_string(bits));
  if (xt != DT_F32 || st != DT_F32 || bt != DT_F32 || ot != DT_F32) c.fail("x, scales, bias and out must be Float32Arrays");
  if (dt != DT_U8) c.fail(std::string("data must be a Uint8Array (int8 values viewed as bytes), got ") + dt_name(dt));
  if (zt != DT_I32) c.fail("zeroPoints must be an Int32Array");
  if (K % G != 0 || (bits == 4 && G % 2 != 0)) c.fail("group size " + std::to_string(G) + " must divide K = " + std::to_string(K) + (bits == 4 ? " and be even" : ""));
  const double need = bits == 8 ? double(N) * double(K) : double(N) * double(K) / 2;
  if (double(dl) != need) c.fail("data has " + std::to_string(dl) + " bytes, expected " + std::to_string(long(need)) + " for (" + std::to_string(N) + ", " + std::to_string(K) + ") at " + std::to_string(bits) + " bits");
  const long groups = N * (K / G);
  if (long(sl) != groups || long(zl) != groups) c.fail("scales and zeroPoints need " + std::to_string(groups) + " values, got " + std::to_string(sl) + " and " + std::to_string(zl));
  if (double(xl) < double(M) * double(K)) c.fail("x has " + std::to_string(xl) + " values, fewer than rows x K");
  if (double(ol) < double(M) * double(N)) c.fail("out has " + std::to_string(ol) + " values, fewer than rows x N");
  if (hasBias && long(bl) != N) c.fail("bias has " + std::to_string(bl) + " values, expected N = " + std::to_string(N));
  const float* x = static_cast<const float*>(xd);
  const uint8_t* data = static_cast<const uint8_t*>(dd);
  const float* scales = static_cast<const float*>(sd);
  const int32_t* zeros = static_cast<const int32_t*>(zd);
  const float* bias = static_cast<const float*>(bd);
  float* y = static_cast<float*>(od);
  const long grain = std::max(1L, 16384L / std::max(1L, K * std::max(1L, M)));
  parallel_for(N, grain, [&](long n0, long n1) {
    std::vector<float> row(static_cast<size_t>(K));
    for (long n = n0; n < n1; n++) {
      dequant_row(bits, n, K, G, data, scales, zeros, row.data());
      const float b = bias ? bias[n] : 0.0f;
      for (long m = 0; m < M; m++) y[m * N + n] = dot(x + m * K, row.data(), K) + b;
    }
  });
}

}  // namespace ts
