// Embedding row gather and its scatter-add adjoint of the tensorslim native addon: see embedding.cc.
// The addon's Init calls register_embedding(env, exports) to add its two entry points.
#pragma once
#define NAPI_VERSION 8
#include <napi.h>

namespace ts {

// Adds embeddingForward and embeddingBackward to the addon's exports.
void register_embedding(Napi::Env env, Napi::Object exports);

}  // namespace ts
