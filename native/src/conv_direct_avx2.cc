// AVX2 + FMA path of the direct-convolution loops (compiled with -mavx2 -mfma; run only when the
// addon's active path is avx2): 8 float32 lanes per vector.
#define TS_CD_NS cd_avx2
#define TS_CD_VBYTES 32
#define TS_CD_R 2
#include "conv_direct_impl.h"

namespace ts {
TS_DEFINE_CONV_DIRECT(conv_direct_avx2)
}  // namespace ts
