// Fused LayerNorm and GELU kernels of the tensorslim native addon, forward and backward.
//
// LayerNorm over the last dimension of x (R, D), with optional affine weight w (D) and bias b (D):
//   forward:  mean = sum_j x / D,  rstd = 1 / sqrt(sum_j (x - mean)^2 / D + eps)   (float64 sums),
//             y = (x - mean) rstd w + b; mean and rstd (R) are returned for backward.
//   backward: xh = (x - mean) rstd, g = dy w,
//             dx = rstd (g - mean_j g - xh mean_j (g xh)),  dw = sum_rows dy xh,  db = sum_rows dy,
//             all three from one pass over the rows. dw and db are summed in float64 per fixed block
//             of rows, then the blocks in order, so the result does not depend on the thread count.
// GELU, elementwise, 'none' (erf) or 'tanh' form: y = x Phi(x); dx = dy gelu'(x) (norm_act_impl.h).
//
// Inputs may be any strided views (a LayerNorm row whose elements are not adjacent, or a strided
// GELU input, is first copied to a contiguous buffer); outputs are contiguous. The loops come from
// the addon's active instruction-set path; rows and elements are split over the thread pool.
#include "norm_act.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "common.h"
#include "ops.h"
#include "threadpool.h"

#define TS_NA_NS na_generic
#include "norm_act_impl.h"

namespace ts {

TS_DEFINE_NORM_ACT(norm_act_generic)

#if defined(TS_NO_X86_PATHS)
const NormActTable* norm_act_avx2() { return nullptr; }
const NormActTable* norm_act_avx512() { return nullptr; }
#endif

namespace {

const NormActTable* loops() {
  const KernelTable* k = active();
  if (k != nullptr && k == table_avx512() && norm_act_avx512() != nullptr) return norm_act_avx512();
  if (k != nullptr && k == table_avx2() && norm_act_avx2() != nullptr) return norm_act_avx2();
  return norm_act_generic();
}

[[noreturn]] void fail(Napi::Env env, const std::string& kernel, const std::string& msg) {
  throw Napi::Error::New(env, "native " + kernel + ": " + msg);
}

const char* dt_name(int dt) { return dt == DT_F32 ? "float32" : dt == DT_F64 ? "float64" : dt == DT_I32 ? "int32" : "uint8"; }

int dtype_of(Napi::Env env, const std::string& k, const Napi::Value& v, const char* name, void** data, size_t* len) {
  if (!v.IsTypedArray()) fail(env, k, std::string(name) + ": expected a typed array");
  Napi::TypedArray ta = v.As<Napi::TypedArray>();
  *len = ta.ElementLength();
  *data = static_cast<char*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
  switch (ta.TypedArrayType()) {
    case napi_float32_array: return DT_F32;
    case napi_float64_array: return DT_F64;
    default: fail(env, k, std::string(name) + ": expected a Float32Array or Float64Array");
  }
}

struct MetaReader {
  const double* p;
  size_t n;
  size_t pos = 0;
  long next(Napi::Env env, const std::string& k, const char* what) {
    if (pos >= n) fail(env, k, "view description is truncated");
    const double d = p[pos++];
    if (!std::isfinite(d) || d != std::floor(d) || std::fabs(d) > 9.0e15) fail(env, k, std::string("bad ") + what + " " + std::to_string(d));
    return long(d);
  }
};

MetaReader meta_of(Napi::Env env, const std::string& k, const Napi::Value& v) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) fail(env, k, "meta must be a Float64Array");
  Napi::Float64Array m = v.As<Napi::Float64Array>();
  return MetaReader{m.Data(), m.ElementLength()};
}

long numel(const ViewDesc& v) { long n = 1; for (int d = 0; d < v.ndim; d++) n *= v.shape[d]; return n; }

// One view (float array + meta slice [ndim, offset, shape..., strides...]); every element it
// addresses must lie inside the array.
ViewDesc read_view(Napi::Env env, const std::string& k, const Napi::Value& arr, MetaReader& m, const char* name) {
  ViewDesc v{};
  size_t len = 0;
  v.dtype = dtype_of(env, k, arr, name, &v.data, &len);
  const long nd = m.next(env, k, "rank");
  if (nd < 0 || nd > kMaxDims) fail(env, k, std::string(name) + ": rank " + std::to_string(nd) + " is not supported (at most 16)");
  v.ndim = int(nd);
  v.offset = m.next(env, k, "offset");
  long lo = v.offset, hi = v.offset;
  for (int d = 0; d < v.ndim; d++) {
    v.shape[d] = m.next(env, k, "dimension");
    if (v.shape[d] < 0) fail(env, k, std::string(name) + ": negative dimension");
  }
  for (int d = 0; d < v.ndim; d++) {
    v.strides[d] = m.next(env, k, "stride");
    if (v.shape[d] > 0) { const long e = (v.shape[d] - 1) * v.strides[d]; if (e < 0) lo += e; else hi += e; }
  }
  if (numel(v) > 0 && (lo < 0 || hi >= long(len))) {
    fail(env, k, std::string(name) + ": the view reaches elements [" + std::to_string(lo) + ", " + std::to_string(hi) +
                     "] of an array of length " + std::to_string(len) + " (the typed array is too short for the claimed shape)");
  }
  return v;
}

void* out_array(Napi::Env env, const std::string& k, const Napi::Value& val, int dtype, long n, const char* name) {
  void* data; size_t len;
  const int dt = dtype_of(env, k, val, name, &data, &len);
  if (dt != dtype) fail(env, k, std::string(name) + " must be " + dt_name(dtype) + ", got " + dt_name(dt));
  if (long(len) != n) fail(env, k, std::string(name) + " has " + std::to_string(len) + " elements, expected " + std::to_string(n));
  return data;
}

bool given(const Napi::Value& v) { return !v.IsNull() && !v.IsUndefined(); }

void need_rank(Napi::Env env, const std::string& k, const ViewDesc& v, int rank, const char* name, const char* what) {
  if (v.ndim != rank) fail(env, k, std::string(name) + " must be " + what + ", got rank " + std::to_string(v.ndim));
}

bool is_contiguous(const ViewDesc& v) {
  long expect = 1;
  for (int d = v.ndim - 1; d >= 0; d--) {
    if (v.shape[d] == 0) return true;
    if (v.shape[d] != 1 && v.strides[d] != expect) return false;
    expect *= v.shape[d];
  }
  return true;
}

// A pointer to the first element of v laid out row-major (copied into `buf` when v is not).
template <class T> const T* dense(const ViewDesc& v, std::vector<T>& buf) {
  if (is_contiguous(v)) return static_cast<const T*>(v.data) + v.offset;
  buf.resize(size_t(numel(v)));
  ts::copy(v, buf.data(), v.dtype);
  return buf.data();
}

// Rows of a 2-D view with adjacent elements: base pointer and row stride (a copy when the last
// dimension is strided).
template <class T> const T* rows_of(const ViewDesc& v, std::vector<T>& buf, long* rs) {
  if (v.shape[1] <= 1 || v.strides[1] == 1) {
    *rs = v.strides[0];
    return static_cast<const T*>(v.data) + v.offset;
  }
  *rs = v.shape[1];
  return dense(v, buf);
}

long row_grain(long D) { return D >= 16384 ? 1 : 16384 / (D > 0 ? D : 1); }

// layerNormForward(x, w | null, b | null, meta, eps, y, mean, rstd); meta = views x (R, D), then w (D)
// and b (D) when given. y (R * D), mean (R), rstd (R): contiguous outputs of x's dtype.
Napi::Value LayerNormForward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string k = "layerNormForward";
  if (info.Length() < 8) fail(env, k, "expected (x, weight, bias, meta, eps, y, mean, rstd)");
  MetaReader m = meta_of(env, k, info[3]);
  const bool hasW = given(info[1]), hasB = given(info[2]);
  ViewDesc x = read_view(env, k, info[0], m, "x");
  ViewDesc w{}, b{};
  if (hasW) w = read_view(env, k, info[1], m, "weight");
  if (hasB) b = read_view(env, k, info[2], m, "bias");
  need_rank(env, k, x, 2, "x", "2-D (rows, features)");
  const long R = x.shape[0], D = x.shape[1];
  for (const ViewDesc* p : {hasW ? &w : nullptr, hasB ? &b : nullptr}) {
    if (p == nullptr) continue;
    if (p->dtype != x.dtype) fail(env, k, std::string("weight and bias must have x's dtype ") + dt_name(x.dtype) + ", got " + dt_name(p->dtype));
    if (p->ndim != 1 || p->shape[0] != D) fail(env, k, "weight and bias must have shape (" + std::to_string(D) + ",) to match x's last dimension");
  }
  if (!info[4].IsNumber()) fail(env, k, "eps must be a number");
  const double eps = info[4].As<Napi::Number>().DoubleValue();
  if (!(eps >= 0) || !std::isfinite(eps)) fail(env, k, "eps must be finite and >= 0, got " + std::to_string(eps));
  auto run = [&](auto zero) {
    using T = decltype(zero);
    T* y = static_cast<T*>(out_array(env, k, info[5], x.dtype, R * D, "y"));
    T* mean = static_cast<T*>(out_array(env, k, info[6], x.dtype, R, "mean"));
    T* rstd = static_cast<T*>(out_array(env, k, info[7], x.dtype, R, "rstd"));
    if (R == 0) return;
    std::vector<T> xb, wb, bb;
    LnForwardArgs<T> a{};
    a.x = rows_of<T>(x, xb, &a.xrs);
    a.w = hasW ? dense<T>(w, wb) : nullptr;
    a.b = hasB ? dense<T>(b, bb) : nullptr;
    a.y = y; a.mean = mean; a.rstd = rstd; a.D = D; a.eps = eps;
    const NormActTable* t = loops();
    parallel_for(R, row_grain(D), [&](long r0, long r1) {
      if constexpr (sizeof(T) == 4) t->ln_fwd_f32(a, r0, r1); else t->ln_fwd_f64(a, r0, r1);
    });
  };
  if (x.dtype == DT_F32) run(0.0f); else run(0.0);
  return env.Undefined();
}

// layerNormBackward(dy, x, w | null, mean, rstd, meta, dx | null, dw | null, db | null);
// meta = views dy (R, D), x (R, D), w (D) when given, mean (R), rstd (R).
Napi::Value LayerNormBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string k = "layerNormBackward";
  if (info.Length() < 9) fail(env, k, "expected (dy, x, weight, mean, rstd, meta, dx, dweight, dbias)");
  MetaReader m = meta_of(env, k, info[5]);
  const bool hasW = given(info[2]);
  ViewDesc dy = read_view(env, k, info[0], m, "dy");
  ViewDesc x = read_view(env, k, info[1], m, "x");
  ViewDesc w{};
  if (hasW) w = read_view(env, k, info[2], m, "weight");
  ViewDesc mv = read_view(env, k, info[3], m, "mean");
  ViewDesc rv = read_view(env, k, info[4], m, "rstd");
  need_rank(env, k, x, 2, "x", "2-D (rows, features)");
  const long R = x.shape[0], D = x.shape[1];
  for (const ViewDesc* p : {&dy, &mv, &rv, hasW ? &w : nullptr}) {
    if (p != nullptr && p->dtype != x.dtype) fail(env, k, std::string("dy, weight, mean and rstd must have x's dtype ") + dt_name(x.dtype));
  }
  if (dy.ndim != 2 || dy.shape[0] != R || dy.shape[1] != D) fail(env, k, "dy must have x's shape (" + std::to_string(R) + ", " + std::to_string(D) + ")");
  if (hasW && (w.ndim != 1 || w.shape[0] != D)) fail(env, k, "weight must have shape (" + std::to_string(D) + ",)");
  if (mv.ndim != 1 || mv.shape[0] != R || rv.ndim != 1 || rv.shape[0] != R) fail(env, k, "mean and rstd must have shape (" + std::to_string(R) + ",)");
  auto run = [&](auto zero) {
    using T = decltype(zero);
    T* dx = given(info[6]) ? static_cast<T*>(out_array(env, k, info[6], x.dtype, R * D, "dx")) : nullptr;
    T* dw = given(info[7]) ? static_cast<T*>(out_array(env, k, info[7], x.dtype, D, "dweight")) : nullptr;
    T* db = given(info[8]) ? static_cast<T*>(out_array(env, k, info[8], x.dtype, D, "dbias")) : nullptr;
    if (R == 0) {  // empty sums
      for (long j = 0; dw && j < D; j++) dw[j] = T(0);
      for (long j = 0; db && j < D; j++) db[j] = T(0);
      return;
    }
    std::vector<T> dyb, xb, wb, mb, rb;
    LnBackwardArgs<T> a{};
    a.dy = rows_of<T>(dy, dyb, &a.dyrs);
    a.x = rows_of<T>(x, xb, &a.xrs);
    a.w = hasW ? dense<T>(w, wb) : nullptr;
    a.mean = dense<T>(mv, mb);
    a.rstd = dense<T>(rv, rb);
    a.dx = dx;
    a.D = D;
    // fixed blocks of rows (independent of the thread count), each with its own float64 partials
    const long per = std::max((R + 127) / 128, row_grain(D));
    const long nblk = (R + per - 1) / per;
    std::vector<double> pw(dw ? size_t(nblk * D) : 0, 0.0), pb(db ? size_t(nblk * D) : 0, 0.0);
    const NormActTable* t = loops();
    parallel_for(nblk, 1, [&](long b0, long b1) {
      for (long blk = b0; blk < b1; blk++) {
        const long r0 = blk * per, r1 = std::min(R, r0 + per);
        double* w_ = dw ? pw.data() + blk * D : nullptr;
        double* b_ = db ? pb.data() + blk * D : nullptr;
        if constexpr (sizeof(T) == 4) t->ln_bwd_f32(a, r0, r1, w_, b_); else t->ln_bwd_f64(a, r0, r1, w_, b_);
      }
    });
    for (long j = 0; dw && j < D; j++) { double s = 0; for (long q = 0; q < nblk; q++) s += pw[size_t(q * D + j)]; dw[j] = T(s); }
    for (long j = 0; db && j < D; j++) { double s = 0; for (long q = 0; q < nblk; q++) s += pb[size_t(q * D + j)]; db[j] = T(s); }
  };
  if (x.dtype == DT_F32) run(0.0f); else run(0.0);
  return env.Undefined();
}

constexpr long kGeluGrain = 32768;

int gelu_form(Napi::Env env, const std::string& k, const Napi::Value& v) {
  if (!v.IsNumber()) fail(env, k, "form must be 0 (erf) or 1 (tanh)");
  const int f = v.As<Napi::Number>().Int32Value();
  if (f != 0 && f != 1) fail(env, k, "form must be 0 (erf) or 1 (tanh), got " + std::to_string(f));
  return f;
}

// geluForward(x, meta, form, y); meta = view x (any rank); y contiguous of x's dtype; form 0 erf, 1 tanh.
Napi::Value GeluForward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string k = "geluForward";
  if (info.Length() < 4) fail(env, k, "expected (x, meta, form, y)");
  MetaReader m = meta_of(env, k, info[1]);
  ViewDesc x = read_view(env, k, info[0], m, "x");
  const int form = gelu_form(env, k, info[2]);
  const long n = numel(x);
  auto run = [&](auto zero) {
    using T = decltype(zero);
    T* y = static_cast<T*>(out_array(env, k, info[3], x.dtype, n, "y"));
    if (n == 0) return;
    std::vector<T> xb;
    const T* xp = dense<T>(x, xb);
    const NormActTable* t = loops();
    parallel_for(n, kGeluGrain, [&](long i0, long i1) {
      if constexpr (sizeof(T) == 4) t->gelu_fwd_f32(xp + i0, y + i0, i1 - i0, form);
      else t->gelu_fwd_f64(xp + i0, y + i0, i1 - i0, form);
    });
  };
  if (x.dtype == DT_F32) run(0.0f); else run(0.0);
  return env.Undefined();
}

// geluBackward(dy, x, meta, form, dx); meta = views dy, x (one shape); dx contiguous of x's dtype.
Napi::Value GeluBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string k = "geluBackward";
  if (info.Length() < 5) fail(env, k, "expected (dy, x, meta, form, dx)");
  MetaReader m = meta_of(env, k, info[2]);
  ViewDesc dy = read_view(env, k, info[0], m, "dy");
  ViewDesc x = read_view(env, k, info[1], m, "x");
  const int form = gelu_form(env, k, info[3]);
  if (dy.dtype != x.dtype) fail(env, k, std::string("dy must have x's dtype ") + dt_name(x.dtype) + ", got " + dt_name(dy.dtype));
  bool same = dy.ndim == x.ndim;
  for (int d = 0; same && d < x.ndim; d++) same = dy.shape[d] == x.shape[d];
  if (!same) fail(env, k, "dy and x must have one shape");
  const long n = numel(x);
  auto run = [&](auto zero) {
    using T = decltype(zero);
    T* dx = static_cast<T*>(out_array(env, k, info[4], x.dtype, n, "dx"));
    if (n == 0) return;
    std::vector<T> xb, gb;
    const T* xp = dense<T>(x, xb);
    const T* gp = dense<T>(dy, gb);
    const NormActTable* t = loops();
    parallel_for(n, kGeluGrain, [&](long i0, long i1) {
      if constexpr (sizeof(T) == 4) t->gelu_bwd_f32(gp + i0, xp + i0, dx + i0, i1 - i0, form);
      else t->gelu_bwd_f64(gp + i0, xp + i0, dx + i0, i1 - i0, form);
    });
  };
  if (x.dtype == DT_F32) run(0.0f); else run(0.0);
  return env.Undefined();
}

}  // namespace

void register_norm_act(Napi::Env env, Napi::Object exports) {
  exports.Set("layerNormForward", Napi::Function::New(env, LayerNormForward));
  exports.Set("layerNormBackward", Napi::Function::New(env, LayerNormBackward));
  exports.Set("geluForward", Napi::Function::New(env, GeluForward));
  exports.Set("geluBackward", Napi::Function::New(env, GeluBackward));
}

}  // namespace ts
