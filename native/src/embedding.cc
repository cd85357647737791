// Embedding lookup and its adjoint, of the tensorslim native addon.
//
//   forward:  out[i, :] = weight[idx[i], :]                 weight (V, D) any strides, idx int32 (N)
//   backward: dW = zeros (V, D); dW[idx[i], :] += dy[i, :]  for i = 0 .. N-1 in order, dy (N, D) any strides
//
// Forward copies rows, split over the thread pool by rows. Backward splits the D columns over the
// pool (each thread owns a column range of every row of dW), and every thread adds the rows of dy in
// index order, so each element of dW is summed in exactly the order of the sequential reference
// (bitwise equal results for any thread count, no atomics). Indices are checked against [0, V)
// before anything is written. The code is plain C++ (the compiler vectorizes the row loops for
// the baseline target), the same on every instruction-set path. TypeScript binding:
// src/backends/native/embedding.ts.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "binding.h"
#include "threadpool.h"

namespace ts {
namespace {

// A 2-D view as rows, cols, row stride, column stride and offset.
struct View2 { long rows, cols, rs, cs, off; };

View2 view2(Call& c, size_t i, const char* name, ViewDesc* v) {
  *v = c.float_view(i, name);
  if (v->ndim != 2) c.fail(std::string(name) + " must be 2-D, got " + shape_str(*v));
  return View2{v->shape[0], v->shape[1], v->strides[0], v->strides[1], v->offset};
}

// The indices: a contiguous Int32Array (the TypeScript side makes strided indices dense).
const int32_t* indices(Call& c, size_t i, size_t* n) {
  void* data;
  if (c.array(i, &data, n, "indices") != DT_I32) c.fail("indices: expected an Int32Array");
  return static_cast<const int32_t*>(data);
}

// The arguments both entry points start with: meta holding one (rows, D) float view (argument 0,
// named `name`) and the indices (argument 2).
struct RowsAndIndices { ViewDesc d; View2 v; const int32_t* idx; long n; };

RowsAndIndices rows_and_indices(Call& c, const char* name) {
  c.meta(1);
  RowsAndIndices r;
  r.v = view2(c, 0, name, &r.d);
  size_t n = 0;
  r.idx = indices(c, 2, &n);
  r.n = long(n);
  return r;
}

void check_indices(Call& c, const int32_t* idx, long n, long rows) {
  for (long i = 0; i < n; i++) {
    if (idx[i] < 0 || idx[i] >= rows) {
      c.fail("index " + std::to_string(idx[i]) + " at position " + std::to_string(i) + " is out of range for " +
             std::to_string(rows) + " rows");
    }
  }
}

template <class T>
void gather_rows(const T* w, const View2& wv, const int32_t* idx, long n, T* out) {
  const long D = wv.cols;
  const long grain = std::max(1L, 16384 / std::max(1L, D));
  parallel_for(n, grain, [&](long i0, long i1) {
    for (long i = i0; i < i1; i++) {
      const T* src = w + wv.off + long(idx[i]) * wv.rs;
      T* dst = out + i * D;
      if (wv.cs == 1) std::copy(src, src + D, dst);
      else for (long j = 0; j < D; j++) dst[j] = src[j * wv.cs];
    }
  });
}

template <class T>
void scatter_rows(const T* dy, const View2& dv, const int32_t* idx, long n, long rows, T* out) {
  const long D = dv.cols;
  std::fill(out, out + rows * D, T(0));
  if (n == 0 || D == 0) return;
  // column chunks of at least 16 elements (64 bytes of float32), so threads do not share cache lines much
  const long chunk = 16;
  const long nchunks = (D + chunk - 1) / chunk;
  const long grain = std::max(1L, (1L << 14) / std::max(1L, n * chunk));
  parallel_for(nchunks, grain, [&](long c0, long c1) {
    const long j0 = c0 * chunk, j1 = std::min(D, c1 * chunk);
    for (long i = 0; i < n; i++) {
      T* o = out + long(idx[i]) * D;
      const T* s = dy + dv.off + i * dv.rs;
      if (dv.cs == 1) { for (long j = j0; j < j1; j++) o[j] += s[j]; }
      else { for (long j = j0; j < j1; j++) o[j] += s[j * dv.cs]; }
    }
  });
}

}  // namespace

// ---- entry points (declared in binding.h; addon.cc exports them)

// embeddingForward(weight, meta, indices, out); meta = view weight (V, D); indices Int32Array (N),
// out (N * D) of weight's dtype.
void EmbeddingForward(Call& c) {
  const RowsAndIndices a = rows_and_indices(c, "weight");
  void* out = c.out(3, a.d.dtype, a.n * a.v.cols, "out");
  check_indices(c, a.idx, a.n, a.v.rows);
  if (a.d.dtype == DT_F32) gather_rows(static_cast<const float*>(a.d.data), a.v, a.idx, a.n, static_cast<float*>(out));
  else gather_rows(static_cast<const double*>(a.d.data), a.v, a.idx, a.n, static_cast<double*>(out));
}

// embeddingBackward(dy, meta, indices, rows, out); meta = view dy (N, D); indices Int32Array (N),
// out (rows * D) of dy's dtype, overwritten.
void EmbeddingBackward(Call& c) {
  const RowsAndIndices a = rows_and_indices(c, "dy");
  if (a.n != a.v.rows) c.fail("indices has " + std::to_string(a.n) + " entries but dy has " + std::to_string(a.v.rows) + " rows");
  const long rows = c.integer(3, "rows", 0, 1L << 53);
  void* out = c.out(4, a.d.dtype, rows * a.v.cols, "out");
  check_indices(c, a.idx, a.n, rows);
  if (a.d.dtype == DT_F32) scatter_rows(static_cast<const float*>(a.d.data), a.v, a.idx, a.n, rows, static_cast<float*>(out));
  else scatter_rows(static_cast<const double*>(a.d.data), a.v, a.idx, a.n, rows, static_cast<double*>(out));
}

}  // namespace ts
