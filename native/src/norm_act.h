// Fused LayerNorm (over the last dimension, optional affine weight and bias) and GELU (erf and tanh
// forms), forward and backward, of the tensorslim native addon: see norm_act.cc. The addon's Init
// calls register_norm_act(env, exports) to add the four entry points.
//
// The row loops live in norm_act_impl.h, compiled once per instruction-set path (norm_act.cc for
// the portable path, norm_act_avx2.cc and norm_act_avx512.cc with their -m flags), and are picked
// at call time from the addon's active path (TENSORSLIM_CPU, setCpuPath), like the other kernels.
#pragma once
#define NAPI_VERSION 8
#include <napi.h>

#include "norm_act_isa.h"

namespace ts {

// Adds layerNormForward, layerNormBackward, geluForward and geluBackward to the addon's exports.
void register_norm_act(Napi::Env env, Napi::Object exports);

}  // namespace ts
