// The tensorslim native addon's module: Init exports every entry point (kBindings below: each is
// defined next to its kernel, in the file named after it; binding.h holds the one argument reader,
// `Call`, and the view format) plus the thread and CPU-path controls and the ABI version, and
// applies the process-wide memory tuning (alloc.h) once. Loading the addon has no other effect.
//
// Files, by kernel (TypeScript bindings under src/backends/native/ with the same names):
//   elementwise.cc (unary, binary, where/select, compareInt), reduce.cc, copy.cc (copy, convert,
//   assign), im2col.cc (unfold2d, fold2d), matmul.cc (+ gemm.cc), and the fused kernels linear.cc,
//   softmax_cross_entropy.cc, layer_norm.cc, gelu.cc, attention.cc, embedding.cc, csr_linear.cc,
//   adam.cc, relu_backward.cc, int8_linear.cc (+ int8_gemm_{generic,avx2,avx512}.cc); for the profiler, roofline.cc
//   (rooflineProbe: peak FLOP/s per CPU path, copy bandwidth) and pool_trace.cc (poolTrace,
//   poolTraceDrain: per-thread kernel timing).
#include "alloc.h"
#include "binding.h"
#include "common.h"
#include "threadpool.h"

namespace ts {
Napi::Value RooflineProbe(const Napi::CallbackInfo& info);  // roofline.cc (returns a value: not in kBindings)
Napi::Value PoolTrace(const Napi::CallbackInfo& info);      // pool_trace.cc
Napi::Value PoolTraceDrain(const Napi::CallbackInfo& info); // pool_trace.cc
Napi::Value MallocTrim(const Napi::CallbackInfo& info);     // alloc.cc
Napi::Value ReleaseScratch(const Napi::CallbackInfo& info); // alloc.cc
Napi::Value GemmScratch(const Napi::CallbackInfo& info);    // alloc.cc
Napi::Value FreeArrayBuffer(const Napi::CallbackInfo& info); // alloc.cc
}  // namespace ts

namespace {

using namespace ts;

constexpr int kAbiVersion = 12;  // must match ABI_VERSION in src/backends/native/addon.ts (4: one view
                                // format for every entry point, embedding included; 5: maxPool2d, conv2d;
                                // 6: int8Linear, int8 paths, quantizePerTensor, floatRange; 7: int8Conv2d, avxvnni;
                                // 8: conv2d groups (one branch) or int8MaxPool2d (another); 9: both;
                                // 10: int8QuantizeDynamic; 11: matmul's overwrite flag; 12: reluBackward)

// setNumThreads(n)
void SetNumThreads(Call& c) {
  const int n = c.int32(0);
  if (n < 1 || n > 1024) c.fail("thread count must be in [1, 1024], got " + std::to_string(n));
  set_num_threads(n);
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

// Every entry point that returns nothing: JavaScript name, the kernel its errors name, body.
const Binding kBindings[] = {
    // elementwise.cc
    {"unary", "unary", Unary},
    {"binary", "binary", Binary},
    {"select", "where", Select},  // the backend's where op
    {"compareInt", "compareInt", CompareInt},
    // reduce.cc
    {"reduce", "reduce", Reduce},
    // copy.cc
    {"copy", "copy", Copy},
    {"convert", "convert", Convert},
    {"assign", "assign", Assign},
    // im2col.cc
    {"unfold2d", "unfold2d", Unfold2d},
    {"fold2d", "fold2d", Fold2d},
    // max_pool2d.cc
    {"maxPool2dForward", "maxPool2dForward", MaxPool2dForward},
    {"maxPool2dBackward", "maxPool2dBackward", MaxPool2dBackward},
    // conv2d.cc
    {"conv2dForward", "conv2dForward", Conv2dForward},
    {"conv2dBackward", "conv2dBackward", Conv2dBackward},
    // matmul.cc
    {"matmul", "matmul", Matmul},
    // linear.cc
    {"linear", "linear", Linear},
    {"linearBackward", "linearBackward", LinearBackward},
    {"linearChain", "linearChain", LinearChain},
    // softmax_cross_entropy.cc
    {"softmaxCrossEntropy", "softmaxCrossEntropy", SoftmaxCrossEntropy},
    // adam.cc
    {"adam", "adam", Adam},
    // layer_norm.cc
    {"layerNormForward", "layerNormForward", LayerNormForward},
    {"layerNormBackward", "layerNormBackward", LayerNormBackward},
    // gelu.cc
    {"geluForward", "geluForward", GeluForward},
    {"geluBackward", "geluBackward", GeluBackward},
    // relu_backward.cc
    {"reluBackward", "reluBackward", ReluBackward},
    // attention.cc
    {"attentionForward", "attentionForward", AttentionForward},
    {"attentionBackward", "attentionBackward", AttentionBackward},
    // embedding.cc
    {"embeddingForward", "embeddingForward", EmbeddingForward},
    {"embeddingBackward", "embeddingBackward", EmbeddingBackward},
    // csr_linear.cc
    {"csrLinear", "csrLinear", CsrLinear},
    // int8_linear.cc
    {"int8Pack", "int8Pack", Int8Pack},
    {"int8Linear", "int8Linear", Int8Linear},
    {"int8Conv2d", "int8Conv2d", Int8Conv2d},
    {"int8Quantize", "quantizePerTensor", Int8Quantize},
    {"int8FloatRange", "floatRange", Int8FloatRange},
    {"int8QuantizeDynamic", "quantizeDynamic", Int8QuantizeDynamic},
    {"int8MaxPool2d", "int8MaxPool2d", Int8MaxPool2d},
    // weight_only_linear.cc
    {"weightOnlyLinear", "weightOnlyLinear", WeightOnlyLinear},
    // thread control
    {"setNumThreads", "setNumThreads", SetNumThreads},
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  tune_process_memory();  // process-wide malloc settings (alloc.h; TENSORSLIM_MALLOC_TUNE / _MMAP)
  active();               // choose the CPU path now (reads TENSORSLIM_CPU)
  export_bindings(env, exports, kBindings, sizeof(kBindings) / sizeof(kBindings[0]));
  exports.Set("getNumThreads", Napi::Function::New<GetNumThreads>(env, "getNumThreads"));
  exports.Set("cpuPath", Napi::Function::New<CpuPath>(env, "cpuPath"));
  exports.Set("setCpuPath", Napi::Function::New<SetCpuPath>(env, "setCpuPath"));
  exports.Set("supportedPaths", Napi::Function::New<SupportedPaths>(env, "supportedPaths"));
  exports.Set("int8Path", Napi::Function::New<Int8Path>(env, "int8Path"));
  exports.Set("setInt8Path", Napi::Function::New<SetInt8Path>(env, "setInt8Path"));
  exports.Set("supportedInt8Paths", Napi::Function::New<SupportedInt8Paths>(env, "supportedInt8Paths"));
  exports.Set("int8PackedBytes", Napi::Function::New<Int8PackedBytes>(env, "int8PackedBytes"));
  exports.Set("abiVersion", Napi::Number::New(env, kAbiVersion));
  exports.Set("rooflineProbe", Napi::Function::New<ts::RooflineProbe>(env, "rooflineProbe"));
  exports.Set("poolTrace", Napi::Function::New<ts::PoolTrace>(env, "poolTrace"));
  exports.Set("poolTraceDrain", Napi::Function::New<ts::PoolTraceDrain>(env, "poolTraceDrain"));
  exports.Set("mallocTrim", Napi::Function::New<ts::MallocTrim>(env, "mallocTrim"));
  exports.Set("releaseScratch", Napi::Function::New<ts::ReleaseScratch>(env, "releaseScratch"));
  exports.Set("gemmScratch", Napi::Function::New<ts::GemmScratch>(env, "gemmScratch"));
  exports.Set("freeArrayBuffer", Napi::Function::New<ts::FreeArrayBuffer>(env, "freeArrayBuffer"));
  return exports;
}

}  // namespace

NODE_API_MODULE(tensorslim, Init)
