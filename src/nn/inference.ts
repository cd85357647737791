// An inference plan for Sequential models in eval mode (issue #17, batch-1 latency): the layers are
// resolved once into steps; a Linear followed by a ReLU runs as one fused kernel (the ReLU in the
// linear's epilogue, the same float operations as the two kernels), and consecutive such layers run
// as one call of the backend's linearChain when it has one (the native addon: one N-API crossing,
// intermediates in native buffers reused across calls); an eval-mode Dropout and an
// Identity pass their input through, as their forward does; and the intermediate outputs come from
// the storage pool (backend/pool.ts), released when the call ends, so a repeated call allocates
// only its result. Results are bit-identical to model.call() under noGrad (tested on both
// backends). It records no graph and refuses a model in training mode. Anything it does not know
// (other layers, modules with forward hooks) runs through the module's own call().

import { beginScope, endScope } from '../backend/pool.js';
import type { Backend, LinearChainLayer } from '../backend/backend.js';
import { getBackend } from '../backend/registry.js';
import { noGrad } from '../core/engine.js';
import { TensorslimError } from '../core/errors.js';
import { Tensor } from '../core/tensor.js';
import * as ops from '../ops/index.js';
import { ReLU } from './activation.js';
import { Sequential, type TensorModule } from './container.js';
import { Dropout, Flatten } from './dropout.js';
import { Identity, Linear } from './linear.js';

type Step =
  | { kind: 'linear'; m: Linear; relu: ReLU | null }
  | { kind: 'relu'; m: ReLU }
  | { kind: 'flatten'; m: Flatten }
  | { kind: 'pass'; m: Dropout | Identity }
  | { kind: 'call'; m: TensorModule };

/** A compiled forward pass (see compileInference). */
export interface InferencePlan {
  /** Run the model on `x` (eval mode, no graph). @example plan.run(ops.rand([1, 784])) */
  run(x: Tensor): Tensor;
  /** The steps, for inspection: 'linear+relu', 'linear', 'relu', 'flatten', 'pass', or 'call:<Class>'. @example plan.describe() // ['flatten', 'linear+relu', ...] */
  describe(): string[];
}

/**
 * Compile `model` (any TensorModule; Sequentials, nested ones included, are planned layer by layer)
 * into a fast forward pass for inference: Linear + ReLU fused into one kernel, eval-mode Dropout and
 * Identity skipped, no graph recorded, intermediate outputs reused through the storage pool. The
 * plan follows the model: it reads each Linear's current weight and bias at every call, runs any
 * module that has forward hooks (pruning's masks) through its call(), and re-plans when a
 * Sequential's children changed. Results are bit-identical to `noGrad(() => model.call(x))`.
 * Throws when called while the model is in training mode.
 *
 * @example
 * const net = createModel('mlp').eval();
 * const plan = compileInference(net);
 * const y = plan.run(ops.rand([1, 784]));   // same values as noGrad(() => net.call(x))
 */
export function compileInference(model: TensorModule): InferencePlan {
  let seqs: { seq: Sequential; version: number }[] = [];
  let steps: Step[] = [];
  const plan = (): void => {
    seqs = [];
    const flat: TensorModule[] = [];
    const walk = (m: TensorModule): void => {
      if (m instanceof Sequential && !m.hasForwardHooks) {
        const items = [...m];  // traverses (and so syncs) the children before their version is read
        seqs.push({ seq: m, version: m.childrenVersion });
        for (const c of items) walk(c);
      } else {
        flat.push(m);
      }
    };
    walk(model);
    steps = [];
    for (let i = 0; i < flat.length; i++) {
      const m = flat[i]!;
      if (m instanceof Linear) {
        const next = flat[i + 1];
        if (next instanceof ReLU) { steps.push({ kind: 'linear', m, relu: next }); i++; } else steps.push({ kind: 'linear', m, relu: null });
      } else if (m instanceof ReLU) steps.push({ kind: 'relu', m });
      else if (m instanceof Flatten) steps.push({ kind: 'flatten', m });
      else if (m instanceof Dropout || m instanceof Identity) steps.push({ kind: 'pass', m });
      else steps.push({ kind: 'call', m });
    }
  };
  // a Sequential whose children changed since planning (module swapping: seq.set, append), or
  // that got hooks of its own (it must then run through its call())
  const stale = (): boolean => {
    for (const { seq, version } of seqs) if (seq.childrenVersion !== version || seq.hasForwardHooks) return true;
    return false;
  };
  plan();

  // Linear steps not yet run: consecutive fusable Linear(+ReLU) layers on a 2-D input are collected
  // here and run by the backend's linearChain in one call (no intermediate reaches JavaScript), when a
  // later step needs their output or the steps end. Eval-mode Dropout, Identity and a Flatten that
  // changes nothing between them do not break the chain.
  const pending: LinearChainLayer[] = [];
  const runSteps = (x: Tensor): Tensor => {
    const be = getBackend();
    const chained = typeof be.linearChain === 'function';
    let y = x;
    let width = 0;  // the pending chain's output is (y.shape[0], width)
    pending.length = 0;
    const flush = (): void => {
      if (pending.length === 0) return;
      y = new Tensor(be.linearChain!(y.view_(), pending), y.dtype, [y.shape[0]!, width]);
      pending.length = 0;
    };
    for (const s of steps) {
      switch (s.kind) {
        case 'linear': {
          const { m, relu } = s;
          const w = m.weight, b = m.bias;
          const hooked = m.hasForwardHooks || (relu !== null && relu.hasForwardHooks);
          // the shapes as checkLinearShapes wants them, read from the tensors (a feature may have
          // replaced the weight with one of another shape)
          const ndim = pending.length > 0 ? 2 : y.ndim;
          const inner = pending.length > 0 ? width : y.shape[y.ndim - 1];
          const fusable = !hooked && w.ndim === 2 && ndim > 0 && inner === w.shape[1] && (b === null || (b.ndim === 1 && b.shape[0] === w.shape[0]))
            && (y.dtype === 'float32' || y.dtype === 'float64') && w.dtype === y.dtype && (b === null || b.dtype === y.dtype);
          if (fusable && ndim === 2 && chained) {
            pending.push({ w: w.view_(), bias: b === null ? null : b.view_(), relu: relu !== null });
            width = w.shape[0]!;
            break;
          }
          flush();
          if (fusable && y.ndim === 2) {
            // what ops.fusedLinear does for a 2-D input under noGrad, with the checks above done
            // once: the backend's fused kernel when it has one (the same call, so the same bits)
            y = typeof be.linear === 'function'
              ? new Tensor(be.linear(y.view_(), w.view_(), b === null ? null : b.view_(), relu !== null), y.dtype, [y.shape[0]!, w.shape[0]!])
              : ops.fusedLinear(y, w, b, { relu: relu !== null });
          } else if (fusable) y = ops.fusedLinear(y, w, b, { relu: relu !== null });
          else { y = m.call(y); if (relu) y = relu.call(y); }  // the layer's own path (and its errors)
          break;
        }
        case 'relu': flush(); y = s.m.hasForwardHooks ? s.m.call(y) : ops.relu(y); break;
        case 'flatten':
          // a pending chain's output is 2-D: a Flatten of its last dim changes nothing
          if (pending.length > 0 && !s.m.hasForwardHooks && flattensNothing(2, s.m.startDim, s.m.endDim)) break;
          flush();
          y = s.m.hasForwardHooks ? s.m.call(y) : flattenOrSame(y, s.m.startDim, s.m.endDim);
          break;
        case 'pass': if (s.m.hasForwardHooks || (s.m instanceof Dropout && s.m.training)) { flush(); y = s.m.call(y); } break;
        case 'call': flush(); y = s.m.call(y); break;
      }
    }
    flush();
    return y;
  };

  // The common case in one native call, with no closure, scope or intermediate tensor: every step is
  // a fusable Linear(+ReLU) on a 2-D input, or a Flatten, Identity or eval-mode Dropout that changes
  // nothing, none of them hooked, and the backend has linearChain. Null when that does not hold (the
  // general path then runs the steps, with the same values). Layer records are reused across calls.
  const chainLayers: LinearChainLayer[] = [];
  const runChain = (x: Tensor, be: Backend): Tensor | null => {
    if (x.ndim !== 2 || (x.dtype !== 'float32' && x.dtype !== 'float64')) return null;
    let width = x.shape[1]!, n = 0;
    for (const s of steps) {
      if (s.m.hasForwardHooks) return null;
      if (s.kind === 'linear') {
        const w = s.m.weight, b = s.m.bias;
        if ((s.relu !== null && s.relu.hasForwardHooks) || w.ndim !== 2 || w.shape[1] !== width || w.dtype !== x.dtype
          || (b !== null && (b.ndim !== 1 || b.shape[0] !== w.shape[0] || b.dtype !== x.dtype))) return null;
        const l = chainLayers[n] ?? (chainLayers[n] = { w: w.view_(), bias: null, relu: false });
        l.w = w.view_(); l.bias = b === null ? null : b.view_(); l.relu = s.relu !== null;
        n++;
        width = w.shape[0]!;
      } else if (s.kind === 'flatten') {
        if (!flattensNothing(2, s.m.startDim, s.m.endDim)) return null;
      } else if (s.kind !== 'pass' || (s.m instanceof Dropout && s.m.training)) return null;
    }
    if (n === 0) return null;
    chainLayers.length = n;
    return new Tensor(be.linearChain!(x.view_(), chainLayers), x.dtype, [x.shape[0]!, width]);
  };

  return {
    run(x: Tensor): Tensor {
      if (model.training) throw new TensorslimError('compileInference', 'the model is in training mode; call model.eval() first (the plan skips dropout and records no graph, which holds only for inference)');
      if (stale()) plan();
      const be = getBackend();
      if (typeof be.linearChain === 'function' && !model.hasForwardHooks) {
        const y = runChain(x, be);
        if (y !== null) return y;
      }
      return noGrad(() => {
        if (model.hasForwardHooks) return model.call(x);
        // Intermediates go back to the pool at the end of the call only when every step is one of
        // ours without hooks: then nothing but the result can hold them.
        const tracked = steps.every((s) => s.kind !== 'call' && !s.m.hasForwardHooks && (s.kind !== 'linear' || s.relu === null || !s.relu.hasForwardHooks));
        if (!tracked) return runSteps(x);
        beginScope();
        let out: Tensor | undefined;
        try {
          out = runSteps(x);
          return out;
        } finally {
          endScope(out ? new Set([out.data.buffer]) : undefined);
        }
      });
    },
    describe(): string[] {
      if (stale()) plan();
      return steps.map((s) => (s.kind === 'linear' ? (s.relu ? 'linear+relu' : 'linear') : s.kind === 'call' ? `call:${s.m.constructor.name}` : s.kind));
    },
  };
}

// flatten(y, start, end), or y itself when that range holds at most one dim (the shape would not
// change: e.g. a (1, 784) input to the mlp's Flatten); the values are the same either way.
function flattenOrSame(y: Tensor, start: number, end: number): Tensor {
  return flattensNothing(y.ndim, start, end) ? y : ops.flatten(y, start, end);
}

// Whether flatten(start, end) of an ndim-D tensor keeps its shape (the range holds at most one dim).
function flattensNothing(ndim: number, start: number, end: number): boolean {
  const s = start < 0 ? start + ndim : start, e = end < 0 ? end + ndim : end;
  return s >= 0 && s < ndim && e < ndim && e <= s;
}
