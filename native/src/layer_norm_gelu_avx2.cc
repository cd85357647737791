// AVX2 + FMA path of the fused LayerNorm and GELU loops (compiled with -mavx2 -mfma; run only when
// the addon's active path is avx2).
#define TS_LNG_NS lng_avx2
#include "layer_norm_gelu_impl.h"

namespace ts {
TS_DEFINE_LAYER_NORM_GELU(layer_norm_gelu_avx2)
}  // namespace ts
