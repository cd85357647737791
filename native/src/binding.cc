// The binding layer's argument readers and checks: see binding.h.
#include "binding.h"

#include <cmath>

namespace ts {

const char* dt_name(int dt) { return dt == DT_F32 ? "float32" : dt == DT_F64 ? "float64" : dt == DT_I32 ? "int32" : "uint8"; }

long view_numel(const ViewDesc& v) {
  long n = 1;
  for (int d = 0; d < v.ndim; d++) n *= v.shape[d];
  return n;
}

std::string shape_str(const ViewDesc& v) {
  std::string s = "(";
  for (int d = 0; d < v.ndim; d++) s += (d ? ", " : "") + std::to_string(v.shape[d]);
  return s + (v.ndim == 1 ? ",)" : ")");
}

void Call::fail(const std::string& msg) const { throw Napi::Error::New(env_, std::string("native ") + k_ + ": " + msg); }

int Call::int32(size_t i) const {
  if (!info_[i].IsNumber()) fail("argument " + std::to_string(i) + " must be a number");
  return info_[i].As<Napi::Number>().Int32Value();
}

int Call::op(size_t i, int lo, int hi) const {
  const int op = int32(i);
  if (op < lo || op > hi) fail("unknown op code " + std::to_string(op) + " (this entry point takes " + std::to_string(lo) + ".." + std::to_string(hi) + ")");
  return op;
}

double Call::number(size_t i, const char* name) const {
  if (!info_[i].IsNumber()) fail(std::string(name) + " must be a number");
  return info_[i].As<Napi::Number>().DoubleValue();
}

long Call::integer(size_t i, const char* name, long lo, long hi) const {
  const double d = number(i, name);
  if (!(d >= double(lo) && d <= double(hi)) || d != std::floor(d)) {
    fail(std::string(name) + " must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got " + std::to_string(d));
  }
  return long(d);
}

// One napi_get_typedarray_info call gives the kind, the length and the first element (already
// past the byte offset); the node-addon-api accessors would make four calls and an ArrayBuffer
// handle per array (part of the fixed cost of every native call: issue 17, batch-1 inference).
// Returns false when argument i is not a typed array.
bool Call::typed_info(size_t i, napi_typedarray_type* type, size_t* len, void** data) const {
  napi_value v = info_[i];
  bool is = false;
  if (napi_is_typedarray(env_, v, &is) != napi_ok || !is) return false;
  napi_value buf;
  size_t off;
  if (napi_get_typedarray_info(env_, v, type, len, data, &buf, &off) != napi_ok) return false;
  return true;
}

int Call::array(size_t i, void** data, size_t* len, const char* name) const {
  napi_typedarray_type type;
  const auto who = [&] { return name != nullptr ? std::string(name) : "argument " + std::to_string(i); };
  if (!typed_info(i, &type, len, data)) fail(who() + ": expected a typed array");
  switch (type) {
    case napi_float32_array: return DT_F32;
    case napi_float64_array: return DT_F64;
    case napi_int32_array: return DT_I32;
    case napi_uint8_array: return DT_U8;
    default: fail(who() + ": unsupported typed array kind (expected Float32Array, Float64Array, Int32Array or Uint8Array)");
  }
}

int Call::float_array(size_t i, void** data, size_t* len, const char* name) const {
  const int dt = array(i, data, len, name);
  if (!is_float(dt)) fail(std::string(name) + ": expected a Float32Array or Float64Array, got " + dt_name(dt));
  return dt;
}

const double* Call::f64(size_t i, const char* what, size_t min_len, size_t* len) const {
  napi_typedarray_type type;
  void* data = nullptr;
  if (!typed_info(i, &type, len, &data) || type != napi_float64_array) fail(std::string(what) + " must be a Float64Array");
  if (*len < min_len) fail(std::string(what) + " must hold " + std::to_string(min_len) + " values, got " + std::to_string(*len));
  return static_cast<const double*>(data);
}

double Call::next() {
  if (meta_pos_ >= meta_len_) fail("view description is truncated");
  return meta_[meta_pos_++];
}

long Call::next_long(const char* what) {
  const double d = next();
  if (!(std::isfinite(d)) || d != std::floor(d) || std::fabs(d) > 9.0e15) fail(std::string("bad ") + what + " " + std::to_string(d));
  return long(d);
}

ViewDesc Call::view(size_t i, const char* name) {
  ViewDesc v{};
  size_t len = 0;
  v.dtype = array(i, &v.data, &len, name);
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
         " (outside its array: the typed array is too short for the claimed shape)");
  }
  return v;
}

ViewDesc Call::float_view(size_t i, const char* name) {
  ViewDesc v = view(i, name);
  need_float(v);
  return v;
}

ViewDesc Call::view_rank(size_t i, const char* name, int rank, const char* what) {
  ViewDesc v = view(i, name);
  if (v.ndim != rank) fail(std::string(name) + " must be " + what + ", got " + shape_str(v));
  return v;
}

void* Call::out(size_t i, int dtype, long numel, const char* name) const {
  void* data;
  size_t len;
  const int dt = array(i, &data, &len, name);
  if (dt != dtype) fail(std::string(name) + " must be " + dt_name(dtype) + ", got " + dt_name(dt));
  if (long(len) != numel) fail(std::string(name) + " has " + std::to_string(len) + " elements, expected " + std::to_string(numel));
  return data;
}

void Call::need_float(const ViewDesc& v) const {
  if (!is_float(v.dtype)) fail(std::string("expected float32 or float64, got ") + dt_name(v.dtype));
}

void Call::same_dtype(const ViewDesc& a, const ViewDesc& b) const {
  if (a.dtype != b.dtype) fail(std::string("operand dtypes differ: ") + dt_name(a.dtype) + " and " + dt_name(b.dtype));
}

void Call::same_shape(const ViewDesc& a, const ViewDesc& b) const {
  bool ok = a.ndim == b.ndim;
  for (int d = 0; ok && d < a.ndim; d++) ok = a.shape[d] == b.shape[d];
  if (!ok) fail("operand shapes differ: " + shape_str(a) + " and " + shape_str(b) + " (broadcast them to one shape first)");
}

namespace {

// The one N-API callback behind every Binding (the entry travels as the function's data).
void Dispatch(const Napi::CallbackInfo& info) {
  const Binding* b = static_cast<const Binding*>(info.Data());
  Call c(info, b->kernel);
  b->body(c);
}

}  // namespace

void export_bindings(Napi::Env env, Napi::Object exports, const Binding* first, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const Binding& b = first[i];
    exports.Set(b.name, Napi::Function::New<Dispatch>(env, b.name, const_cast<Binding*>(&b)));
  }
}

}  // namespace ts
