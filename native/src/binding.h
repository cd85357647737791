// The one binding layer of the tensorslim native addon: every N-API entry point (each defined in the
// kernel file named after it: linear.cc, softmax_cross_entropy.cc, layer_norm.cc, gelu.cc,
// attention.cc, embedding.cc, csr_linear.cc, adam.cc, elementwise.cc, ...) reads and checks its
// arguments through `Call`, and addon.cc's one `Binding` table exports them. No kernel file reads a
// napi value itself.
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
  bool typed_info(size_t i, napi_typedarray_type* type, size_t* len, void** data) const;
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

// The entry points, by file (each defined next to its kernel; addon.cc's table exports them under
// their JavaScript names, and src/backends/native/addon.ts types them).
void Unary(Call& c); void Binary(Call& c); void Select(Call& c); void CompareInt(Call& c);  // elementwise.cc
void Reduce(Call& c);  // reduce.cc
void Copy(Call& c); void Convert(Call& c); void Assign(Call& c);  // copy.cc
void Unfold2d(Call& c); void Fold2d(Call& c);  // im2col.cc
void MaxPool2dForward(Call& c); void MaxPool2dBackward(Call& c);  // max_pool2d.cc
void Conv2dForward(Call& c); void Conv2dBackward(Call& c);  // conv2d.cc
void Matmul(Call& c);  // matmul.cc
void Linear(Call& c); void LinearBackward(Call& c); void LinearChain(Call& c);  // linear.cc
void SoftmaxCrossEntropy(Call& c);  // softmax_cross_entropy.cc
void Adam(Call& c);  // adam.cc
void LayerNormForward(Call& c); void LayerNormBackward(Call& c);  // layer_norm.cc
void GeluForward(Call& c); void GeluBackward(Call& c);  // gelu.cc
void ReluBackward(Call& c);  // relu_backward.cc
void WeightOnlyLinear(Call& c);  // weight_only_linear.cc
void AttentionForward(Call& c); void AttentionBackward(Call& c);  // attention.cc
void EmbeddingForward(Call& c); void EmbeddingBackward(Call& c);  // embedding.cc
void CsrLinear(Call& c);  // csr_linear.cc
void Int8Pack(Call& c); void Int8Linear(Call& c); void Int8Conv2d(Call& c); void Int8Quantize(Call& c); void Int8FloatRange(Call& c);  // int8_linear.cc
void Int8MaxPool2d(Call& c); void Int8QuantizeDynamic(Call& c);  // int8_linear.cc
// int8_linear.cc's path controls and packed size (they return values, so they are not Bindings).
Napi::Value Int8Path(const Napi::CallbackInfo& info);
Napi::Value SetInt8Path(const Napi::CallbackInfo& info);
Napi::Value SupportedInt8Paths(const Napi::CallbackInfo& info);
Napi::Value Int8PackedBytes(const Napi::CallbackInfo& info);

}  // namespace ts
