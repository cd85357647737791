// Pipeline parallelism for the GPT with GPipe's schedule (Huang et al. 2019): the blocks are split
// into contiguous stages, one per rank (stage 0 also runs the embeddings, the last stage the final
// LayerNorm, the LM head and the loss). A batch is cut into micro-batches along the batch axis; all
// forwards run first (each stage receives its input activation from the stage before, sends its
// output to the stage after), then all backwards in reverse (each stage receives the gradient of its
// output, backpropagates, and sends the gradient of its input back). Sends are queued on the
// communication thread without waiting, so a stage computes the next micro-batch while the last one
// travels. With tied embeddings (wte = lm_head) the first and last stages both hold the matrix; its
// gradient is summed over the group after backward, so both apply the same update.
// Equal to one process on the whole batch (the loss is the mean over micro-batches weighted by size).

import { Tensor } from '../core/tensor.js';
import * as ops from '../ops/index.js';
import type { GPT } from '../models/gpt.js';
import { gptLoss } from '../models/gpt.js';
import { defaultGroup, type ProcessGroup } from './process_group.js';

const BACKWARD_TAG = 1 << 20; // tags of gradient messages: above any micro-batch index

export interface GPipeOptions {
  /** Micro-batches per step (must divide the batch). Default: the number of stages. */
  microBatches?: number;
  /** The group (default: the one initProcessGroup made); rank r runs stage r. */
  group?: ProcessGroup;
}

/**
 * A GPT trained with GPipe pipeline parallelism: rank r runs stage r (a contiguous range of blocks,
 * split as evenly as possible). Every rank builds the same GPT (same config and weights), wraps it,
 * and calls `trainStep` with the same batch; then each rank steps an optimizer over its
 * `parameters()`.
 * @example
 * const pipe = new GPipeGPT(createGpt('gpt-tiny'), { microBatches: 4 });
 * const opt = new AdamW(pipe.parameters(), { lr: 3e-4 });
 * opt.zeroGrad();
 * const loss = await pipe.trainStep(idx, targets);  // the same on every rank
 * opt.step();
 */
export class GPipeGPT {
  readonly group: ProcessGroup;
  readonly stage: number;
  readonly stages: number;
  /** Blocks [first, end) run on this rank. */
  readonly first: number;
  readonly end: number;
  readonly microBatches: number;

  constructor(readonly model: GPT, opts: GPipeOptions = {}) {
    this.group = opts.group ?? defaultGroup('GPipeGPT');
    this.stage = this.group.rank;
    this.stages = this.group.worldSize;
    const layers = model.config.nLayer;
    if (layers < this.stages) throw new Error(`GPipeGPT: ${layers} blocks cannot fill ${this.stages} stages; use at most ${layers} ranks`);
    const per = Math.floor(layers / this.stages);
    const extra = layers % this.stages; // the first `extra` stages get one more block
    this.first = this.stage * per + Math.min(this.stage, extra);
    this.end = this.first + per + (this.stage < extra ? 1 : 0);
    this.microBatches = opts.microBatches ?? this.stages;
    if (!Number.isInteger(this.microBatches) || this.microBatches < 1) throw new Error(`GPipeGPT: microBatches must be a positive integer, got ${this.microBatches}`);
    if (model.config.dropout > 0) throw new Error('GPipeGPT: dropout > 0 is not supported (stages draw from their own generators, unlike one process); build the GPT with dropout 0');
  }

  private get isFirst(): boolean { return this.stage === 0; }
  private get isLast(): boolean { return this.stage === this.stages - 1; }

  /**
   * The parameters this stage computes with (the tied embedding matrix appears on the first and the
   * last stage): pass them to this rank's optimizer.
   * @example new SGD(pipe.parameters(), { lr: 0.1 });
   */
  parameters(): Tensor[] {
    const tr = this.model.transformer;
    const out: Tensor[] = [];
    if (this.isFirst) out.push(...tr.wte.parameters(), ...tr.wpe.parameters());
    for (let i = this.first; i < this.end; i++) out.push(...tr.h.at(i).parameters());
    if (this.isLast) out.push(...tr.ln_f.parameters(), ...this.model.lm_head.parameters());
    return [...new Set(out)];
  }

  /**
   * One forward and backward over `idx`/`targets` (B, T) int32, in micro-batches; gradients
   * accumulate into this stage's parameters (call zeroGrad before, step after). Every rank passes the
   * same batch. Resolves with the mean loss over the batch, on every rank.
   * @example const loss = await pipe.trainStep(idx, targets);
   */
  async trainStep(idx: Tensor, targets: Tensor): Promise<number> {
    const op = `GPipeGPT.trainStep (stage ${this.stage} of ${this.stages})`;
    if (idx.ndim !== 2 || targets.ndim !== 2 || idx.shape[0] !== targets.shape[0] || idx.shape[1] !== targets.shape[1]) {
      throw new Error(`${op}: idx and targets must both be (batch, time), got (${idx.shape.join(', ')}) and (${targets.shape.join(', ')})`);
    }
    const [b, t] = idx.shape as [number, number];
    const m = this.microBatches;
    if (b % m !== 0) throw new Error(`${op}: the batch of ${b} does not split into ${m} equal micro-batches; pick microBatches dividing ${b}`);
    const bm = b / m;
    const c = this.model.config.nEmbd;
    const tr = this.model.transformer;
    const g = this.group;
    const inputs: (Tensor | null)[] = [];
    const outputs: Tensor[] = [];
    const sends: Promise<unknown>[] = [];
    let lossSum = 0;
    // Forward: every micro-batch.
    for (let k = 0; k < m; k++) {
      let x: Tensor;
      if (this.isFirst) {
        const pos = ops.arange(0, t, 1, { dtype: 'int32' });
        x = tr.drop.call(ops.add(tr.wte.call(idx.slice(0, k * bm, (k + 1) * bm).contiguous()), tr.wpe.call(pos)));
        inputs.push(null);
      } else {
        x = ops.zeros([bm, t, c]);
        await g.recv(x, this.stage - 1, k);
        x.requiresGrad = true;
        inputs.push(x);
      }
      for (let i = this.first; i < this.end; i++) x = tr.h.at(i).call(x);
      if (this.isLast) {
        const loss = ops.mul(gptLoss(this.model.lm_head.call(tr.ln_f.call(x)), targets.slice(0, k * bm, (k + 1) * bm).contiguous()), 1 / m);
        lossSum += loss.item();
        outputs.push(loss);
      } else {
        const out = x.contiguous();
        sends.push(g.send(out, this.stage + 1, k));
        outputs.push(out);
      }
    }
    // Backward: micro-batches in reverse.
    for (let k = m - 1; k >= 0; k--) {
      if (this.isLast) {
        outputs[k]!.backward();
      } else {
        const grad = ops.zeros([bm, t, c]);
        await g.recv(grad, this.stage + 1, BACKWARD_TAG + k);
        outputs[k]!.backward(grad);
      }
      const input = inputs[k];
      if (input != null) sends.push(g.send(input.grad!.contiguous(), this.stage - 1, BACKWARD_TAG + k));
    }
    await Promise.all(sends);
    // Tied embeddings: the first stage's (embedding) and the last stage's (LM head) gradients add up.
    if (this.model.config.tieWeights && this.stages > 1) {
      const w = tr.wte.weight;
      const sum = w.grad === null || !(this.isFirst || this.isLast) ? ops.zeros(w.shape) : ops.clone(w.grad);
      await g.allReduce(sum, 'sum');
      if (this.isFirst || this.isLast) w.grad = sum;
    }
    const loss = ops.tensor([this.isLast ? lossSum : 0], { dtype: 'float64' });
    await g.broadcast(loss, this.stages - 1);
    return loss.data[0] as number;
  }
}
