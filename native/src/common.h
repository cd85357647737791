// Shared declarations of the tensorslim native addon: the per-ISA kernel table, CPU path selection
// and the thread pool entry points. Kernels see raw pointers, sizes and strides only (no N-API here).
#pragma once
#include <cstddef>
#include <cstdint>

namespace ts {

// Unary op codes (must match UNARY_CODES in src/backends/native/index.ts).
enum UnaryCode : int {
  U_NEG = 0, U_EXP, U_LOG, U_SQRT, U_ABS, U_TANH, U_SIGMOID, U_RELU, U_ERF, U_SIGN, U_SIN, U_COS, U_FLOOR,
  U_LOGICAL_NOT
};
// Binary op codes (must match BINARY_CODES in src/backends/native/index.ts).
enum BinaryCode : int {
  B_ADD = 0, B_SUB, B_MUL, B_DIV, B_POW, B_MAXIMUM, B_MINIMUM,
  B_EQ, B_NE, B_LT, B_LE, B_GT, B_GE, B_LOGICAL_AND, B_LOGICAL_OR
};
// Reduce op codes (must match REDUCE_CODES in src/backends/native/index.ts).
enum ReduceCode : int { R_SUM = 0, R_MAX, R_MIN };

// The kernels one instruction-set path provides. GEMM micro-kernels compute
//   C[MR x NR] += A~(k x MR) * B~(k x NR)
// from packed panels (A~: for each p, MR values of one column of A; B~: for each p, NR values of one
// row of B); C is row-major with row stride ldc.
struct KernelTable {
  const char* name;
  int smr, snr, skc, smc;  // float32: micro-tile rows/cols, K block, N block (fits L2)
  void (*sgemm_ukr)(long k, const float* a, const float* b, float* c, long ldc);
  int dmr, dnr, dkc, dmc;  // float64
  void (*dgemm_ukr)(long k, const double* a, const double* b, double* c, long ldc);
  // Inner loops of elementwise kernels: n elements, strides in elements (0 = broadcast).
  void (*unary_f32)(int op, const float* x, long sx, float* y, long n);
  void (*unary_f64)(int op, const double* x, long sx, double* y, long n);
  void (*binary_f32)(int op, const float* a, long sa, const float* b, long sb, float* y, long n);
  void (*binary_f64)(int op, const double* a, long sa, const double* b, long sb, double* y, long n);
  void (*compare_f32)(int op, const float* a, long sa, const float* b, long sb, uint8_t* y, long n);
  void (*compare_f64)(int op, const double* a, long sa, const double* b, long sb, uint8_t* y, long n);
  // Reductions of one strided run, and row accumulation acc[j] (op)= x[j*sx] for j < n.
  double (*reduce_run_f32)(int op, const float* x, long sx, long n, double init);
  double (*reduce_run_f64)(int op, const double* x, long sx, long n, double init);
  void (*reduce_acc_f32)(int op, double* acc, const float* x, long sx, long n);
  void (*reduce_acc_f64)(int op, double* acc, const double* x, long sx, long n);
  // Fused kernels on contiguous rows.
  void (*adam_f32)(float* p, const float* g, float* m, float* v, float* vmax, long n, const double* hp);
  void (*adam_f64)(double* p, const double* g, double* m, double* v, double* vmax, long n, const double* hp);
  // x[i] = exp(x[i]) in place, float64, vectorized (within 2 ulp of libm; inf, 0 and NaN as libm).
  void (*exp_f64)(double* x, long n);
  // y[i * ldy + j] = sum_p x[i * ldx + p] w[j * ldw + p], i < m, j < n, k terms (x, w rows contiguous):
  // the linear forward at a few rows (generation), reading the weights in place (kernels_impl.h).
  void (*sgemv_f32)(long m, long n, long k, const float* x, long ldx, const float* w, long ldw, float* y, long ldy);
};

const KernelTable* table_generic();
const KernelTable* table_avx2();    // nullptr when not compiled in
const KernelTable* table_avx512();  // nullptr when not compiled in

// The active path (chosen at load from CPUID and TENSORSLIM_CPU; switchable for tests).
const KernelTable* active();
const char* best_supported_path();
bool cpu_supports(const char* path);
bool set_path(const char* path);  // false when the CPU lacks it

}  // namespace ts
