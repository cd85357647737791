// AVX2 + FMA path of the fused LayerNorm and GELU loops (compiled with -mavx2 -mfma; run only when
// the addon's active path is avx2).
#define TS_NA_NS na_avx2
#include "norm_act_impl.h"

namespace ts {
TS_DEFINE_NORM_ACT(norm_act_avx2)
}  // namespace ts
