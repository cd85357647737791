// csrLinear: y = x W^T + b with W (rows, cols) in CSR form (crow_indices, col_indices, values as
// PyTorch's sparse CSR tensors), x (batch, cols) and y (batch, rows) row-major. The twin of
// csrLinearReference in src/compress/prune/csr.ts.
//
// Two schedules:
//   - batch 1: one dot product per output row, values[k] * x[col[k]] over the row's nonzeros
//     (AVX-512 / AVX2: gathers of x, 16 / 8 nonzeros per instruction).
//   - batch >= 2: x is packed transposed in tiles of TB batch rows (xt[c][j] = x[b0 + j][c]), so
//     every nonzero becomes an AXPY of TB contiguous values: acc[0..TB) += values[k] * xt[col[k]].
//     Results go through a small row-block buffer so y is written in contiguous runs.
// Output rows are spread over the thread pool (dynamic chunks). float32 has AVX-512, AVX2 and
// portable loops, chosen by the addon's active CPU path (TENSORSLIM_CPU / setCpuPath); float64 runs
// the portable loops. The SIMD paths live in this file as functions compiled for their instruction
// set with GCC/Clang target attributes, and run only when the active path says the CPU has it.
//
// Safety: shapes, lengths and crow_indices (starts at 0, never decreases, ends at nnz within the
// arrays) are checked before any kernel runs. Column indices are checked inside the kernels: an
// out-of-range one is never read through (masked gather / index clamped to 0), and the call then
// throws, so a corrupt matrix gives an error, not a read outside x.
#include "sparse.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "common.h"
#include "threadpool.h"

#if !defined(TS_NO_X86_PATHS) && (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
#define TS_SPARSE_X86 1
#include <immintrin.h>
#define TS_TARGET_AVX512 __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")))
#define TS_TARGET_AVX2 __attribute__((target("avx2,fma")))
#endif

namespace ts {
namespace {

struct Csr {
  long rows, cols;
  const int32_t* crow;
  const int32_t* col;
};

enum Path { P_GENERIC = 0, P_AVX2, P_AVX512 };

Path current_path() {
#ifdef TS_SPARSE_X86
  const char* n = active()->name;
  if (std::strcmp(n, "avx512") == 0) return P_AVX512;
  if (std::strcmp(n, "avx2") == 0) return P_AVX2;
#endif
  return P_GENERIC;
}

// ---------------------------------------------------------------- portable loops (any T)

// batch 1: y[r] = sum_k values[k] x[col[k]] + bias[r], rows [r0, r1)
template <typename T>
void dot_rows_generic(const Csr& w, const T* val, const T* x, const T* bias, T* y, long r0, long r1, uint32_t* bad) {
  const uint32_t ucols = uint32_t(w.cols);
  uint32_t b = 0;
  for (long r = r0; r < r1; r++) {
    long k = w.crow[r];
    const long e = w.crow[r + 1];
    T s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (; k + 4 <= e; k += 4) {
      uint32_t c0 = uint32_t(w.col[k]), c1 = uint32_t(w.col[k + 1]), c2 = uint32_t(w.col[k + 2]), c3 = uint32_t(w.col[k + 3]);
      b |= (c0 >= ucols) | (c1 >= ucols) | (c2 >= ucols) | (c3 >= ucols);
      c0 = c0 < ucols ? c0 : 0; c1 = c1 < ucols ? c1 : 0; c2 = c2 < ucols ? c2 : 0; c3 = c3 < ucols ? c3 : 0;
      s0 += val[k] * x[c0]; s1 += val[k + 1] * x[c1]; s2 += val[k + 2] * x[c2]; s3 += val[k + 3] * x[c3];
    }
    for (; k < e; k++) {
      uint32_t c = uint32_t(w.col[k]);
      b |= c >= ucols;
      c = c < ucols ? c : 0;
      s0 += val[k] * x[c];
    }
    y[r] = ((s0 + s1) + (s2 + s3)) + (bias ? bias[r] : T(0));
  }
  if (b) *bad = 1;
}

// batch >= 2: rows [r0, r1) of one packed tile. xt: (cols, TB) with TB the tile stride; tb <= TB
// live batch rows starting at b0. Writes out[(b0 + j) * rows + r] for j < tb.
template <typename T, int TB>
void axpy_rows_generic(const Csr& w, const T* val, const T* xt, const T* bias, T* out, long b0, long tb, long r0, long r1, uint32_t* bad) {
  constexpr int RB = 8;
  alignas(64) T buf[RB][TB];
  const uint32_t ucols = uint32_t(w.cols);
  uint32_t b = 0;
  for (long rb = r0; rb < r1; rb += RB) {
    const long nr = std::min<long>(RB, r1 - rb);
    for (long i = 0; i < nr; i++) {
      T acc[TB];
      for (int j = 0; j < TB; j++) acc[j] = 0;
      const long e = w.crow[rb + i + 1];
      for (long k = w.crow[rb + i]; k < e; k++) {
        const uint32_t c = uint32_t(w.col[k]);
        if (c >= ucols) { b = 1; continue; }
        const T v = val[k];
        const T* xr = xt + long(c) * TB;
        for (int j = 0; j < TB; j++) acc[j] += v * xr[j];
      }
      for (int j = 0; j < TB; j++) buf[i][j] = acc[j];
    }
    for (long j = 0; j < tb; j++) {
      T* o = out + (b0 + j) * w.rows + rb;
      for (long i = 0; i < nr; i++) o[i] = buf[i][j] + (bias ? bias[rb + i] : T(0));
    }
  }
  if (b) *bad = 1;
}

#ifdef TS_SPARSE_X86
// ---------------------------------------------------------------- AVX-512 (float32)

TS_TARGET_AVX512
void dot_rows_avx512(const Csr& w, const float* val, const float* x, const float* bias, float* y, long r0, long r1, uint32_t* bad) {
  const __m512i vcols = _mm512_set1_epi32(int(w.cols));
  const __m512 zero = _mm512_setzero_ps();
  uint32_t b = 0;
  for (long r = r0; r < r1; r++) {
    long k = w.crow[r];
    const long e = w.crow[r + 1];
    __m512 a0 = zero, a1 = zero;
    for (; k + 32 <= e; k += 32) {
      const __m512i i0 = _mm512_loadu_si512(w.col + k), i1 = _mm512_loadu_si512(w.col + k + 16);
      const __mmask16 m0 = _mm512_cmplt_epu32_mask(i0, vcols), m1 = _mm512_cmplt_epu32_mask(i1, vcols);
      b |= uint32_t(uint16_t(~m0)) | uint32_t(uint16_t(~m1));
      const __m512 g0 = _mm512_mask_i32gather_ps(zero, m0, i0, x, 4), g1 = _mm512_mask_i32gather_ps(zero, m1, i1, x, 4);
      a0 = _mm512_fmadd_ps(_mm512_loadu_ps(val + k), g0, a0);
      a1 = _mm512_fmadd_ps(_mm512_loadu_ps(val + k + 16), g1, a1);
    }
    for (; k < e; k += 16) {
      const long left = e - k;
      const __mmask16 live = left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1);
      const __m512i i0 = _mm512_maskz_loadu_epi32(live, w.col + k);
      const __mmask16 m0 = _mm512_mask_cmplt_epu32_mask(live, i0, vcols);
      b |= uint32_t(uint16_t(live & ~m0));
      const __m512 g0 = _mm512_mask_i32gather_ps(zero, m0, i0, x, 4);
      a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(live, val + k), g0, a0);
    }
    y[r] = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1)) + (bias ? bias[r] : 0.0f);
  }
  if (b) *bad = 1;
}

// NV vectors of 16 batch values per nonzero (TB = 16 NV).
template <int NV>
TS_TARGET_AVX512
void axpy_rows_avx512(const Csr& w, const float* val, const float* xt, const float* bias, float* out, long b0, long tb, long r0, long r1, uint32_t* bad) {
  constexpr int TB = 16 * NV, RB = 8;
  alignas(64) float buf[RB][TB];
  const uint32_t ucols = uint32_t(w.cols);
  uint32_t b = 0;
  for (long rb = r0; rb < r1; rb += RB) {
    const long nr = std::min<long>(RB, r1 - rb);
    for (long i = 0; i < nr; i++) {
      __m512 acc[NV];
      for (int j = 0; j < NV; j++) acc[j] = _mm512_setzero_ps();
      const long e = w.crow[rb + i + 1];
      for (long k = w.crow[rb + i]; k < e; k++) {
        const uint32_t c = uint32_t(w.col[k]);
        if (c >= ucols) { b = 1; continue; }
        const __m512 v = _mm512_set1_ps(val[k]);
        const float* xr = xt + long(c) * TB;
        for (int j = 0; j < NV; j++) acc[j] = _mm512_fmadd_ps(v, _mm512_load_ps(xr + 16 * j), acc[j]);
      }
      for (int j = 0; j < NV; j++) _mm512_store_ps(&buf[i][16 * j], acc[j]);
    }
    for (long j = 0; j < tb; j++) {
      float* o = out + (b0 + j) * w.rows + rb;
      for (long i = 0; i < nr; i++) o[i] = buf[i][j] + (bias ? bias[rb + i] : 0.0f);
    }
  }
  if (b) *bad = 1;
}

// ---------------------------------------------------------------- AVX2 (float32)

TS_TARGET_AVX2
void dot_rows_avx2(const Csr& w, const float* val, const float* x, const float* bias, float* y, long r0, long r1, uint32_t* bad) {
  const __m256i vcols = _mm256_set1_epi32(int(w.cols));
  const __m256i minus1 = _mm256_set1_epi32(-1);
  const __m256 zero = _mm256_setzero_ps();
  uint32_t b = 0;
  for (long r = r0; r < r1; r++) {
    long k = w.crow[r];
    const long e = w.crow[r + 1];
    __m256 a0 = zero, a1 = zero;
    for (; k + 16 <= e; k += 16) {
      const __m256i i0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.col + k));
      const __m256i i1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.col + k + 8));
      const __m256i ok0 = _mm256_and_si256(_mm256_cmpgt_epi32(vcols, i0), _mm256_cmpgt_epi32(i0, minus1));
      const __m256i ok1 = _mm256_and_si256(_mm256_cmpgt_epi32(vcols, i1), _mm256_cmpgt_epi32(i1, minus1));
      b |= uint32_t(_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_and_si256(ok0, ok1))) != 0xFF);
      const __m256 g0 = _mm256_mask_i32gather_ps(zero, x, i0, _mm256_castsi256_ps(ok0), 4);
      const __m256 g1 = _mm256_mask_i32gather_ps(zero, x, i1, _mm256_castsi256_ps(ok1), 4);
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(val + k), g0, a0);
      a1 = _mm256_fmadd_ps(_mm256_loadu_ps(val + k + 8), g1, a1);
    }
    a0 = _mm256_add_ps(a0, a1);
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(a0), _mm256_extractf128_ps(a0, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_shuffle_ps(h, h, 1));
    float s = _mm_cvtss_f32(h);
    for (; k < e; k++) {
      uint32_t c = uint32_t(w.col[k]);
      b |= c >= uint32_t(w.cols);
      c = c < uint32_t(w.cols) ? c : 0;
      s += val[k] * x[c];
    }
    y[r] = s + (bias ? bias[r] : 0.0f);
  }
  if (b) *bad = 1;
}

// NV vectors of 8 batch values per nonzero (TB = 8 NV).
template <int NV>
TS_TARGET_AVX2
void axpy_rows_avx2(const Csr& w, const float* val, const float* xt, const float* bias, float* out, long b0, long tb, long r0, long r1, uint32_t* bad) {
  constexpr int TB = 8 * NV, RB = 8;
  alignas(64) float buf[RB][TB];
  const uint32_t ucols = uint32_t(w.cols);
  uint32_t b = 0;
  for (long rb = r0; rb < r1; rb += RB) {
    const long nr = std::min<long>(RB, r1 - rb);
    for (long i = 0; i < nr; i++) {
      __m256 acc[NV];
      for (int j = 0; j < NV; j++) acc[j] = _mm256_setzero_ps();
      const long e = w.crow[rb + i + 1];
      for (long k = w.crow[rb + i]; k < e; k++) {
        const uint32_t c = uint32_t(w.col[k]);
        if (c >= ucols) { b = 1; continue; }
        const __m256 v = _mm256_set1_ps(val[k]);
        const float* xr = xt + long(c) * TB;
        for (int j = 0; j < NV; j++) acc[j] = _mm256_fmadd_ps(v, _mm256_load_ps(xr + 8 * j), acc[j]);
      }
      for (int j = 0; j < NV; j++) _mm256_store_ps(&buf[i][8 * j], acc[j]);
    }
    for (long j = 0; j < tb; j++) {
      float* o = out + (b0 + j) * w.rows + rb;
      for (long i = 0; i < nr; i++) o[i] = buf[i][j] + (bias ? bias[rb + i] : 0.0f);
    }
  }
  if (b) *bad = 1;
}
#endif  // TS_SPARSE_X86

// ---------------------------------------------------------------- driver

// Aligned scratch for the packed tiles (64-byte aligned for the vector loads).
template <typename T>
struct Scratch {
  std::vector<T> v;
  T* p = nullptr;
  explicit Scratch(size_t n) : v(n + 64 / sizeof(T)) {
    uintptr_t a = reinterpret_cast<uintptr_t>(v.data());
    p = reinterpret_cast<T*>((a + 63) & ~uintptr_t(63));
  }
};

// Rows per parallel chunk: enough multiply-adds (about 16k) to pay for a task.
long row_grain(const Csr& w, long batch) {
  const long nnz = w.crow[w.rows];
  const long per_row = std::max<long>(1, (nnz * std::max<long>(1, batch)) / std::max<long>(1, w.rows));
  return std::max<long>(8, 16384 / per_row);
}

template <typename T>
using DotFn = void (*)(const Csr&, const T*, const T*, const T*, T*, long, long, uint32_t*);
template <typename T>
using AxpyFn = void (*)(const Csr&, const T*, const T*, const T*, T*, long, long, long, long, uint32_t*);

template <typename T>
void csr_linear(const Csr& w, const T* val, const T* x, long batch, const T* bias, T* out, DotFn<T> dot, AxpyFn<T> axpy, int TB, uint32_t* bad) {
  if (batch <= 0 || w.rows <= 0) return;
  const long grain = row_grain(w, batch);
  if (batch == 1) {
    parallel_for(w.rows, grain, [&](long r0, long r1) {
      uint32_t f = 0;
      dot(w, val, x, bias, out, r0, r1, &f);
      if (f) __atomic_store_n(bad, 1u, __ATOMIC_RELAXED);
    });
    return;
  }
  // pack every tile: xt[t][c][j] = x[(t TB + j) cols + c], zeros past the batch
  const long tiles = (batch + TB - 1) / TB;
  const long cols = w.cols;
  Scratch<T> xt(size_t(tiles) * size_t(std::max<long>(cols, 1)) * size_t(TB));
  T* xp = xt.p;
  parallel_for(tiles * cols, std::max<long>(64, 8192 / TB), [&](long lo, long hi) {
    for (long q = lo; q < hi; q++) {
      const long t = q / cols, c = q % cols;
      T* dst = xp + (t * cols + c) * TB;
      const long b0 = t * TB, tb = std::min<long>(TB, batch - b0);
      long j = 0;
      for (; j < tb; j++) dst[j] = x[(b0 + j) * cols + c];
      for (; j < TB; j++) dst[j] = T(0);
    }
  });
  parallel_for(w.rows, std::max<long>(8, grain / tiles), [&](long r0, long r1) {
    uint32_t f = 0;
    for (long t = 0; t < tiles; t++) {
      const long b0 = t * TB;
      axpy(w, val, xp + t * cols * TB, bias, out, b0, std::min<long>(TB, batch - b0), r0, r1, &f);
    }
    if (f) __atomic_store_n(bad, 1u, __ATOMIC_RELAXED);
  });
}

// Tile width for a batch: the fewest vectors that hold it, up to 4 (so TB <= 4 vector widths).
int vectors_for(long batch, int width) {
  const long v = (batch + width - 1) / width;
  return int(std::min<long>(4, std::max<long>(1, v)));
}

void run_f32(const Csr& w, const float* val, const float* x, long batch, const float* bias, float* out, uint32_t* bad) {
  switch (current_path()) {
#ifdef TS_SPARSE_X86
    case P_AVX512: {
      const int nv = vectors_for(batch, 16);
      AxpyFn<float> f = nv == 1 ? axpy_rows_avx512<1> : nv == 2 ? axpy_rows_avx512<2> : nv == 3 ? axpy_rows_avx512<3> : axpy_rows_avx512<4>;
      csr_linear<float>(w, val, x, batch, bias, out, dot_rows_avx512, f, 16 * nv, bad);
      return;
    }
    case P_AVX2: {
      const int nv = vectors_for(batch, 8);
      AxpyFn<float> f = nv == 1 ? axpy_rows_avx2<1> : nv == 2 ? axpy_rows_avx2<2> : nv == 3 ? axpy_rows_avx2<3> : axpy_rows_avx2<4>;
      csr_linear<float>(w, val, x, batch, bias, out, dot_rows_avx2, f, 8 * nv, bad);
      return;
    }
#endif
    default: {
      const bool wide = batch > 8;
      csr_linear<float>(w, val, x, batch, bias, out, dot_rows_generic<float>,
                        wide ? axpy_rows_generic<float, 16> : axpy_rows_generic<float, 8>, wide ? 16 : 8, bad);
    }
  }
}

void run_f64(const Csr& w, const double* val, const double* x, long batch, const double* bias, double* out, uint32_t* bad) {
  const bool wide = batch > 4;
  csr_linear<double>(w, val, x, batch, bias, out, dot_rows_generic<double>,
                     wide ? axpy_rows_generic<double, 8> : axpy_rows_generic<double, 4>, wide ? 8 : 4, bad);
}

// ---------------------------------------------------------------- N-API

[[noreturn]] void fail(Napi::Env env, const std::string& msg) {
  throw Napi::Error::New(env, "native csrLinear: " + msg);
}

struct Arr {
  void* data = nullptr;
  size_t len = 0;
  napi_typedarray_type type = napi_int8_array;
};

Arr typed(Napi::Env env, const Napi::Value& v, const char* name) {
  if (!v.IsTypedArray()) fail(env, std::string(name) + " must be a typed array");
  Napi::TypedArray ta = v.As<Napi::TypedArray>();
  Arr a;
  a.len = ta.ElementLength();
  a.type = ta.TypedArrayType();
  a.data = static_cast<char*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
  return a;
}

long count(Napi::Env env, const Napi::Value& v, const char* name) {
  if (!v.IsNumber()) fail(env, std::string(name) + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d != double(long(d)) || d > 2147483647.0) fail(env, std::string(name) + " must be an integer in [0, 2^31), got " + std::to_string(d));
  return long(d);
}

const char* kind_name(napi_typedarray_type t) {
  switch (t) {
    case napi_float32_array: return "Float32Array";
    case napi_float64_array: return "Float64Array";
    case napi_int32_array: return "Int32Array";
    default: return "another typed array";
  }
}

// csrLinear(x, batch, rows, cols, crowIndices, colIndices, values, bias | null, out)
Napi::Value CsrLinear(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 9) fail(env, "expected (x, batch, rows, cols, crowIndices, colIndices, values, bias | null, out)");
  const Arr x = typed(env, info[0], "x");
  const long batch = count(env, info[1], "batch"), rows = count(env, info[2], "rows"), cols = count(env, info[3], "cols");
  const Arr crow = typed(env, info[4], "crowIndices"), col = typed(env, info[5], "colIndices"), val = typed(env, info[6], "values");
  const bool hasBias = !info[7].IsNull() && !info[7].IsUndefined();
  Arr bias;
  if (hasBias) bias = typed(env, info[7], "bias");
  const Arr out = typed(env, info[8], "out");
  const napi_typedarray_type ft = val.type;
  if (ft != napi_float32_array && ft != napi_float64_array) fail(env, std::string("values must be a Float32Array or Float64Array, got ") + kind_name(ft));
  if (x.type != ft || out.type != ft || (hasBias && bias.type != ft)) {
    fail(env, std::string("x, values, bias and out must share one float type; got x ") + kind_name(x.type) + ", values " + kind_name(ft) +
                   (hasBias ? std::string(", bias ") + kind_name(bias.type) : std::string()) + ", out " + kind_name(out.type));
  }
  if (crow.type != napi_int32_array || col.type != napi_int32_array) fail(env, "crowIndices and colIndices must be Int32Arrays");
  if (size_t(rows) + 1 != crow.len) fail(env, "crowIndices has " + std::to_string(crow.len) + " entries, expected rows + 1 = " + std::to_string(rows + 1));
  if (double(batch) * double(cols) > double(x.len)) fail(env, "x has " + std::to_string(x.len) + " values, fewer than batch x cols = " + std::to_string(batch) + " x " + std::to_string(cols));
  if (double(batch) * double(rows) > double(out.len)) fail(env, "out has " + std::to_string(out.len) + " values, fewer than batch x rows = " + std::to_string(batch) + " x " + std::to_string(rows));
  if (hasBias && bias.len != size_t(rows)) fail(env, "bias has " + std::to_string(bias.len) + " values, expected rows = " + std::to_string(rows));
  const int32_t* rp = static_cast<const int32_t*>(crow.data);
  if (rp[0] != 0) fail(env, "crowIndices must start at 0, got " + std::to_string(rp[0]));
  for (long r = 0; r < rows; r++) {
    if (rp[r + 1] < rp[r]) fail(env, "crowIndices decreases at row " + std::to_string(r) + " (" + std::to_string(rp[r]) + " -> " + std::to_string(rp[r + 1]) + ")");
  }
  const long nnz = rp[rows];
  if (size_t(nnz) > col.len || size_t(nnz) > val.len) {
    fail(env, "crowIndices ends at nnz = " + std::to_string(nnz) + " but colIndices has " + std::to_string(col.len) + " and values " + std::to_string(val.len) + " entries");
  }
  if (nnz > 0 && cols == 0) fail(env, "a matrix with 0 columns cannot hold entries");
  const Csr w{rows, cols, rp, static_cast<const int32_t*>(col.data)};
  uint32_t bad = 0;
  if (ft == napi_float32_array) {
    run_f32(w, static_cast<const float*>(val.data), static_cast<const float*>(x.data), batch,
            hasBias ? static_cast<const float*>(bias.data) : nullptr, static_cast<float*>(out.data), &bad);
  } else {
    run_f64(w, static_cast<const double*>(val.data), static_cast<const double*>(x.data), batch,
            hasBias ? static_cast<const double*>(bias.data) : nullptr, static_cast<double*>(out.data), &bad);
  }
  if (bad) fail(env, "a column index is outside [0, " + std::to_string(cols) + "); the matrix is corrupt (out was not filled)");
  return env.Undefined();
}

}  // namespace

void register_sparse(Napi::Env env, Napi::Object exports) {
  exports.Set("csrLinear", Napi::Function::New(env, CsrLinear));
}

}  // namespace ts
