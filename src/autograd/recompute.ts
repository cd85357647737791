// Activation checkpointing (recomputation), like torch.utils.checkpoint with use_reentrant=True:
// checkpoint(fn, ...inputs) runs fn without recording its graph, so none of fn's intermediate
// activations stay alive; backward runs fn again with recording on (with the default generator
// rewound to where the forward left it, so dropout draws the same masks), backpropagates through
// that fresh graph into fn's parameters, and hands the input gradients on. Trades one extra forward
// of fn for the memory of its activations.
//
// Recorded as one 'checkpoint' kernel whose rule holds fn (in attrs), not a gradient formula.
// Limits: fn returns one tensor; gradients of gradients (createGraph) through it are not supported;
// as with PyTorch's reentrant checkpoint, use loss.backward() (fn's parameters get .grad); grad()
// returns only the gradients that flow through the checkpoint's inputs.

import { withoutTracking } from '../backend/pool.js';
import { enableGrad, isGradEnabled, noGrad, record } from '../core/engine.js';
import { TensorslimError } from '../core/errors.js';
import { defaultGenerator, type GeneratorState } from '../core/random.js';
import { Tensor } from '../core/tensor.js';
import { detach } from '../ops/index.js';
import { defineGrad } from './registry.js';
import { backward } from './tape.js';

const MAX_INPUTS = 16;

type Fn = (...xs: Tensor[]) => Tensor;

/**
 * Run `fn(...inputs)` without keeping its activations; recompute them during backward.
 * Parameters that fn uses receive their gradients as usual. When no input requires a gradient
 * there is nothing to recompute for, and fn simply runs normally.
 *
 * @example
 * // inside a transformer's forward: memory per block drops to its input
 * for (const block of this.blocks) x = checkpoint((h) => block.call(h), x);
 */
export function checkpoint(fn: Fn, ...inputs: Tensor[]): Tensor {
  const op = 'checkpoint';
  if (typeof fn !== 'function') throw new TensorslimError(op, 'the first argument must be a function of tensors');
  if (inputs.length > MAX_INPUTS) throw new TensorslimError(op, `at most ${MAX_INPUTS} tensor inputs, got ${inputs.length}; pack them or close over the constant ones`);
  for (const [i, x] of inputs.entries()) if (!(x instanceof Tensor)) throw new TensorslimError(op, `input ${i} must be a Tensor`);
  if (!isGradEnabled() || !inputs.some((x) => x.requiresGrad)) return fn(...inputs);
  const rng: GeneratorState = defaultGenerator.getState();
  const y = noGrad(() => fn(...inputs));
  if (!(y instanceof Tensor)) throw new TensorslimError(op, 'fn must return one Tensor');
  // a fresh handle: fn may return one of its inputs (or a view of one); the recorded output must be new
  const out = new Tensor(y.data, y.dtype, y.shape, y.strides, y.offset);
  return record('checkpoint', inputs, out, { fn, rng });
}

defineGrad('checkpoint', {
  save: { inputs: Array.from({ length: MAX_INPUTS }, (_, i) => i) },
  grad: (dy, c) => {
    if (isGradEnabled()) throw new TensorslimError('checkpoint', 'gradients of gradients (createGraph) through checkpoint() are not supported; run without checkpointing');
    const fn = c.attrs['fn'] as Fn;
    const xs = c.inputShapes.map((_, i) => {
      const x = detach(c.input(i));
      if (c.needs[i]) x.requiresGrad = true;
      return x;
    });
    // replay fn's random draws (dropout) exactly, then put the generator back
    const now = defaultGenerator.getState();
    defaultGenerator.setState(c.attrs['rng'] as GeneratorState);
    let y: Tensor;
    try {
      // not tracked by the backward pass's storage scope: fn may keep what it makes (module state)
      y = withoutTracking(() => enableGrad(() => fn(...xs)));
    } finally {
      defaultGenerator.setState(now);
    }
    if (y.requiresGrad) backward(y, dy);
    return xs.map((x, i) => (c.needs[i] ? x.grad : null));
  },
});
