// Activation checkpointing (recomputation), like torch.utils.checkpoint with use_reentrant=True:
// checkpoint(fn, ...inputs) runs fn without recording its graph, so none of fn's intermediate
// activations stay alive; backward runs fn again with recording on (with the default generator
// rewound to where the forward left it, so dropout draws the same masks), backpropagates through
// that fresh graph into fn's parameters, and hands the input gradients on. Trades one extra forward
// of fn for the memory of its activations.
//
// Storage: fn's recomputed forward may keep what it makes (a pruning pre-hook stores the masked
// weight on its module; a forward hook stashes an output), so by default neither forward's buffers
// go to the storage pool (backend/pool.ts): they are the garbage collector's. checkpointWith({
// stateless: true }, fn, ...) declares that fn keeps nothing: then the temporaries of the first
// forward (all but its output) go back to the pool when it returns, and the recomputed forward's
// buffers right after its backward (all but the gradients that backward handed out), so
// recomputation reuses one block's worth of storage instead of leaving a block's activations
// behind per checkpoint for the garbage collector. (GPT does not use it: with less fresh
// allocation V8 collected other garbage later, and the GPT-2-sized step's peak rose; docs/GPT.md.)
//
// Recorded as one 'checkpoint' kernel whose rule holds fn (in attrs), not a gradient formula.
// Limits: fn returns one tensor; gradients of gradients (createGraph) through it are not supported;
// as with PyTorch's reentrant checkpoint, use loss.backward() (fn's parameters get .grad); grad()
// returns only the gradients that flow through the checkpoint's inputs.

import { beginScope, endScope, withoutTracking } from '../backend/pool.js';
import { enableGrad, isGradEnabled, noGrad, record } from '../core/engine.js';
import { TensorslimError } from '../core/errors.js';
import { defaultGenerator, type GeneratorState } from '../core/random.js';
import { Tensor } from '../core/tensor.js';
import { detach } from '../ops/index.js';
import { defineGrad } from './registry.js';
import { backwardKept } from './tape.js';

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
  return checkpointWith({}, fn, ...inputs);
}

/** Settings of checkpointWith. */
export interface CheckpointOptions {
  /**
   * fn keeps none of the tensors it makes: it writes no module state and runs no hooks that stash
   * tensors (default false). Its forwards' temporaries then go back to the storage pool as soon as
   * they are dead. Wrong when fn does keep something: what it kept would share reused storage.
   */
  stateless?: boolean;
}

/**
 * checkpoint(fn, ...inputs) with settings: `stateless` lets both forwards of fn give their dead
 * temporaries back to the storage pool (see CheckpointOptions).
 *
 * @example
 * // a block without hooks keeps nothing it makes
 * x = checkpointWith({ stateless: true }, (h) => block.call(h), x);
 */
export function checkpointWith(options: CheckpointOptions, fn: Fn, ...inputs: Tensor[]): Tensor {
  const op = 'checkpoint';
  if (typeof fn !== 'function') throw new TensorslimError(op, 'the first argument must be a function of tensors');
  if (inputs.length > MAX_INPUTS) throw new TensorslimError(op, `at most ${MAX_INPUTS} tensor inputs, got ${inputs.length}; pack them or close over the constant ones`);
  for (const [i, x] of inputs.entries()) if (!(x instanceof Tensor)) throw new TensorslimError(op, `input ${i} must be a Tensor`);
  if (!isGradEnabled() || !inputs.some((x) => x.requiresGrad)) return fn(...inputs);
  const rng: GeneratorState = defaultGenerator.getState();
  const stateless = options.stateless === true;
  const y = stateless ? scoped(() => noGrad(() => fn(...inputs)), (r) => (r instanceof Tensor ? new Set([r.data.buffer]) : new Set()))
    : noGrad(() => fn(...inputs));
  if (!(y instanceof Tensor)) throw new TensorslimError(op, 'fn must return one Tensor');
  // a fresh handle: fn may return one of its inputs (or a view of one); the recorded output must be new
  const out = new Tensor(y.data, y.dtype, y.shape, y.strides, y.offset);
  return record('checkpoint', inputs, out, { fn, rng, stateless });
}

// Run `fn` in a storage scope of its own; on return, release every buffer it acquired but those
// `keep` names (on an error, release nothing).
function scoped<T>(fn: () => T, keep: (result: T) => ReadonlySet<ArrayBufferLike>): T {
  beginScope();
  let kept: ReadonlySet<ArrayBufferLike> | undefined;
  try {
    const r = fn();
    kept = keep(r);
    return r;
  } finally {
    endScope(kept);
  }
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
    const replay = (): Tensor => {
      try {
        return enableGrad(() => fn(...xs));
      } finally {
        defaultGenerator.setState(now);
      }
    };
    if (c.attrs['stateless'] === true) {
      // the recomputed graph's buffers go back to the pool once its backward is done, except the
      // gradients that backward handed out (fn's parameters', the inputs')
      scoped(() => { const y = replay(); return y.requiresGrad ? backwardKept(y, dy) : undefined; }, (kept) => kept ?? new Set());
    } else {
      // not tracked by the backward pass's storage scope: fn may keep what it makes (module state)
      const y = withoutTracking(replay);
      if (y.requiresGrad) backwardKept(y, dy);
    }
    return xs.map((x, i) => (c.needs[i] ? x.grad : null));
  },
});
