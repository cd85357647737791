// Sizes of model state, for the CLI summary and the pruning/compression reports: the raw bytes of
// the tensors (dense, as stored in a safetensors file). Exact file sizes: safetensorsBytes (before
// writing) and fileBytes (after).

import { itemSize } from '../backend/dtype.js';
import { TensorslimError } from '../core/errors.js';
import { Tensor } from '../core/tensor.js';
import type { CheckpointModel } from './checkpoint_file.js';

/**
 * Bytes of the tensor data in a model's state dict (parameters and persistent buffers, each key
 * counted, as a safetensors file stores them; no header). Masks of a pruned model count too.
 *
 * @example
 * stateDictBytes(new Linear(784, 300));  // (784 * 300 + 300) * 4 = 941,200
 */
export function stateDictBytes(model: CheckpointModel | ReadonlyMap<string, Tensor>): number {
  let state: ReadonlyMap<string, Tensor>;
  if (model instanceof Map) state = model;
  else if (typeof model === 'object' && model !== null && typeof (model as CheckpointModel).stateDict === 'function') state = (model as CheckpointModel).stateDict();
  else throw new TensorslimError('stateDictBytes', 'expected a Module or a Map of tensors');
  let n = 0;
  for (const [key, t] of state) {
    if (!(t instanceof Tensor)) throw new TensorslimError('stateDictBytes', `'${key}' is not a Tensor`);
    n += t.size * itemSize(t.dtype);
  }
  return n;
}
