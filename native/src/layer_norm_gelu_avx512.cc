// AVX-512 path of the fused LayerNorm and GELU loops (compiled with the flags of isa_avx512.cc; run
// only when the addon's active path is avx512).
#define TS_LNG_NS lng_avx512
#include "layer_norm_gelu_impl.h"

namespace ts {
TS_DEFINE_LAYER_NORM_GELU(layer_norm_gelu_avx512)
}  // namespace ts
