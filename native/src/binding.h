// The one binding layer of the tensorslim native addon: every N-API entry point (addon.cc and each
// kernel file: linear.cc, softmax_cross_entropy.cc, layer_norm.cc, gelu.cc, attention.cc,
// embedding.cc, csr_linear.cc, adam.cc, ...) reads and checks its arguments through `Call`, and is
// exported through `Binding` tables. No kernel file reads a napi value itself.
//
// A view travels as its typed array plus a slice of the call's Float64Array `meta`:
//   [ndim, offset, shape[0..ndim), strides[0..ndim)]
// (packed by src/backends/native/pack.ts, the one TypeScript packer). A binding consumes the views
// of its meta front to back; extra values (reduce flags, conv geometry) follow the views.
//
// Every check failure throws a JavaScript Error "native <kernel>: <what is wrong>". Checks finish
// before a kernel runs, so a bad call changes no output.
#pragma once
#define NAPI_VERSION 8
#include <napi.h>

#include <cstddef>
#include <string>

#include "view.h"  // ViewDesc, DT_*, kMaxDims

namespace ts {

const char* dt_name(int dt);
inline bool is_float(int dt) { return dt == DT_F32 || dt == DT_F64; }
long view_numel(const ViewDesc& v);
std::string shape_str(const ViewDesc& v);

// The arguments of one call, read and checked in the order a binding asks for them.
class Call {
 public:
  Call(const Napi::CallbackInfo& info, const char* kernel) : info_(info), env_(info.Env()), k_(kernel) {}

  [[noreturn]] void fail(const std::string& msg) const;

  // Whether argument i is present (not null or undefined).
  bool has(size_t i) const { return !info_[i].IsNull() && !info_[i].IsUndefined(); }
  int int32(size_t i) const;
  // An op code in [lo, hi].
  int op(size_t i, int lo, int hi) const;
  double number(size_t i, const char* name) const;
  // A whole number in [lo, hi] (`name` in errors).
  long integer(size_t i, const char* name, long lo, long hi) const;
  bool flag(size_t i) const { return info_[i].ToBoolean().Value(); }

  // Argument i as a typed array: its dtype (DT_*), first element and length. `name` in errors
  // (default "argument i").
  int array(size_t i, void** data, size_t* len, const char* name = nullptr) const;
  // array() that must be float32 or float64.
  int float_array(size_t i, void** data, size_t* len, const char* name) const;
  // Argument i as a Float64Array of at least min_len values (`what` names it in errors).
  const double* f64(size_t i, const char* what, size_t min_len, size_t* len) const;

  // Makes argument i the meta that the following view() and next() calls read.
  void meta(size_t i) { meta_ = f64(i, "meta", 0, &meta_len_); meta_pos_ = 0; }
  // Whether meta holds values not read yet (an optional trailing view).
  bool meta_left() const { return meta_pos_ < meta_len_; }
  double next();
  long next_long(const char* what);

  // Argument i with the next view of meta; every element the view addresses must lie inside the array.
  ViewDesc view(size_t i, const char* name);
  // view() that must be float32 or float64.
  ViewDesc float_view(size_t i, const char* name);
  // view() of rank `rank` (`what` describes it in errors, e.g. "2-D (rows, features)").
  ViewDesc view_rank(size_t i, const char* name, int rank, const char* what);

  // Argument i as a contiguous output of `dtype` holding exactly numel elements.
  void* out(size_t i, int dtype, long numel, const char* name = "output") const;
  // out(), or nullptr when argument i is null or undefined.
  void* out_opt(size_t i, int dtype, long numel, const char* name = "output") const {
    return has(i) ? out(i, dtype, numel, name) : nullptr;
  }

  void need_float(const ViewDesc& v) const;
  void same_dtype(const ViewDesc& a, const ViewDesc& b) const;
  void same_shape(const ViewDesc& a, const ViewDesc& b) const;

 private:
  const Napi::CallbackInfo& info_;
  Napi::Env env_;
  const char* k_;
  const double* meta_ = nullptr;
  size_t meta_len_ = 0, meta_pos_ = 0;
};

// An exported entry point that returns nothing: its JavaScript name, the kernel its errors name,
// and its body.
struct Binding {
  const char* name;
  const char* kernel;
  void (*body)(Call&);
};

// Adds each binding of [first, first + n) to exports, as one N-API function that builds the Call.
void export_bindings(Napi::Env env, Napi::Object exports, const Binding* first, size_t n);
template <size_t N>
void export_bindings(Napi::Env env, Napi::Object exports, const Binding (&table)[N]) { export_bindings(env, exports, table, N); }

// Each kernel file's table adder (called once by addon.cc's Init).
void export_elementwise(Napi::Env env, Napi::Object exports);           // elementwise.cc: unary, binary, select, compareInt
void export_reduce(Napi::Env env, Napi::Object exports);                // reduce.cc: reduce
void export_copy(Napi::Env env, Napi::Object exports);                  // copy.cc: copy, convert, assign
void export_im2col(Napi::Env env, Napi::Object exports);                // im2col.cc: unfold2d, fold2d
void export_matmul(Napi::Env env, Napi::Object exports);                // matmul.cc: matmul
void export_linear(Napi::Env env, Napi::Object exports);                // linear.cc: linear, linearBackward
void export_softmax_cross_entropy(Napi::Env env, Napi::Object exports); // softmax_cross_entropy.cc
void export_adam(Napi::Env env, Napi::Object exports);                  // adam.cc: adam
void export_layer_norm(Napi::Env env, Napi::Object exports);            // layer_norm.cc: layerNormForward/Backward
void export_gelu(Napi::Env env, Napi::Object exports);                  // gelu.cc: geluForward/Backward
void export_attention(Napi::Env env, Napi::Object exports);             // attention.cc: attentionForward/Backward
void export_embedding(Napi::Env env, Napi::Object exports);             // embedding.cc: embeddingForward/Backward
void export_csr_linear(Napi::Env env, Napi::Object exports);            // csr_linear.cc: csrLinear

}  // namespace ts
