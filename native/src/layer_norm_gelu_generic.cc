// The portable (baseline x86-64) path of the fused LayerNorm and GELU loops, and the choice of path
// at call time from the addon's active path.
#define TS_LNG_NS lng_generic
#include "layer_norm_gelu_impl.h"

#include "common.h"

namespace ts {

TS_DEFINE_LAYER_NORM_GELU(layer_norm_gelu_generic)

#if defined(TS_NO_X86_PATHS)
const LayerNormGeluTable* layer_norm_gelu_avx2() { return nullptr; }
const LayerNormGeluTable* layer_norm_gelu_avx512() { return nullptr; }
#endif

const LayerNormGeluTable* layer_norm_gelu_loops() {
  const KernelTable* k = active();
  if (k != nullptr && k == table_avx512() && layer_norm_gelu_avx512() != nullptr) return layer_norm_gelu_avx512();
  if (k != nullptr && k == table_avx2() && layer_norm_gelu_avx2() != nullptr) return layer_norm_gelu_avx2();
  return layer_norm_gelu_generic();
}

}  // namespace ts
