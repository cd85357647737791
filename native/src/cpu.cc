// CPU path selection: the best path the CPU (and OS) supports, lowered by TENSORSLIM_CPU
// (avx512 | avx2 | generic). Asking for a path the CPU lacks keeps the best supported one
// (the JS side reports the path in use).
#include <cstdlib>
#include <cstring>

#include "common.h"
#include "gemm_isa.h"

namespace ts {

#if defined(TS_NO_X86_PATHS)
const KernelTable* table_avx2() { return nullptr; }
const KernelTable* table_avx512() { return nullptr; }
const GemmIsa* gemm_isa_avx2() { return nullptr; }
const GemmIsa* gemm_isa_avx512() { return nullptr; }
#endif

const GemmIsa* gemm_isa_for(const KernelTable* t) {
  if (t != nullptr && t == table_avx512()) return gemm_isa_avx512();
  if (t != nullptr && t == table_avx2()) return gemm_isa_avx2();
  return gemm_isa_generic();
}

namespace {

bool has_avx512() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("fma") && __builtin_cpu_supports("avx2");
#else
  return false;
#endif
}

bool has_avx2() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

const KernelTable* g_active = nullptr;

const KernelTable* table_for(const char* path) {
  if (std::strcmp(path, "avx512") == 0) return has_avx512() ? table_avx512() : nullptr;
  if (std::strcmp(path, "avx2") == 0) return has_avx2() ? table_avx2() : nullptr;
  if (std::strcmp(path, "generic") == 0) return table_generic();
  return nullptr;
}

}  // namespace

const char* best_supported_path() { return has_avx512() ? "avx512" : has_avx2() ? "avx2" : "generic"; }

bool cpu_supports(const char* path) {
  if (std::strcmp(path, "avx512") == 0) return has_avx512();
  if (std::strcmp(path, "avx2") == 0) return has_avx2();
  return std::strcmp(path, "generic") == 0;
}

bool set_path(const char* path) {
  const KernelTable* t = table_for(path);
  if (t == nullptr) return false;
  g_active = t;
  return true;
}

const KernelTable* active() {
  if (g_active == nullptr) {
    const char* forced = std::getenv("TENSORSLIM_CPU");
    if (forced == nullptr || *forced == 0 || !set_path(forced)) set_path(best_supported_path());
  }
  return g_active;
}

}  // namespace ts
