// Parameter: a Tensor that a Module registers as learnable state. It is an ordinary leaf tensor
// (shares the storage of the tensor it was made from), tagged by its class so that assigning it
// to a module field registers it. No math lives here.

import { Tensor } from '../core/tensor.js';

/**
 * A learnable tensor owned by a module, like `torch.nn.Parameter`. It shares the storage of `t`
 * (no copy), is always a leaf (it does not keep `t`'s autograd history), and requires grad by default.
 *
 * @example
 * const w = new Parameter(ops.zeros([3, 2]));     // w.requiresGrad === true, w.isLeaf === true
 * const frozen = new Parameter(ops.ones([3]), false);
 */
export class Parameter extends Tensor {
  constructor(t: Tensor, requiresGrad = true) {
    super(t.data, t.dtype, t.shape, t.strides, t.offset);
    this.requiresGrad = requiresGrad;
  }

  /** PyTorch-like printout: `Parameter containing:\ntensor(...)`. */
  override toString(): string {
    return `Parameter containing:\n${super.toString()}`;
  }
}
