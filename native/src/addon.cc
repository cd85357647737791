// N-API bindings of the tensorslim native backend. Every entry point validates what JavaScript
// hands it (typed-array kinds, ranks, and that each strided view stays inside its array) and
// throws a JavaScript error naming the kernel otherwise; kernels then read and write the
// JS-owned typed arrays in place, with no copies.
//
// A view travels as its typed array plus a slice of a Float64Array `meta`:
//   [ndim, offset, shape[0..ndim), strides[0..ndim)]
//
// Layout: `Call` below holds every argument check (typed arrays, views, outputs, numbers, dtype and
// shape agreement) and the error format "native <kernel>: <what is wrong>". Each binding is then a
// few lines that read its arguments in order and call its kernel; `kBindings` maps the exported
// names to them. Checks finish before a kernel runs, so a bad call changes no output.
#define NAPI_VERSION 8
#include <napi.h>

#include <cmath>
#include <string>

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

constexpr int kAbiVersion = 3;  // must match ABI_VERSION in src/backends/native/addon.ts (3: linear and
                                // linearBackward write every output element, so outputs may be uninitialized)

const char* dt_name(int dt) { return dt == DT_F32 ? "float32" : dt == DT_F64 ? "float64" : dt == DT_I32 ? "int32" : "uint8"; }
bool is_float(int dt) { return dt == DT_F32 || dt == DT_F64; }
long view_numel(const ViewDesc& v) { long n = 1; for (int d = 0; d < v.ndim; d++) n *= v.shape[d]; return n; }

// The arguments of one call, read and checked in the order a binding asks for them. Views come
// from the call's meta (set by meta()), consumed front to back. Every check failure throws
// "native <kernel>: <message>".
class Call {
 public:
  Call(const Napi::CallbackInfo& info, const char* kernel) : info_(info), env_(info.Env()), k_(kernel) {}

  [[noreturn]] void fail(const std::string& msg) const { throw Napi::Error::New(env_, std::string("native ") + k_ + ": " + msg); }

  // Whether argument i is present (not null or undefined).
  bool has(size_t i) const { return !info_[i].IsNull() && !info_[i].IsUndefined(); }

  int int32(size_t i) const {
    if (!info_[i].IsNumber()) fail("argument " + std::to_string(i) + " must be a number");
    return info_[i].As<Napi::Number>().Int32Value();
  }
  // An op code in [lo, hi].
  int op(size_t i, int lo, int hi) const {
    const int op = int32(i);
    if (op < lo || op > hi) fail("unknown op code " + std::to_string(op) + " (this entry point takes " + std::to_string(lo) + ".." + std::to_string(hi) + ")");
    return op;
  }
  double number(size_t i, const char* name) const {
    if (!info_[i].IsNumber()) fail(std::string(name) + " must be a number");
    return info_[i].As<Napi::Number>().DoubleValue();
  }
  bool flag(size_t i) const { return info_[i].ToBoolean().Value(); }

  // Argument i as a typed array: its dtype, first element and length.
  int array(size_t i, void** data, size_t* len) const {
    const Napi::Value& v = info_[i];
    if (!v.IsTypedArray()) fail("argument " + std::to_string(i) + ": expected a typed array");
    Napi::TypedArray ta = v.As<Napi::TypedArray>();
    *len = ta.ElementLength();
    Napi::ArrayBuffer buf = ta.ArrayBuffer();
    *data = static_cast<char*>(buf.Data()) + ta.ByteOffset();
    switch (ta.TypedArrayType()) {
      case napi_float32_array: return DT_F32;
      case napi_float64_array: return DT_F64;
      case napi_int32_array: return DT_I32;
      case napi_uint8_array: return DT_U8;
      default: fail("argument " + std::to_string(i) + ": unsupported typed array kind (expected Float32Array, Float64Array, Int32Array or Uint8Array)");
    }
  }

  // Argument i as a Float64Array of at least min_len values (`what` names it in errors).
  const double* f64(size_t i, const char* what, size_t min_len, size_t* len) const {
    const Napi::Value& v = info_[i];
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) fail(std::string(what) + " must be a Float64Array");
    Napi::Float64Array m = v.As<Napi::Float64Array>();
    *len = m.ElementLength();
    if (*len < min_len) fail(std::string(what) + " must hold " + std::to_string(min_len) + " values, got " + std::to_string(*len));
    return m.Data();
  }

  // Makes argument i the meta that the following view() and next() calls read.
  void meta(size_t i) { meta_ = f64(i, "meta", 0, &meta_len_); meta_pos_ = 0; }
  double next() {
    if (meta_pos_ >= meta_len_) fail("view description is truncated");
    return meta_[meta_pos_++];
  }
  long next_long(const char* what) {
    const double d = next();
    if (!(std::isfinite(d)) || d != std::floor(d) || std::fabs(d) > 9.0e15) fail(std::string("bad ") + what + " " + std::to_string(d));
    return long(d);
  }

  // Argument i with the next view of meta; every element the view addresses must lie inside the array.
  ViewDesc view(size_t i, const char* name) {
    ViewDesc v{};
    size_t len = 0;
    v.dtype = array(i, &v.data, &len);
    const long nd = next_long("rank");
    if (nd < 0 || nd > kMaxDims) fail(std::string(name) + ": rank " + std::to_string(nd) + " is not supported (at most 16)");
    v.ndim = int(nd);
    v.offset = next_long("offset");
    long numel = 1, lo = v.offset, hi = v.offset;
    for (int d = 0; d < v.ndim; d++) {
      v.shape[d] = next_long("dimension");
      if (v.shape[d] < 0) fail(std::string(name) + ": negative dimension");
      numel *= v.shape[d];
    }
    for (int d = 0; d < v.ndim; d++) {
      v.strides[d] = next_long("stride");
      if (v.shape[d] > 0) {
        const long ext = (v.shape[d] - 1) * v.strides[d];
        if (ext < 0) lo += ext; else hi += ext;
      }
    }
    if (numel > 0 && (lo < 0 || hi >= long(len))) {
      fail(std::string(name) + ": a view of shape " + shape_str(v) + " at offset " + std::to_string(v.offset) + " reaches elements [" +
           std::to_string(lo) + ", " + std::to_string(hi) + "] of an array of length " + std::to_string(len) +
           " (the typed array is too short for the claimed shape)");
    }
    return v;
  }
  // view() that must be float32 or float64.
  ViewDesc float_view(size_t i, const char* name) {
    ViewDesc v = view(i, name);
    need_float(v);
    return v;
  }

  // Argument i as a contiguous output of `dtype` holding exactly numel elements.
  void* out(size_t i, int dtype, long numel) const {
    void* data;
    size_t len;
    const int dt = array(i, &data, &len);
    if (dt != dtype) fail(std::string("output must be ") + dt_name(dtype) + ", got " + dt_name(dt));
    if (long(len) != numel) fail("output has " + std::to_string(len) + " elements, expected " + std::to_string(numel));
    return data;
  }
  // out(), or nullptr when argument i is null or undefined.
  void* out_opt(size_t i, int dtype, long numel) const { return has(i) ? out(i, dtype, numel) : nullptr; }

  void need_float(const ViewDesc& v) const {
    if (!is_float(v.dtype)) fail(std::string("expected float32 or float64, got ") + dt_name(v.dtype));
  }
  void same_dtype(const ViewDesc& a, const ViewDesc& b) const {
    if (a.dtype != b.dtype) fail(std::string("operand dtypes differ: ") + dt_name(a.dtype) + " and " + dt_name(b.dtype));
  }
  void same_shape(const ViewDesc& a, const ViewDesc& b) const {
    bool ok = a.ndim == b.ndim;
    for (int d = 0; ok && d < a.ndim; d++) ok = a.shape[d] == b.shape[d];
    if (!ok) fail("operand shapes differ: " + shape_str(a) + " and " + shape_str(b) + " (broadcast them to one shape first)");
  }

  static std::string shape_str(const ViewDesc& v) {
    std::string s = "(";
    for (int d = 0; d < v.ndim; d++) s += (d ? ", " : "") + std::to_string(v.shape[d]);
    return s + (v.ndim == 1 ? ",)" : ")");
  }

 private:
  const Napi::CallbackInfo& info_;
  Napi::Env env_;
  const char* k_;
  const double* meta_ = nullptr;
  size_t meta_len_ = 0, meta_pos_ = 0;
};

// ---- shared pieces of several bindings

// Output of a cast of x (copy, convert): a typed array of x's length whose dtype allowed(from, to) accepts.
void* cast_out(Call& c, size_t i, const ViewDesc& x, bool (*allowed)(int from, int to), int* odt) {
  void* out;
  size_t len;
  *odt = c.array(i, &out, &len);
  if (!allowed(x.dtype, *odt)) c.fail(std::string("conversion ") + dt_name(x.dtype) + " -> " + dt_name(*odt) + " is not a native kernel");
  if (long(len) != view_numel(x)) c.fail("output has " + std::to_string(len) + " elements, but the view has " + std::to_string(view_numel(x)));
  return out;
}

// The 14 convolution geometry values that follow the view in meta.
Conv2dGeom geometry(Call& c) {
  long g[14];
  for (int i = 0; i < 14; i++) {
    g[i] = c.next_long("geometry value");
    if (g[i] < 0) c.fail("negative geometry value");
  }
  Conv2dGeom p{g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9], g[10], g[11], g[12], g[13]};
  if (p.sh < 1 || p.sw < 1 || p.dh < 1 || p.dw < 1) c.fail("strides and dilations must be >= 1");
  return p;
}

// (B, M, K) @ (B, K, N) of one float dtype.
GemmArgs gemm_args(Call& c, const ViewDesc& a, const ViewDesc& b) {
  if (a.ndim != 3 || b.ndim != 3) c.fail("operands must be 3-D (B, M, K) and (B, K, N)");
  c.same_dtype(a, b);
  c.need_float(a);
  if (a.shape[0] != b.shape[0] || a.shape[2] != b.shape[1]) c.fail("shapes do not line up: " + Call::shape_str(a) + " @ " + Call::shape_str(b));
  return GemmArgs{a.shape[0], a.shape[1], b.shape[2], a.shape[2], a.strides[0], a.strides[1], a.strides[2],
                  b.strides[0], b.strides[1], b.strides[2]};
}

void run_gemm(const GemmArgs& g, const ViewDesc& a, const ViewDesc& b, void* out) {
  if (a.dtype == DT_F32) gemm_f32(g, static_cast<const float*>(a.data) + a.offset, static_cast<const float*>(b.data) + b.offset, static_cast<float*>(out));
  else gemm_f64(g, static_cast<const double*>(a.data) + a.offset, static_cast<const double*>(b.data) + b.offset, static_cast<double*>(out));
}

// ---- the bindings: arguments in the order JavaScript passes them (src/backends/native/addon.ts)

// unary(op, x, meta, out)
void Unary(Call& c) {
  const int op = c.op(0, 0, U_FLOOR);
  c.meta(2);
  const ViewDesc x = c.float_view(1, "x");
  ts::unary(op, x, c.out(3, x.dtype, view_numel(x)), x.dtype);
}

// binary(op, a, b, meta, out): out is a's dtype, or uint8 for comparisons
void Binary(Call& c) {
  const int op = c.op(0, 0, B_LOGICAL_OR);
  c.meta(3);
  const ViewDesc a = c.view(1, "a"), b = c.view(2, "b");
  c.need_float(a);
  c.same_dtype(a, b);
  c.same_shape(a, b);
  const int odt = op >= B_EQ ? DT_U8 : a.dtype;
  ts::binary(op, a, b, c.out(4, odt, view_numel(a)), odt);
}

// reduce(op, x, meta, out): meta = view, then ndim flags (1 = reduced)
void Reduce(Call& c) {
  const int op = c.op(0, 0, R_MIN);
  c.meta(2);
  const ViewDesc x = c.float_view(1, "x");
  bool red[kMaxDims];
  long nout = 1, nred = 1;
  for (int d = 0; d < x.ndim; d++) {
    red[d] = c.next() != 0;
    (red[d] ? nred : nout) *= x.shape[d];
  }
  if (op != R_SUM && nred == 0 && nout > 0) c.fail("cannot take max/min over an empty axis");
  ts::reduce(op, x, red, c.out(3, x.dtype, nout));
}

// copy(x, meta, out): same dtype, or float32 <-> float64
void Copy(Call& c) {
  c.meta(1);
  const ViewDesc x = c.view(0, "x");
  int odt;
  void* out = cast_out(c, 2, x, [](int from, int to) { return from == to || (is_float(from) && is_float(to)); }, &odt);
  ts::copy(x, out, odt);
}

// convert(x, meta, out): uint8 -> any, int32 -> int32/float, float -> float (no float -> int)
void Convert(Call& c) {
  c.meta(1);
  const ViewDesc x = c.view(0, "x");
  int odt;
  void* out = cast_out(c, 2, x, [](int from, int to) { return from == DT_U8 || is_float(to) || (from == DT_I32 && to == DT_I32); }, &odt);
  ts::convert(x, out, odt);
}

// assign(dst, src, meta): same dtype and shape; dst and src must not share memory
void Assign(Call& c) {
  c.meta(2);
  const ViewDesc d = c.view(0, "dst"), s = c.view(1, "src");
  c.same_dtype(d, s);
  c.same_shape(d, s);
  ts::assign(d, s);
}

// unfold2d(x, meta, padValue, out): meta = view (N, C, H, W) then 14 geometry values
void Unfold2d(Call& c) {
  c.meta(1);
  const ViewDesc x = c.float_view(0, "x");
  const Conv2dGeom p = geometry(c);
  if (x.ndim != 4 || x.shape[0] != p.n || x.shape[1] != p.c || x.shape[2] != p.h || x.shape[3] != p.w) c.fail("input shape does not match the geometry");
  const double pad = c.number(2, "padValue");
  ts::unfold2d(x, p, pad, c.out(3, x.dtype, p.n * p.c * p.kh * p.kw * p.oh * p.ow));
}

// fold2d(cols, meta, out): meta = view (N, C, kh, kw, OH, OW) then 14 geometry values; out zeroed
void Fold2d(Call& c) {
  c.meta(1);
  const ViewDesc cols = c.float_view(0, "cols");
  const Conv2dGeom p = geometry(c);
  const long want[6] = {p.n, p.c, p.kh, p.kw, p.oh, p.ow};
  bool ok = cols.ndim == 6;
  for (int d = 0; ok && d < 6; d++) ok = cols.shape[d] == want[d];
  if (!ok) c.fail("cols shape does not match the geometry");
  ts::fold2d(cols, p, c.out(2, cols.dtype, p.n * p.c * p.h * p.w));
}

// matmul(a, b, meta, out): out (B, M, N) contiguous, zero-filled by the caller (C += A B)
void Matmul(Call& c) {
  c.meta(2);
  const ViewDesc a = c.view(0, "a"), b = c.view(1, "b");
  const GemmArgs g = gemm_args(c, a, b);
  run_gemm(g, a, b, c.out(3, a.dtype, g.batch * g.m * g.n));
}

// linear(x, w, bias | null, meta, relu, out): out (M, N) = x (M, K) @ w^T + bias, then relu if asked
// (every element of out written: it may be uninitialized).
// meta = view x (2-D), view w (2-D, (N, K)), view bias (1-D (N,)) when present.
void Linear(Call& c) {
  c.meta(3);
  const ViewDesc x = c.view(0, "x"), w = c.view(1, "weight");
  if (x.ndim != 2 || w.ndim != 2) c.fail("x and weight must be 2-D");
  if (x.shape[1] != w.shape[1]) c.fail("x has " + std::to_string(x.shape[1]) + " features but weight expects " + std::to_string(w.shape[1]));
  const bool hasBias = c.has(2);
  ViewDesc bias{};
  if (hasBias) {
    bias = c.view(2, "bias");
    if (bias.ndim != 1 || bias.shape[0] != w.shape[0] || bias.dtype != x.dtype) c.fail("bias must have shape (outFeatures,) and x's dtype");
  }
  const bool relu = c.flag(4);
  // view x as (1, M, K) and w^T as (1, K, N) without copying
  ViewDesc a = x, b = w;
  a.ndim = 3; a.shape[0] = 1; a.shape[1] = x.shape[0]; a.shape[2] = x.shape[1];
  a.strides[0] = 0; a.strides[1] = x.strides[0]; a.strides[2] = x.strides[1];
  b.ndim = 3; b.shape[0] = 1; b.shape[1] = w.shape[1]; b.shape[2] = w.shape[0];
  b.strides[0] = 0; b.strides[1] = w.strides[1]; b.strides[2] = w.strides[0];
  const GemmArgs g = gemm_args(c, a, b);
  void* out = c.out(5, x.dtype, g.m * g.n);
  ts::linear_forward(x, w, hasBias ? &bias : nullptr, relu, out);  // bias and ReLU inside the GEMM's tiles
}

// softmaxCrossEntropy(logits, target, meta, loss (Float64Array n), grad | null, scale)
// meta = view logits (2-D (N, C)), view target (1-D int32 (N,))
void SoftmaxXent(Call& c) {
  c.meta(2);
  const ViewDesc lg = c.view(0, "logits"), tg = c.view(1, "target");
  c.need_float(lg);
  if (lg.ndim != 2) c.fail("logits must be 2-D (N, C)");
  if (tg.dtype != DT_I32 || tg.ndim != 1 || tg.shape[0] != lg.shape[0]) c.fail("target must be int32 of shape (N,)");
  const int32_t* t = static_cast<const int32_t*>(tg.data) + tg.offset;
  for (long i = 0; i < tg.shape[0]; i++) {
    const long k = t[i * tg.strides[0]];
    if (k < 0 || k >= lg.shape[1]) c.fail("target " + std::to_string(k) + " is out of range for " + std::to_string(lg.shape[1]) + " classes");
  }
  if (lg.shape[1] == 0 && lg.shape[0] > 0) c.fail("logits have zero classes");
  double* loss = static_cast<double*>(c.out(3, DT_F64, lg.shape[0]));
  void* grad = c.out_opt(4, lg.dtype, lg.shape[0] * lg.shape[1]);
  const double scale = c.number(5, "scale");
  ts::softmax_xent(lg, t, tg.strides[0], loss, grad, scale);
}

// adam(p, g, m, v, vmax | null, hp): contiguous arrays of one dtype and length; hp Float64Array(10)
void Adam(Call& c) {
  void* p;
  size_t n;
  const int dt = c.array(0, &p, &n);
  if (!is_float(dt)) c.fail("parameter must be float32 or float64");
  void* ptrs[4] = {nullptr, nullptr, nullptr, nullptr};
  const char* names[4] = {"grad", "expAvg", "expAvgSq", "maxExpAvgSq"};
  for (int i = 0; i < 4; i++) {
    if (i == 3 && !c.has(4)) break;
    size_t len;
    if (c.array(1 + i, &ptrs[i], &len) != dt || len != n) c.fail(std::string(names[i]) + " must be " + dt_name(dt) + " of length " + std::to_string(n));
  }
  size_t nhp;
  const double* hp = c.f64(5, "hyper-parameters", 10, &nhp);
  if (hp[8] != 0 && ptrs[3] == nullptr) c.fail("amsgrad needs a maxExpAvgSq buffer");
  ts::adam(dt, p, ptrs[0], ptrs[1], ptrs[2], ptrs[3], long(n), hp);
}

// select(cond, a, b, meta, out): out = cond ? a : b, a and b of any one dtype, cond uint8, one shape
void Select(Call& c) {
  c.meta(3);
  const ViewDesc cond = c.view(0, "cond"), a = c.view(1, "a"), b = c.view(2, "b");
  if (cond.dtype != DT_U8) c.fail(std::string("cond must be bool (uint8), got ") + dt_name(cond.dtype));
  c.same_dtype(a, b);
  c.same_shape(cond, a);
  c.same_shape(cond, b);
  ts::select(cond, a, b, c.out(4, a.dtype, view_numel(cond)));
}

// compareInt(op, a, b, meta, out): comparison (eq..ge) of int32 or uint8 operands -> uint8
void CompareInt(Call& c) {
  const int op = c.op(0, B_EQ, B_GE);
  c.meta(3);
  const ViewDesc a = c.view(1, "a"), b = c.view(2, "b");
  if (a.dtype != b.dtype || (a.dtype != DT_I32 && a.dtype != DT_U8)) {
    c.fail(std::string("needs two int32 or two uint8 operands, got ") + dt_name(a.dtype) + " and " + dt_name(b.dtype));
  }
  c.same_shape(a, b);
  ts::compare_int(op, a, b, static_cast<uint8_t*>(c.out(4, DT_U8, view_numel(a))));
}

// linearBackward(dy, y | null, x, w, meta, g, dx | null, dw | null, db | null)
// meta = views dy (M, N), y (M, N) when given, x (M, K), w (N, K). g: scratch (M*N) or null for
// native scratch; dx, dw, db: every element written (they may be uninitialized).
void LinearBackward(Call& c) {
  c.meta(4);
  const bool hasY = c.has(1);
  const ViewDesc dy = c.view(0, "dy");
  const ViewDesc y = hasY ? c.view(1, "y") : ViewDesc{};
  const ViewDesc x = c.view(2, "x"), w = c.view(3, "weight");
  c.need_float(dy);
  if (x.dtype != dy.dtype || w.dtype != dy.dtype || (hasY && y.dtype != dy.dtype)) c.fail("dy, y, x and weight must share one dtype");
  if (dy.ndim != 2 || x.ndim != 2 || w.ndim != 2) c.fail("dy, x and weight must be 2-D");
  const long M = dy.shape[0], N = dy.shape[1], K = x.shape[1];
  if (x.shape[0] != M || w.shape[0] != N || w.shape[1] != K) c.fail("shapes do not line up: dy (M, N), x (M, K), weight (N, K)");
  if (hasY) c.same_shape(dy, y);
  void* g = c.out_opt(5, dy.dtype, M * N);
  void* dx = c.out_opt(6, dy.dtype, M * K);
  void* dw = c.out_opt(7, dy.dtype, N * K);
  void* db = c.out_opt(8, dy.dtype, N);
  ts::linear_backward(dy, hasY ? &y : nullptr, x, w, g, dx, dw, db);
}

// setNumThreads(n)
void SetNumThreads(Call& c) {
  const int n = c.int32(0);
  if (n < 1 || n > 1024) c.fail("thread count must be in [1, 1024], got " + std::to_string(n));
  set_num_threads(n);
}

// ---- the export table

// An exported entry point that returns nothing: its JavaScript name, the kernel its errors name,
// and its body.
struct Binding {
  const char* name;
  const char* kernel;
  void (*body)(Call&);
};

const Binding kBindings[] = {
    {"unary", "unary", Unary},
    {"binary", "binary", Binary},
    {"reduce", "reduce", Reduce},
    {"copy", "copy", Copy},
    {"assign", "assign", Assign},
    {"unfold2d", "unfold2d", Unfold2d},
    {"fold2d", "fold2d", Fold2d},
    {"matmul", "matmul", Matmul},
    {"linear", "linear", Linear},
    {"softmaxCrossEntropy", "softmaxCrossEntropy", SoftmaxXent},
    {"adam", "adam", Adam},
    {"select", "where", Select},          // the backend's where op
    {"compareInt", "compareInt", CompareInt},
    {"convert", "convert", Convert},
    {"linearBackward", "linearBackward", LinearBackward},
    {"setNumThreads", "setNumThreads", SetNumThreads},
};

// The one N-API callback behind every kBindings entry (the entry travels as the function's data).
void Dispatch(const Napi::CallbackInfo& info) {
  const Binding* b = static_cast<const Binding*>(info.Data());
  Call c(info, b->kernel);
  b->body(c);
}

// Queries that return a value.
Napi::Value GetNumThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), num_threads()); }

Napi::Value CpuPath(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), active()->name); }

Napi::Value SetCpuPath(const Napi::CallbackInfo& info) {
  if (!info[0].IsString()) Call(info, "setCpuPath").fail("expected 'avx512', 'avx2' or 'generic'");
  return Napi::Boolean::New(info.Env(), set_path(info[0].As<Napi::String>().Utf8Value().c_str()));
}

Napi::Value SupportedPaths(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array a = Napi::Array::New(env);
  uint32_t i = 0;
  for (const char* p : {"avx512", "avx2", "generic"}) if (cpu_supports(p)) a.Set(i++, Napi::String::New(env, p));
  return a;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  active();  // choose the CPU path now (reads TENSORSLIM_CPU)
  for (const Binding& b : kBindings) {
    exports.Set(b.name, Napi::Function::New<Dispatch>(env, b.name, const_cast<Binding*>(&b)));
  }
  exports.Set("getNumThreads", Napi::Function::New<GetNumThreads>(env, "getNumThreads"));
  exports.Set("cpuPath", Napi::Function::New<CpuPath>(env, "cpuPath"));
  exports.Set("setCpuPath", Napi::Function::New<SetCpuPath>(env, "setCpuPath"));
  exports.Set("supportedPaths", Napi::Function::New<SupportedPaths>(env, "supportedPaths"));
  register_sparse(env, exports);     // sparse.cc: csrLinear
  register_attention(env, exports);  // attention.cc: attentionForward, attentionBackward
  register_norm_act(env, exports);   // norm_act.cc: layerNormForward/Backward, geluForward/Backward
  register_embedding(env, exports);  // embedding.cc: embeddingForward, embeddingBackward
  exports.Set("abiVersion", Napi::Number::New(env, kAbiVersion));
  return exports;
}

}  // namespace

NODE_API_MODULE(tensorslim, Init)
