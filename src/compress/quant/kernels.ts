// Where the quantized layers get their int8 kernels: the active backend's `int8Linear` (the
// QuantizedKernels member of the Backend contract, backend/quantized.ts). The reference backend
// implements it in pure TypeScript (backends/reference/quantized.ts); the native backend runs its
// int8 GEMM (backends/native/int8_linear.ts). Nothing else in compress/quant names a backend.

import type { QuantizedKernels } from '../../backend/quantized.js';
import { getBackend } from '../../backend/registry.js';
import { TensorslimError } from '../../core/errors.js';

/**
 * The int8 kernels the quantized layers run on: the active backend's.
 * @example const y = quantizedKernels().int8Linear(x, w, bias, { kind: 'float32' });
 */
export function quantizedKernels(): Required<Pick<QuantizedKernels, 'int8Linear' | 'int8Path'>> & Pick<QuantizedKernels, 'int8Conv2d' | 'int8MaxPool2d'> {
  const be = getBackend();
  const int8Linear = be.int8Linear;
  if (!int8Linear) throw new TensorslimError('int8Linear', `backend '${be.name}' has no int8 GEMM kernel; use TENSORSLIM_BACKEND=reference or a backend that implements QuantizedKernels`);
  const k: {
    int8Linear: NonNullable<QuantizedKernels['int8Linear']>; int8Path: string; int8Conv2d?: NonNullable<QuantizedKernels['int8Conv2d']>;
    int8MaxPool2d?: NonNullable<QuantizedKernels['int8MaxPool2d']>;
  } = { int8Linear: int8Linear.bind(be), int8Path: be.int8Path ?? 'unknown' };
  if (be.int8Conv2d) k.int8Conv2d = be.int8Conv2d.bind(be);
  if (be.int8MaxPool2d) k.int8MaxPool2d = be.int8MaxPool2d.bind(be);
  return k;
}

type ActivationKernel = 'quantizePerTensor' | 'floatRange' | 'quantizeDynamic';

/**
 * The active backend's activation kernels (quantizePerTensor, floatRange, quantizeDynamic), those it
 * has: the quantized tensors and the dynamic layers use them on float32 data and compute the same
 * bits in TypeScript otherwise.
 * @example const q = activationKernels().quantizePerTensor?.(x, 0.1, 128, 'uint8');
 */
export function activationKernels(): Pick<QuantizedKernels, ActivationKernel> {
  const be = getBackend();
  const out: { -readonly [K in ActivationKernel]?: NonNullable<QuantizedKernels[K]> } = {};
  if (be.quantizePerTensor) out.quantizePerTensor = be.quantizePerTensor.bind(be);
  if (be.floatRange) out.floatRange = be.floatRange.bind(be);
  if (be.quantizeDynamic) out.quantizeDynamic = be.quantizeDynamic.bind(be);
  return out;
}
