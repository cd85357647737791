// The portable path: baseline x86-64 (or any CPU), no intrinsics. Always available.
#define TS_ISA_NS generic
#include "kernels_impl.h"

namespace ts {
namespace generic { namespace {
void sgemm_4x8(long k, const float* a, const float* b, float* c, long ldc) { gemm_ukr_portable<4, 8, float>(k, a, b, c, ldc); }
void dgemm_4x4(long k, const double* a, const double* b, double* c, long ldc) { gemm_ukr_portable<4, 4, double>(k, a, b, c, ldc); }
} }

const KernelTable* table_generic() {
  static KernelTable t = [] {
    KernelTable t{};
    t.name = "generic";
    t.smr = 4; t.snr = 8; t.skc = 256; t.smc = 256; t.sgemm_ukr = generic::sgemm_4x8;
    t.dmr = 4; t.dnr = 4; t.dkc = 256; t.dmc = 128; t.dgemm_ukr = generic::dgemm_4x4;
    TS_FILL_COMMON(t);
    return t;
  }();
  return &t;
}
TS_DEFINE_GEMM_ISA(gemm_isa_generic)
}  // namespace ts
