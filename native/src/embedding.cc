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
// the baseline target), the same on every instruction-set path.
#include "embedding.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "threadpool.h"

namespace ts {
namespace {

[[noreturn]] void fail(Napi::Env env, const std::string& kernel, const std::string& msg) {
  throw Napi::Error::New(env, "native " + kernel + ": " + msg);
}

// dtype codes: 0 float32, 1 float64
struct FloatArr { void* data; size_t len; int dt; };

FloatArr float_arr(Napi::Env env, const std::string& k, const Napi::Value& v, const char* name) {
  if (!v.IsTypedArray()) fail(env, k, std::string(name) + ": expected a Float32Array or Float64Array");
  Napi::TypedArray ta = v.As<Napi::TypedArray>();
  FloatArr a{static_cast<char*>(ta.ArrayBuffer().Data()) + ta.ByteOffset(), ta.ElementLength(), -1};
  if (ta.TypedArrayType() == napi_float32_array) a.dt = 0;
  else if (ta.TypedArrayType() == napi_float64_array) a.dt = 1;
  else fail(env, k, std::string(name) + ": expected a Float32Array or Float64Array");
  return a;
}

const int32_t* int_arr(Napi::Env env, const std::string& k, const Napi::Value& v, size_t* len) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) fail(env, k, "indices: expected an Int32Array");
  Napi::TypedArray ta = v.As<Napi::TypedArray>();
  *len = ta.ElementLength();
  return reinterpret_cast<const int32_t*>(static_cast<char*>(ta.ArrayBuffer().Data()) + ta.ByteOffset());
}

long integer(Napi::Env env, const std::string& k, const Napi::Value& v, const char* name) {
  if (!v.IsNumber()) fail(env, k, std::string(name) + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::floor(d) || std::fabs(d) > 9.0e15) fail(env, k, std::string(name) + " must be an integer, got " + std::to_string(d));
  return long(d);
}

// A 2-D view [rows, cols, rowStride, colStride, offset] of `a`, checked to lie inside it.
struct View2 { long rows, cols, rs, cs, off; };

View2 view2(Napi::Env env, const std::string& k, const FloatArr& a, const Napi::Value& metaVal, const char* name) {
  if (!metaVal.IsTypedArray() || metaVal.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) fail(env, k, "meta must be a Float64Array");
  Napi::Float64Array m = metaVal.As<Napi::Float64Array>();
  if (m.ElementLength() < 5) fail(env, k, "meta must hold [rows, cols, rowStride, colStride, offset]");
  long f[5];
  for (int i = 0; i < 5; i++) {
    const double d = m[i];
    if (!std::isfinite(d) || d != std::floor(d) || std::fabs(d) > 9.0e15) fail(env, k, std::string("bad view field ") + std::to_string(d));
    f[i] = long(d);
  }
  View2 v{f[0], f[1], f[2], f[3], f[4]};
  if (v.rows < 0 || v.cols < 0) fail(env, k, std::string(name) + ": negative dimension");
  if (v.rows > 0 && v.cols > 0) {
    long lo = v.off, hi = v.off;
    for (long e : {(v.rows - 1) * v.rs, (v.cols - 1) * v.cs}) { if (e < 0) lo += e; else hi += e; }
    if (lo < 0 || hi >= long(a.len)) {
      fail(env, k, std::string(name) + ": the view reaches elements [" + std::to_string(lo) + ", " + std::to_string(hi) +
                       "] of an array of length " + std::to_string(a.len));
    }
  }
  return v;
}

void check_indices(Napi::Env env, const std::string& k, const int32_t* idx, long n, long rows) {
  for (long i = 0; i < n; i++) {
    if (idx[i] < 0 || idx[i] >= rows) {
      fail(env, k, "index " + std::to_string(idx[i]) + " at position " + std::to_string(i) + " is out of range for " +
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

// embeddingForward(weight, wmeta, indices, out); wmeta = [V, D, rowStride, colStride, offset];
// indices Int32Array (N), out (N * D) of weight's dtype.
Napi::Value EmbeddingForward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string k = "embeddingForward";
  if (info.Length() < 4) fail(env, k, "expected (weight, meta, indices, out)");
  const FloatArr w = float_arr(env, k, info[0], "weight");
  const View2 wv = view2(env, k, w, info[1], "weight");
  size_t n = 0;
  const int32_t* idx = int_arr(env, k, info[2], &n);
  const FloatArr out = float_arr(env, k, info[3], "out");
  if (out.dt != w.dt) fail(env, k, "out must have weight's dtype");
  if (long(out.len) != long(n) * wv.cols) fail(env, k, "out has " + std::to_string(out.len) + " elements, expected " + std::to_string(long(n) * wv.cols));
  check_indices(env, k, idx, long(n), wv.rows);
  if (w.dt == 0) gather_rows(static_cast<const float*>(w.data), wv, idx, long(n), static_cast<float*>(out.data));
  else gather_rows(static_cast<const double*>(w.data), wv, idx, long(n), static_cast<double*>(out.data));
  return env.Undefined();
}

// embeddingBackward(dy, dymeta, indices, rows, out); dymeta = [N, D, rowStride, colStride, offset];
// indices Int32Array (N), out (rows * D) of dy's dtype, overwritten.
Napi::Value EmbeddingBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string k = "embeddingBackward";
  if (info.Length() < 5) fail(env, k, "expected (dy, meta, indices, rows, out)");
  const FloatArr dy = float_arr(env, k, info[0], "dy");
  const View2 dv = view2(env, k, dy, info[1], "dy");
  size_t n = 0;
  const int32_t* idx = int_arr(env, k, info[2], &n);
  if (long(n) != dv.rows) fail(env, k, "indices has " + std::to_string(n) + " entries but dy has " + std::to_string(dv.rows) + " rows");
  const long rows = integer(env, k, info[3], "rows");
  if (rows < 0) fail(env, k, "rows must be >= 0");
  const FloatArr out = float_arr(env, k, info[4], "out");
  if (out.dt != dy.dt) fail(env, k, "out must have dy's dtype");
  if (long(out.len) != rows * dv.cols) fail(env, k, "out has " + std::to_string(out.len) + " elements, expected " + std::to_string(rows * dv.cols));
  check_indices(env, k, idx, long(n), rows);
  if (dy.dt == 0) scatter_rows(static_cast<const float*>(dy.data), dv, idx, long(n), rows, static_cast<float*>(out.data));
  else scatter_rows(static_cast<const double*>(dy.data), dv, idx, long(n), rows, static_cast<double*>(out.data));
  return env.Undefined();
}

}  // namespace

void register_embedding(Napi::Env env, Napi::Object exports) {
  exports.Set("embeddingForward", Napi::Function::New(env, EmbeddingForward));
  exports.Set("embeddingBackward", Napi::Function::New(env, EmbeddingBackward));
}

}  // namespace ts
