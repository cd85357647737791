// Where the quantized layers get their int8 kernels. The Backend interface does not carry
// QuantizedKernels yet (backend/quantized.ts is the contract; the coordinator wires it into Backend
// once the native refactor has landed), so this one function hands out the reference kernels.
// Swapping to the active backend's kernels later is a one-line change here, and nothing else in
// compress/quant names a backend.

import type { QuantizedKernels } from '../../backend/quantized.js';
import { referenceQuantizedKernels } from '../../backends/reference/quantized.js';

/**
 * The int8 kernels the quantized layers run on (today always the pure TypeScript reference).
 * @example const y = quantizedKernels().int8Linear!(x, w, bias, { kind: 'float32' });
 */
export function quantizedKernels(): Required<QuantizedKernels> {
  return referenceQuantizedKernels;
}
