// Sparse x dense kernels of the tensorslim native addon (CSR weights): see sparse.cc.
// The addon's Init calls register_sparse(env, exports) to add its entry point (csrLinear).
#pragma once
#define NAPI_VERSION 8
#include <napi.h>

namespace ts {

// Adds csrLinear to the addon's exports.
void register_sparse(Napi::Env env, Napi::Object exports);

}  // namespace ts
