// Fused scaled-dot-product attention (flash style) of the tensorslim native addon: see attention.cc.
// The addon's Init calls register_attention(env, exports) to add its two entry points.
#pragma once
#define NAPI_VERSION 8
#include <napi.h>

namespace ts {

// Adds attentionForward and attentionBackward to the addon's exports.
void register_attention(Napi::Env env, Napi::Object exports);

}  // namespace ts
