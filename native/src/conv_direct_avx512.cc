// AVX-512 path of the direct-convolution loops (compiled with the flags of isa_avx512.cc; run only
// when the addon's active path is avx512): 16 float32 lanes per vector.
#define TS_CD_NS cd_avx512
#define TS_CD_VBYTES 64
#define TS_CD_R 4
#include "conv_direct_impl.h"

namespace ts {
TS_DEFINE_CONV_DIRECT(conv_direct_avx512)
}  // namespace ts
