// Gradient rules by kernel name. One rule per kernel, written with tensor ops, declaring what it saves.

import type { Shape } from '../backend/shape.js';
import type { DType } from '../backend/dtype.js';
import type { Tensor } from '../core/tensor.js';

/** What a rule sees at backward time. Only what it declared in `save` is available. */
export interface GradContext {
  readonly attrs: Readonly<Record<string, unknown>>;
  readonly inputShapes: readonly Shape[];
  readonly inputDtypes: readonly DType[];
  /** Which inputs need a gradient; rules may skip work for the others. */
  readonly needs: readonly boolean[];
  /** Saved input i (must be listed in save.inputs). */
  input(i: number): Tensor;
  /** The saved output (save.output must be true). */
  output(): Tensor;
  /**
   * Row-block delivery of input i's gradient, or null: offered when input i is a leaf with a
   * grad-chunk hook (registerGradChunkHook) whose final gradient is this rule's result alone, in a
   * backward() that is not recorded. A rule that can compute that gradient by blocks of `rows` rows
   * (of its first dimension) calls `emit(rowStart, block)` as each block is done and still returns the
   * whole gradient, bit-identical to the blocks; a rule that cannot split ignores it.
   */
  gradChunks(i: number): GradChunks | null;
  /**
   * When input i is a leaf whose gradient the pass has already partly summed, and that sum's
   * storage is the pass's alone (a rule handed it over whole: markExclusiveGrad), that sum: the
   * rule may add its own contribution into it in place and return null for input i instead of a
   * new tensor (a tied embedding adds its rows into the LM head's (V, C) gradient without a dense
   * (V, C) buffer of its own). Null otherwise, and always when the backward is recorded (createGraph).
   */
  exclusiveLeafGrad?(i: number): Tensor | null;
}

/** See GradContext.gradChunks. */
export interface GradChunks {
  /** Rows per block (the last block may be shorter). */
  readonly rows: number;
  /** Hand out rows [rowStart, rowStart + block.shape[0]) of the gradient (final values). */
  emit(rowStart: number, block: Tensor): void;
}

export interface GradRule {
  /**
   * Inputs (by position) and whether the output must be kept alive for backward: true, or a test
   * of the recorded attrs (linear keeps its output only for the ReLU mask).
   */
  readonly save?: { readonly inputs?: readonly number[]; readonly output?: boolean | ((attrs: Readonly<Record<string, unknown>>) => boolean) };
  /** Gradients for each input, in the OUTPUT's shape for broadcasting ops (the tape reduces them). */
  grad(dy: Tensor, ctx: GradContext): (Tensor | null)[];
}

const rules = new Map<string, GradRule>();

/** Register the gradient rule of `kernel`. Registering twice is a bug. */
export function defineGrad(kernel: string, rule: GradRule): void {
  if (rules.has(kernel)) throw new Error(`defineGrad: kernel '${kernel}' already has a gradient rule`);
  rules.set(kernel, rule);
}

export function getGradRule(kernel: string): GradRule | undefined { return rules.get(kernel); }

export function registeredGradKernels(): string[] { return [...rules.keys()]; }
