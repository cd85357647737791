// The portable (baseline x86-64: SSE2, 4 float32 lanes) path of the direct-convolution loops, and
// the choice of path at call time from the addon's active path.
#define TS_CD_NS cd_generic
#define TS_CD_VBYTES 16
#define TS_CD_R 2
#include "conv_direct_impl.h"

#include "common.h"

namespace ts {

TS_DEFINE_CONV_DIRECT(conv_direct_generic)

#if defined(TS_NO_X86_PATHS)
const ConvDirectTable* conv_direct_avx2() { return nullptr; }
const ConvDirectTable* conv_direct_avx512() { return nullptr; }
#endif

const ConvDirectTable* conv_direct_loops() {
  const KernelTable* k = active();
  if (k != nullptr && k == table_avx512() && conv_direct_avx512() != nullptr) return conv_direct_avx512();
  if (k != nullptr && k == table_avx2() && conv_direct_avx2() != nullptr) return conv_direct_avx2();
  return conv_direct_generic();
}

}  // namespace ts
