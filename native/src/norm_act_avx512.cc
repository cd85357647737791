// AVX-512 path of the fused LayerNorm and GELU loops (compiled with the flags of isa_avx512.cc; run
// only when the addon's active path is avx512).
#define TS_NA_NS na_avx512
#include "norm_act_impl.h"

namespace ts {
TS_DEFINE_NORM_ACT(norm_act_avx512)
}  // namespace ts
