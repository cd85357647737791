// csrLinear: y = x W^T + b with W (rows, cols) in CSR form (crow_indices, col_indices, values as
// PyTorch's sparse CSR tensors), x (batch, cols) and y (batch, rows) row-major. The twin of
// csrLinearReference in src/compress/prune/csr.ts. TypeScript binding: src/backends/native/csr_linear.ts.
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
// set with GCC/Clang target attributes, and run only when the active path says the CPU has it; the
// batch >= 2 tile kernel is one template (axpy_rows) over a vector type per path (Scalar, Avx2, Avx512).
//
// Safety: shapes, lengths and crow_indices (starts at 0, never decreases, ends at nnz within the
// arrays) are checked before any kernel runs. Column indices are checked inside the kernels: an
// out-of-range one is never read through (masked gather / index clamped to 0), and the call then
// throws, so a corrupt matrix gives an error, not a read outside x.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "binding.h"
#include "common.h"
#include "threadpool.h"

#if !defined(TS_NO_X86_PATHS) && (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
#define TS_SPARSE_X86 1
#include <immintrin.h>
#define TS_TARGET_AVX512 __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")))
#define TS_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define TS_FLATTEN __attribute__((flatten))
#if defined(__GNUC__) && !defined(__clang__)
// axpy_rows<Avx512/Avx2, NV> is only ever inlined into its ISA's flattened wrapper (no standalone copy
// is emitted, and no vector crosses a call); GCC still warns about the vector ABI of that copy.
#pragma GCC diagnostic ignored "-Wpsabi"
#endif
#endif

namespace ts {
namespace {

struct Csr {
  long rows, cols;
  const int32_t* crow;
  const int32_t* col;
};

enum Path { P_GENERIC = 0, P_AVX2, P_AVX512 };

// Row kernels: dot (batch 1, rows [r0, r1)) and axpy (one packed tile of a larger batch).
template <typename T>
using DotFn = void (*)(const Csr&, const T*, const T*, const T*, T*, long, long, uint32_t*);
template <typename T>
using AxpyFn = void (*)(const Csr&, const T*, const T*, const T*, T*, long, long, long, long, uint32_t*);

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

// batch >= 2: rows [r0, r1) of one packed tile, one body for every instruction set. V is a vector
// of V::W values of T with its loads, stores and multiply-add (Scalar below, Avx512 and Avx2 further
// down); NV of them hold the tile's TB = NV W batch values per nonzero. xt: (cols, TB); tb <= TB live
// batch rows starting at b0. Writes out[(b0 + j) * rows + r] for j < tb. The SIMD instantiations run
// inside their ISA's target-attributed, flattened wrapper (V::axpy), which inlines this body and V's
// operations into code built for that instruction set.
template <typename V, int NV, typename T = typename V::T>
void axpy_rows(const Csr& w, const T* val, const T* xt, const T* bias, T* out, long b0, long tb, long r0, long r1, uint32_t* bad) {
  constexpr int TB = V::W * NV, RB = 8;
  alignas(64) T buf[RB][TB];
  const uint32_t ucols = uint32_t(w.cols);
  uint32_t b = 0;
  for (long rb = r0; rb < r1; rb += RB) {
    const long nr = std::min<long>(RB, r1 - rb);
    for (long i = 0; i < nr; i++) {
      typename V::R acc[NV];
      for (int j = 0; j < NV; j++) acc[j] = V::zero();
      const long e = w.crow[rb + i + 1];
      for (long k = w.crow[rb + i]; k < e; k++) {
        const uint32_t c = uint32_t(w.col[k]);
        if (c >= ucols) { b = 1; continue; }
        const typename V::R v = V::set1(val[k]);
        const T* xr = xt + long(c) * TB;
        for (int j = 0; j < NV; j++) acc[j] = V::fmadd(v, V::load(xr + V::W * j), acc[j]);
      }
      for (int j = 0; j < NV; j++) V::store(&buf[i][V::W * j], acc[j]);
    }
    for (long j = 0; j < tb; j++) {
      T* o = out + (b0 + j) * w.rows + rb;
      for (long i = 0; i < nr; i++) o[i] = buf[i][j] + (bias ? bias[rb + i] : T(0));
    }
  }
  if (b) *bad = 1;
}

// One value per "vector": the portable loops (the compiler vectorizes them for the baseline ISA).
template <typename T_>
struct Scalar {
  using T = T_;
  using R = T_;
  static constexpr int W = 1;
  static R zero() { return T(0); }
  static R set1(T v) { return v; }
  static R load(const T* p) { return *p; }
  static void store(T* p, R r) { *p = r; }
  static R fmadd(R a, R b, R c) { return c + a * b; }
};

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

// 16 float32 lanes. axpy<NV>: axpy_rows built for AVX-512 (TB = 16 NV).
struct Avx512 {
  using T = float;
  using R = __m512;
  static constexpr int W = 16;
  TS_TARGET_AVX512 static R zero() { return _mm512_setzero_ps(); }
  TS_TARGET_AVX512 static R set1(float v) { return _mm512_set1_ps(v); }
  TS_TARGET_AVX512 static R load(const float* p) { return _mm512_load_ps(p); }
  TS_TARGET_AVX512 static void store(float* p, R r) { _mm512_store_ps(p, r); }
  TS_TARGET_AVX512 static R fmadd(R a, R b, R c) { return _mm512_fmadd_ps(a, b, c); }
  static constexpr DotFn<float> dot = dot_rows_avx512;
  template <int NV>
  TS_TARGET_AVX512 TS_FLATTEN static void axpy(const Csr& w, const float* val, const float* xt, const float* bias, float* out, long b0, long tb, long r0, long r1, uint32_t* bad) {
    axpy_rows<Avx512, NV>(w, val, xt, bias, out, b0, tb, r0, r1, bad);
  }
};

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

// 8 float32 lanes. axpy<NV>: axpy_rows built for AVX2 (TB = 8 NV).
struct Avx2 {
  using T = float;
  using R = __m256;
  static constexpr int W = 8;
  TS_TARGET_AVX2 static R zero() { return _mm256_setzero_ps(); }
  TS_TARGET_AVX2 static R set1(float v) { return _mm256_set1_ps(v); }
  TS_TARGET_AVX2 static R load(const float* p) { return _mm256_load_ps(p); }
  TS_TARGET_AVX2 static void store(float* p, R r) { _mm256_store_ps(p, r); }
  TS_TARGET_AVX2 static R fmadd(R a, R b, R c) { return _mm256_fmadd_ps(a, b, c); }
  static constexpr DotFn<float> dot = dot_rows_avx2;
  template <int NV>
  TS_TARGET_AVX2 TS_FLATTEN static void axpy(const Csr& w, const float* val, const float* xt, const float* bias, float* out, long b0, long tb, long r0, long r1, uint32_t* bad) {
    axpy_rows<Avx2, NV>(w, val, xt, bias, out, b0, tb, r0, r1, bad);
  }
};
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

#ifdef TS_SPARSE_X86
// Tile width for a batch: the fewest vectors that hold it, up to 4 (so TB <= 4 vector widths).
int vectors_for(long batch, int width) {
  const long v = (batch + width - 1) / width;
  return int(std::min<long>(4, std::max<long>(1, v)));
}

// float32 on one SIMD path V (Avx512, Avx2): its dot kernel, or its axpy with the fewest vectors per tile.
template <typename V>
void run_simd(const Csr& w, const float* val, const float* x, long batch, const float* bias, float* out, uint32_t* bad) {
  const int nv = vectors_for(batch, V::W);
  const AxpyFn<float> f = nv == 1 ? V::template axpy<1> : nv == 2 ? V::template axpy<2> : nv == 3 ? V::template axpy<3> : V::template axpy<4>;
  csr_linear<float>(w, val, x, batch, bias, out, V::dot, f, V::W * nv, bad);
}
#endif

// The portable loops, tiles of `narrow` batch rows, or twice that past `narrow`.
template <typename T, int narrow>
void run_generic(const Csr& w, const T* val, const T* x, long batch, const T* bias, T* out, uint32_t* bad) {
  const bool wide = batch > narrow;
  csr_linear<T>(w, val, x, batch, bias, out, dot_rows_generic<T>,
                wide ? axpy_rows<Scalar<T>, 2 * narrow> : axpy_rows<Scalar<T>, narrow>, wide ? 2 * narrow : narrow, bad);
}

void run_f32(const Csr& w, const float* val, const float* x, long batch, const float* bias, float* out, uint32_t* bad) {
  switch (current_path()) {
#ifdef TS_SPARSE_X86
    case P_AVX512: return run_simd<Avx512>(w, val, x, batch, bias, out, bad);
    case P_AVX2: return run_simd<Avx2>(w, val, x, batch, bias, out, bad);
#endif
    default: return run_generic<float, 8>(w, val, x, batch, bias, out, bad);
  }
}

void run_f64(const Csr& w, const double* val, const double* x, long batch, const double* bias, double* out, uint32_t* bad) {
  run_generic<double, 4>(w, val, x, batch, bias, out, bad);
}

// ---------------------------------------------------------------- entry point (binding.h reads the arguments)

}  // namespace

// ---- entry points (declared in binding.h; addon.cc exports them)

// csrLinear(x, batch, rows, cols, crowIndices, colIndices, values, bias | null, out)
void CsrLinear(Call& c) {
  void *xd, *crowd, *cold, *vald, *biasd = nullptr, *outd;
  size_t xl, crowl, coll, vall, biasl = 0, outl;
  const int xt = c.array(0, &xd, &xl, "x");
  const long batch = c.integer(1, "batch", 0, 2147483647L), rows = c.integer(2, "rows", 0, 2147483647L), cols = c.integer(3, "cols", 0, 2147483647L);
  const int crowt = c.array(4, &crowd, &crowl, "crowIndices"), colt = c.array(5, &cold, &coll, "colIndices");
  const int ft = c.array(6, &vald, &vall, "values");
  const bool hasBias = c.has(7);
  const int biast = hasBias ? c.array(7, &biasd, &biasl, "bias") : ft;
  const int outt = c.array(8, &outd, &outl, "out");
  if (!is_float(ft)) c.fail(std::string("values must be a Float32Array or Float64Array, got ") + dt_name(ft));
  if (xt != ft || outt != ft || biast != ft) {
    c.fail(std::string("x, values, bias and out must share one float type; got x ") + dt_name(xt) + ", values " + dt_name(ft) +
           (hasBias ? std::string(", bias ") + dt_name(biast) : std::string()) + ", out " + dt_name(outt));
  }
  if (crowt != DT_I32 || colt != DT_I32) c.fail("crowIndices and colIndices must be Int32Arrays");
  if (size_t(rows) + 1 != crowl) c.fail("crowIndices has " + std::to_string(crowl) + " entries, expected rows + 1 = " + std::to_string(rows + 1));
  if (double(batch) * double(cols) > double(xl)) c.fail("x has " + std::to_string(xl) + " values, fewer than batch x cols = " + std::to_string(batch) + " x " + std::to_string(cols));
  if (double(batch) * double(rows) > double(outl)) c.fail("out has " + std::to_string(outl) + " values, fewer than batch x rows = " + std::to_string(batch) + " x " + std::to_string(rows));
  if (hasBias && biasl != size_t(rows)) c.fail("bias has " + std::to_string(biasl) + " values, expected rows = " + std::to_string(rows));
  const int32_t* rp = static_cast<const int32_t*>(crowd);
  if (rp[0] != 0) c.fail("crowIndices must start at 0, got " + std::to_string(rp[0]));
  for (long r = 0; r < rows; r++) {
    if (rp[r + 1] < rp[r]) c.fail("crowIndices decreases at row " + std::to_string(r) + " (" + std::to_string(rp[r]) + " -> " + std::to_string(rp[r + 1]) + ")");
  }
  const long nnz = rp[rows];
  if (size_t(nnz) > coll || size_t(nnz) > vall) {
    c.fail("crowIndices ends at nnz = " + std::to_string(nnz) + " but colIndices has " + std::to_string(coll) + " and values " + std::to_string(vall) + " entries");
  }
  if (nnz > 0 && cols == 0) c.fail("a matrix with 0 columns cannot hold entries");
  const Csr w{rows, cols, rp, static_cast<const int32_t*>(cold)};
  uint32_t bad = 0;
  if (ft == DT_F32) {
    run_f32(w, static_cast<const float*>(vald), static_cast<const float*>(xd), batch, static_cast<const float*>(biasd), static_cast<float*>(outd), &bad);
  } else {
    run_f64(w, static_cast<const double*>(vald), static_cast<const double*>(xd), batch, static_cast<const double*>(biasd), static_cast<double*>(outd), &bad);
  }
  if (bad) c.fail("a column index is outside [0, " + std::to_string(cols) + "); the matrix is corrupt (out was not filled)");
}

}  // namespace ts
