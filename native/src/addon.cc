// N-API bindings of the tensorslim native backend. Every entry point validates what JavaScript
// hands it (typed-array kinds, ranks, and that each strided view stays inside its array) and
// throws a JavaScript error naming the kernel otherwise; kernels then read and write the
// JS-owned typed arrays in place, with no copies.
//
// A view travels as its typed array plus a slice of a Float64Array `meta`:
//   [ndim, offset, shape[0..ndim), strides[0..ndim)]
#define NAPI_VERSION 8
#include <napi.h>

#include <cmath>
#include <string>
#include <vector>

#include "common.h"
#include "gemm.h"
#include "ops.h"
#include "threadpool.h"
#include "attention.h"
#include "norm_act.h"
#include "embedding.h"
#include "sparse.h"

namespace {

using namespace ts;

[[noreturn]] void fail(Napi::Env env, const std::string& kernel, const std::string& msg) {
  throw Napi::Error::New(env, "native " + kernel + ": " + msg);
}

int dtype_of(Napi::Env env, const std::string& k, const Napi::Value& v, void** data, size_t* len) {
  if (!v.IsTypedArray()) fail(env, k, "expected a typed array");
  Napi::TypedArray ta = v.As<Napi::TypedArray>();
  *len = ta.ElementLength();
  Napi::ArrayBuffer buf = ta.ArrayBuffer();
  *data = static_cast<char*>(buf.Data()) + ta.ByteOffset();
  switch (ta.TypedArrayType()) {
    case napi_float32_array: return DT_F32;
    case napi_float64_array: return DT_F64;
    case napi_int32_array: return DT_I32;
    case napi_uint8_array: return DT_U8;
    default: fail(env, k, "unsupported typed array kind (expected Float32Array, Float64Array, Int32Array or Uint8Array)");
  }
}

const char* dt_name(int dt) { return dt == DT_F32 ? "float32" : dt == DT_F64 ? "float64" : dt == DT_I32 ? "int32" : "uint8"; }

struct Meta {
  const double* p;
  size_t n;
  size_t pos = 0;
  double next(Napi::Env env, const std::string& k) {
    if (pos >= n) fail(env, k, "view description is truncated");
    return p[pos++];
  }
};

Meta get_meta(Napi::Env env, const std::string& k, const Napi::Value& v) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) fail(env, k, "meta must be a Float64Array");
  Napi::Float64Array m = v.As<Napi::Float64Array>();
  return Meta{m.Data(), m.ElementLength()};
}

long as_long(Napi::Env env, const std::string& k, double d, const char* what) {
  if (!(std::isfinite(d)) || d != std::floor(d) || std::fabs(d) > 9.0e15) fail(env, k, std::string("bad ") + what + " " + std::to_string(d));
  return long(d);
}

// Reads one view (array + meta slice) and checks that every element it addresses lies inside the array.
ViewDesc read_view(Napi::Env env, const std::string& k, const Napi::Value& arr, Meta& m, const char* name) {
  ViewDesc v{};
  size_t len = 0;
  v.dtype = dtype_of(env, k, arr, &v.data, &len);
  const long nd = as_long(env, k, m.next(env, k), "rank");
  if (nd < 0 || nd > kMaxDims) fail(env, k, std::string(name) + ": rank " + std::to_string(nd) + " is not supported (at most 16)");
  v.ndim = int(nd);
  v.offset = as_long(env, k, m.next(env, k), "offset");
  long numel = 1, lo = v.offset, hi = v.offset;
  for (int d = 0; d < v.ndim; d++) {
    v.shape[d] = as_long(env, k, m.next(env, k), "dimension");
    if (v.shape[d] < 0) fail(env, k, std::string(name) + ": negative dimension");
    numel *= v.shape[d];
  }
  for (int d = 0; d < v.ndim; d++) {
    v.strides[d] = as_long(env, k, m.next(env, k), "stride");
    if (v.shape[d] > 0) {
      const long ext = (v.shape[d] - 1) * v.strides[d];
      if (ext < 0) lo += ext; else hi += ext;
    }
  }
  if (numel > 0 && (lo < 0 || hi >= long(len))) {
    std::string shape;
    for (int d = 0; d < v.ndim; d++) shape += (d ? ", " : "") + std::to_string(v.shape[d]);
    fail(env, k, std::string(name) + ": a view of shape (" + shape + ") at offset " + std::to_string(v.offset) +
                     " reaches elements [" + std::to_string(lo) + ", " + std::to_string(hi) + "] of an array of length " +
                     std::to_string(len) + " (the typed array is too short for the claimed shape)");
  }
  return v;
}

long view_numel(const ViewDesc& v) { long n = 1; for (int d = 0; d < v.ndim; d++) n *= v.shape[d]; return n; }

void* out_array(Napi::Env env, const std::string& k, const Napi::Value& val, int dtype, long numel) {
  void* data; size_t len;
  const int dt = dtype_of(env, k, val, &data, &len);
  if (dt != dtype) fail(env, k, std::string("output must be ") + dt_name(dtype) + ", got " + dt_name(dt));
  if (long(len) != numel) fail(env, k, "output has " + std::to_string(len) + " elements, expected " + std::to_string(numel));
  return data;
}

void same_shape(Napi::Env env, const std::string& k, const ViewDesc& a, const ViewDesc& b) {
  bool ok = a.ndim == b.ndim;
  for (int d = 0; ok && d < a.ndim; d++) ok = a.shape[d] == b.shape[d];
  if (!ok) fail(env, k, "operand shapes differ (broadcast them to one shape first)");
}

void need_float(Napi::Env env, const std::string& k, const ViewDesc& v) {
  if (v.dtype != DT_F32 && v.dtype != DT_F64) fail(env, k, std::string("expected float32 or float64, got ") + dt_name(v.dtype));
}

int int_arg(const Napi::CallbackInfo& info, size_t i, const std::string& k) {
  if (!info[i].IsNumber()) fail(info.Env(), k, "argument " + std::to_string(i) + " must be a number");
  return info[i].As<Napi::Number>().Int32Value();
}

// unary(op, x, meta, out)
Napi::Value Unary(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string k = "unary";
  const int op = int_arg(info, 0, k);
  if (op < 0 || op > U_FLOOR) fail(env, k, "unknown op code");
  Meta m = get_meta(env, k, info[2]);
  ViewDesc x = read_view(env, k, info[1], m, "x");
  need_float(env, k, x);
  void* out = out_array(env, k, info[3], x.dtype, view_numel(x));
  ts::unary(op, x, out, x.dtype);
  return env.Undefined();
}

// binary(op, a, b, meta, out): out is a's dtype, or uint8 for comparisons
Napi::Value Binary(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string k = "binary";
  const int op = int_arg(info, 0, k);
  if (op < 0 || op > B_LOGICAL_OR) fail(env, k, "unknown op code");
  Meta m = get_meta(env, k, info[3]);
  ViewDesc a = read_view(env, k, info[1], m, "a");
  ViewDesc b = read_view(env, k, info[2], m, "b");
  need_float(env, k, a);
  if (a.dtype != b.dtype) fail(env, k, std::string("operand dtypes differ: ") + dt_name(a.dtype) + " and " + dt_name(b.dtype));
  same_shape(env, k, a, b);
  const int odt = op >= B_EQ ? DT_U8 : a.dtype;
  void* out = out_array(env, k, info[4], odt, view_numel(a));
  ts::binary(op, a, b, out, odt);
  return env.Undefined();
}

// reduce(op, x, meta, out): meta = view, then ndim flags (1 = reduced)
Napi::Value Reduce(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string k = "reduce";
  const int op = int_arg(info, 0, k);
  if (op < 0 || op > R_MIN) fail(env, k, "unknown op code");
  Meta m = get_meta(env, k, info[2]);
  ViewDesc x = read_view(env, k, info[1], m, "x");
  need_float(env, k, x);
  bool red[kMaxDims];
  long nout = 1, nred = 1;
  for (int d = 0; d < x.ndim; d++) {
    red[d] = m.next(env, k) != 0;
    (red[d] ? nred : nout) *= x.shape[d];
  }
  if (op != R_SUM && nred == 0 && nout > 0) fail(env, k, "cannot take max/min over an empty axis");
  void* out = out_array(env, k, info[3], x.dtype, nout);
  ts::reduce(op, x, red, out);
  return env.Undefined();
}

// copy(x, meta, out): same dtype, or float32 <-> float64
Napi::Value Copy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string k = "copy";
  Meta m = get_meta(env, k, info[1]);
  ViewDesc x = read_view(env, k, info[0], m, "x");
  void* od; size_t olen;
  const int odt = dtype_of(env, k, info[2], &od, &olen);
  const bool ok = odt == x.dtype || ((odt == DT_F32 || odt == DT_F64) && (x.dtype == DT_F32 || x.dtype == DT_F64));
  if (!ok) fail(env, k, std::string("conversion ") + dt_name(x.dtype) + " -> " + dt_name(odt) + " is not a native kernel");
  if (long(olen) != view_numel(x)) fail(env, k, "output length does not match the view");
  ts::copy(x, od, odt);
  return env.Undefined();
}

// assign(dst, src, meta): same dtype and shape; dst and src must not share memory
Napi::Value Assign(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string k = "assign";
  Meta m = get_meta(env, k, info[2]);
  ViewDesc d = read_view(env, k, info[0], m, "dst");
  ViewDesc s = read_view(env, k, info[1], m, "src");
  if (d.dtype != s.dtype) fail(env, k, std::string("dtypes differ: ") + dt_name(d.dtype) + " and " + dt_name(s.dtype));
  same_shape(env, k, d, s);
  ts::assign(d, s);
  return env.Undefined();
}

Conv2dGeom read_geom(Napi::Env env, const std::string& k, Meta& m) {
  long g[14];
  for (int i = 0; i < 14; i++) {
    g[i] = as_long(env, k, m.next(env, k), "geometry value");
    if (g[i] < 0) fail(env, k, "negative geometry value");
  }
  Conv2dGeom p{g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9], g[10], g[11], g[12], g[13]};
  if (p.sh < 1 || p.sw < 1 || p.dh < 1 || p.dw < 1) fail(env, k, "strides and dilations must be >= 1");
  return p;
}

// unfold2d(x, meta, padValue, out): meta = view (N, C, H, W) then 14 geometry values
Napi::Value Unfold2d(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string k = "unfold2d";
  Meta m = get_meta(env, k, info[1]);
  ViewDesc x = read_view(env, k, info[0], m, "x");
  need_float(env, k, x);
  Conv2dGeom p = read_geom(env, k, m);
  if (x.ndim != 4 || x.shape[0] != p.n || x.shape[1] != p.c || x.shape[2] != p.h || x.shape[3] != p.w) fail(env, k, "input shape does not match the geometry");
  const double pad = info[2].As<Napi::Number>().DoubleValue();
  void* out = out_array(env, k, info[3], x.dtype, p.n * p.c * p.kh * p.kw * p.oh * p.ow);
  ts::unfold2d(x, p, pad, out);
  return env.Undefined();
}

// fold2d(cols, meta, out): meta = view (N, C, kh, kw, OH, OW) then 14 geometry values; out zeroed
Napi::Value Fold2d(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string k = "fold2d";
  Meta m = get_meta(env, k, info[1]);
  ViewDesc c = read_view(env, k, info[0], m, "cols");
  need_float(env, k, c);
  Conv2dGeom p = read_geom(env, k, m);
  const long want[6] = {p.n, p.c, p.kh, p.kw, p.oh, p.ow};
  bool ok = c.ndim == 6;
  for (int d = 0; ok && d < 6; d++) ok = c.shape[d] == want[d];
  if (!ok) fail(env, k, "cols shape does not match the geometry");
  // the oh/ow claimed must fit the image, or fold would write outside it
  void* out = out_array(env, k, info[2], c.dtype, p.n * p.c * p.h * p.w);
  ts::fold2d(c, p, out);
  return env.Undefined();
}

GemmArgs gemm_args(Napi::Env env, const std::string& k, const ViewDesc& a, const ViewDesc& b) {
  if (a.ndim != 3 || b.ndim != 3) fail(env, k, "operands must be 3-D (B, M, K) and (B, K, N)");
  if (a.dtype != b.dtype) fail(env, k, std::string("operand dtypes differ: ") + dt_name(a.dtype) + " and " + dt_name(b.dtype));
  need_float(env, k, a);
  if (a.shape[0] != b.shape[0] || a.shape[2] != b.shape[1]) {
    fail(env, k, "shapes do not line up: (" + std::to_string(a.shape[0]) + ", " + std::to_string(a.shape[1]) + ", " +
                     std::to_string(a.shape[2]) + ") @ (" + std::to_string(b.shape[0]) + ", " + std::to_string(b.shape[1]) + ", " +
                     std::to_string(b.shape[2]) + ")");
  }
  return GemmArgs{a.shape[0], a.shape[1], b.shape[2], a.shape[2], a.strides[0], a.strides[1], a.strides[2],
                  b.strides[0], b.strides[1], b.strides[2]};
}

void run_gemm(const GemmArgs& g, const ViewDesc& a, const ViewDesc& b, void* out) {
  if (a.dtype == DT_F32) gemm_f32(g, static_cast<const float*>(a.data) + a.offset, static_cast<const float*>(b.data) + b.offset, static_cast<float*>(out));
  else gemm_f64(g, static_cast<const double*>(a.data) + a.offset, static_cast<const double*>(b.data) + b.offset, static_cast<double*>(out));
}

// matmul(a, b, meta, out): out (B, M, N) contiguous, zero-filled by the caller (C += A B)
Napi::Value Matmul(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string k = "matmul";
  Meta m = get_meta(env, k, info[2]);
  ViewDesc a = read_view(env, k, info[0], m, "a");
  ViewDesc b = read_view(env, k, info[1], m, "b");
  GemmArgs g = gemm_args(env, k, a, b);
  void* out = out_array(env, k, info[3], a.dtype, g.batch * g.m * g.n);
  run_gemm(g, a, b, out);
  return env.Undefined();
}

// linear(x, w, bias | null, meta, relu, out): out (M, N) = x (M, K) @ w^T + bias, then relu if asked.
// meta = view x (2-D), view w (2-D, (N, K)), view bias (1-D (N,)) when present.
Napi::Value Linear(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string k = "linear";
  Meta m = get_meta(env, k, info[3]);
  ViewDesc x = read_view(env, k, info[0], m, "x");
  ViewDesc w = read_view(env, k, info[1], m, "weight");
  if (x.ndim != 2 || w.ndim != 2) fail(env, k, "x and weight must be 2-D");
  if (x.shape[1] != w.shape[1]) fail(env, k, "x has " + std::to_string(x.shape[1]) + " features but weight expects " + std::to_string(w.shape[1]));
  const bool hasBias = !info[2].IsNull() && !info[2].IsUndefined();
  ViewDesc bias{};
  if (hasBias) {
    bias = read_view(env, k, info[2], m, "bias");
    if (bias.ndim != 1 || bias.shape[0] != w.shape[0] || bias.dtype != x.dtype) fail(env, k, "bias must have shape (outFeatures,) and x's dtype");
  }
  const bool relu = info[4].ToBoolean().Value();
  // view x as (1, M, K) and w^T as (1, K, N) without copying
  ViewDesc a = x, b = w;
  a.ndim = 3; a.shape[0] = 1; a.shape[1] = x.shape[0]; a.shape[2] = x.shape[1];
  a.strides[0] = 0; a.strides[1] = x.strides[0]; a.strides[2] = x.strides[1];
  b.ndim = 3; b.shape[0] = 1; b.shape[1] = w.shape[1]; b.shape[2] = w.shape[0];
  b.strides[0] = 0; b.strides[1] = w.strides[1]; b.strides[2] = w.strides[0];
  GemmArgs g = gemm_args(env, k, a, b);
  void* out = out_array(env, k, info[5], x.dtype, g.m * g.n);
  if (hasBias && g.m > 0 && g.n > 0) {
    const size_t es = x.dtype == DT_F32 ? 4 : 8;
    fill_rows(x.dtype, out, g.m, g.n, static_cast<const char*>(bias.data) + bias.offset * es, bias.strides[0]);
  }
  run_gemm(g, a, b, out);
  if (relu) relu_inplace(x.dtype, out, g.m * g.n);
  return env.Undefined();
}

// softmaxXent(logits, target, meta, loss (Float64Array n), grad | null, scale)
// meta = view logits (2-D (N, C)), view target (1-D int32 (N,))
Napi::Value SoftmaxXent(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string k = "softmaxCrossEntropy";
  Meta m = get_meta(env, k, info[2]);
  ViewDesc lg = read_view(env, k, info[0], m, "logits");
  ViewDesc tg = read_view(env, k, info[1], m, "target");
  need_float(env, k, lg);
  if (lg.ndim != 2) fail(env, k, "logits must be 2-D (N, C)");
  if (tg.dtype != DT_I32 || tg.ndim != 1 || tg.shape[0] != lg.shape[0]) fail(env, k, "target must be int32 of shape (N,)");
  const int32_t* t = static_cast<const int32_t*>(tg.data) + tg.offset;
  for (long i = 0; i < tg.shape[0]; i++) {
    const long c = t[i * tg.strides[0]];
    if (c < 0 || c >= lg.shape[1]) fail(env, k, "target " + std::to_string(c) + " is out of range for " + std::to_string(lg.shape[1]) + " classes");
  }
  if (lg.shape[1] == 0 && lg.shape[0] > 0) fail(env, k, "logits have zero classes");
  double* loss = static_cast<double*>(out_array(env, k, info[3], DT_F64, lg.shape[0]));
  void* grad = nullptr;
  if (!info[4].IsNull() && !info[4].IsUndefined()) grad = out_array(env, k, info[4], lg.dtype, lg.shape[0] * lg.shape[1]);
  const double scale = info[5].As<Napi::Number>().DoubleValue();
  ts::softmax_xent(lg, t, tg.strides[0], loss, grad, scale);
  return env.Undefined();
}

// adam(p, g, m, v, vmax | null, hp): contiguous arrays of one dtype and length; hp Float64Array(10)
Napi::Value Adam(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string k = "adam";
  void* p; size_t n;
  const int dt = dtype_of(env, k, info[0], &p, &n);
  if (dt != DT_F32 && dt != DT_F64) fail(env, k, "parameter must be float32 or float64");
  void* ptrs[4] = {nullptr, nullptr, nullptr, nullptr};
  const char* names[4] = {"grad", "expAvg", "expAvgSq", "maxExpAvgSq"};
  for (int i = 0; i < 4; i++) {
    if (i == 3 && (info[4].IsNull() || info[4].IsUndefined())) break;
    size_t len;
    const int d = dtype_of(env, k, info[1 + i], &ptrs[i], &len);
    if (d != dt || len != n) fail(env, k, std::string(names[i]) + " must be " + dt_name(dt) + " of length " + std::to_string(n));
  }
  Meta hp = get_meta(env, k, info[5]);
  if (hp.n < 10) fail(env, k, "hyper-parameters must hold 10 values");
  if (hp.p[8] != 0 && ptrs[3] == nullptr) fail(env, k, "amsgrad needs a maxExpAvgSq buffer");
  ts::adam(dt, p, ptrs[0], ptrs[1], ptrs[2], ptrs[3], long(n), hp.p);
  return env.Undefined();
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  const int n = int_arg(info, 0, "setNumThreads");
  if (n < 1 || n > 1024) fail(info.Env(), "setNumThreads", "thread count must be in [1, 1024], got " + std::to_string(n));
  set_num_threads(n);
  return info.Env().Undefined();
}

Napi::Value GetNumThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), num_threads()); }

Napi::Value CpuPath(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), active()->name); }

Napi::Value SetCpuPath(const Napi::CallbackInfo& info) {
  if (!info[0].IsString()) fail(info.Env(), "setCpuPath", "expected 'avx512', 'avx2' or 'generic'");
  return Napi::Boolean::New(info.Env(), set_path(info[0].As<Napi::String>().Utf8Value().c_str()));
}

Napi::Value SupportedPaths(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array a = Napi::Array::New(env);
  uint32_t i = 0;
  for (const char* p : {"avx512", "avx2", "generic"}) if (cpu_supports(p)) a.Set(i++, Napi::String::New(env, p));
  return a;
}

// ---- Added for the training step (perf): select, compareInt, convert, linearBackward ----

// select(cond, a, b, meta, out): out = cond ? a : b, a and b of any one dtype, cond uint8, one shape
Napi::Value Select(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string k = "where";
  Meta m = get_meta(env, k, info[3]);
  ViewDesc c = read_view(env, k, info[0], m, "cond");
  ViewDesc a = read_view(env, k, info[1], m, "a");
  ViewDesc b = read_view(env, k, info[2], m, "b");
  if (c.dtype != DT_U8) fail(env, k, std::string("cond must be bool (uint8), got ") + dt_name(c.dtype));
  if (a.dtype != b.dtype) fail(env, k, std::string("operand dtypes differ: ") + dt_name(a.dtype) + " and " + dt_name(b.dtype));
  same_shape(env, k, c, a);
  same_shape(env, k, c, b);
  void* out = out_array(env, k, info[4], a.dtype, view_numel(c));
  ts::select(c, a, b, out);
  return env.Undefined();
}

// compareInt(op, a, b, meta, out): comparison (eq..ge) of int32 or uint8 operands -> uint8
Napi::Value CompareInt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string k = "binary";
  const int op = int_arg(info, 0, k);
  if (op < B_EQ || op > B_GE) fail(env, k, "compareInt takes a comparison op code");
  Meta m = get_meta(env, k, info[3]);
  ViewDesc a = read_view(env, k, info[1], m, "a");
  ViewDesc b = read_view(env, k, info[2], m, "b");
  if (a.dtype != b.dtype || (a.dtype != DT_I32 && a.dtype != DT_U8)) fail(env, k, std::string("compareInt needs two int32 or two uint8 operands, got ") + dt_name(a.dtype) + " and " + dt_name(b.dtype));
  same_shape(env, k, a, b);
  void* out = out_array(env, k, info[4], DT_U8, view_numel(a));
  ts::compare_int(op, a, b, static_cast<uint8_t*>(out));
  return env.Undefined();
}

// convert(x, meta, out): uint8 -> any, int32 -> int32/float, float -> float (no float -> int)
Napi::Value Convert(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string k = "copy";
  Meta m = get_meta(env, k, info[1]);
  ViewDesc x = read_view(env, k, info[0], m, "x");
  void* od; size_t olen;
  const int odt = dtype_of(env, k, info[2], &od, &olen);
  const bool ok = x.dtype == DT_U8 || odt == DT_F32 || odt == DT_F64 || (x.dtype == DT_I32 && odt == DT_I32);
  if (!ok) fail(env, k, std::string("conversion ") + dt_name(x.dtype) + " -> " + dt_name(odt) + " is not a native kernel");
  if (long(olen) != view_numel(x)) fail(env, k, "output length does not match the view");
  ts::convert(x, od, odt);
  return env.Undefined();
}

// linearBackward(dy, y | null, x, w, meta, g, dx | null, dw | null, db | null)
// meta = views dy (M, N), y (M, N) when given, x (M, K), w (N, K). g: scratch (M*N) or null for
// native scratch; dx, dw zeroed.
Napi::Value LinearBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string k = "linearBackward";
  Meta m = get_meta(env, k, info[4]);
  const bool hasY = !info[1].IsNull() && !info[1].IsUndefined();
  ViewDesc dy = read_view(env, k, info[0], m, "dy");
  ViewDesc y{};
  if (hasY) y = read_view(env, k, info[1], m, "y");
  ViewDesc x = read_view(env, k, info[2], m, "x");
  ViewDesc w = read_view(env, k, info[3], m, "weight");
  need_float(env, k, dy);
  if (x.dtype != dy.dtype || w.dtype != dy.dtype || (hasY && y.dtype != dy.dtype)) fail(env, k, "dy, y, x and weight must share one dtype");
  if (dy.ndim != 2 || x.ndim != 2 || w.ndim != 2) fail(env, k, "dy, x and weight must be 2-D");
  const long M = dy.shape[0], N = dy.shape[1], K = x.shape[1];
  if (x.shape[0] != M || w.shape[0] != N || w.shape[1] != K) fail(env, k, "shapes do not line up: dy (M, N), x (M, K), weight (N, K)");
  if (hasY) same_shape(env, k, dy, y);
  auto opt = [&](size_t i, long n) -> void* { return info[i].IsNull() || info[i].IsUndefined() ? nullptr : out_array(env, k, info[i], dy.dtype, n); };
  void* g = info[5].IsNull() || info[5].IsUndefined() ? nullptr : out_array(env, k, info[5], dy.dtype, M * N);
  void* dx = opt(6, M * K);
  void* dw = opt(7, N * K);
  void* db = opt(8, N);
  ts::linear_backward(dy, hasY ? &y : nullptr, x, w, g, dx, dw, db);
  return env.Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  active();  // choose the CPU path now (reads TENSORSLIM_CPU)
  exports.Set("unary", Napi::Function::New(env, Unary));
  exports.Set("binary", Napi::Function::New(env, Binary));
  exports.Set("reduce", Napi::Function::New(env, Reduce));
  exports.Set("copy", Napi::Function::New(env, Copy));
  exports.Set("assign", Napi::Function::New(env, Assign));
  exports.Set("unfold2d", Napi::Function::New(env, Unfold2d));
  exports.Set("fold2d", Napi::Function::New(env, Fold2d));
  exports.Set("matmul", Napi::Function::New(env, Matmul));
  exports.Set("linear", Napi::Function::New(env, Linear));
  exports.Set("softmaxCrossEntropy", Napi::Function::New(env, SoftmaxXent));
  exports.Set("adam", Napi::Function::New(env, Adam));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads));
  exports.Set("getNumThreads", Napi::Function::New(env, GetNumThreads));
  exports.Set("cpuPath", Napi::Function::New(env, CpuPath));
  exports.Set("setCpuPath", Napi::Function::New(env, SetCpuPath));
  exports.Set("supportedPaths", Napi::Function::New(env, SupportedPaths));
  exports.Set("select", Napi::Function::New(env, Select));
  exports.Set("compareInt", Napi::Function::New(env, CompareInt));
  exports.Set("convert", Napi::Function::New(env, Convert));
  exports.Set("linearBackward", Napi::Function::New(env, LinearBackward));
  register_sparse(env, exports);     // sparse.cc: csrLinear
  register_attention(env, exports);  // attention.cc: attentionForward, attentionBackward
  register_norm_act(env, exports);   // norm_act.cc: layerNormForward/Backward, geluForward/Backward
  register_embedding(env, exports);  // embedding.cc: embeddingForward, embeddingBackward
  exports.Set("abiVersion", Napi::Number::New(env, 2));
  return exports;
}

}  // namespace

NODE_API_MODULE(tensorslim, Init)
