// Pipeline parallelism for the GPT with GPipe's schedule (Huang et al. 2019) or 1F1B
// (PipeDream-Flush, Narayanan et al. 2021; `schedule: '1f1b'`): the blocks are split
// into contiguous stages, one per rank (stage 0 also runs the embeddings, the last stage the final
// LayerNorm, the LM head and the loss). A batch is cut into micro-batches along the batch axis; all
// forwards run first (each stage receives its input activation from the stage before, sends its
// output to the stage after), then all backwards in reverse (each stage receives the gradient of its
// output, backpropagates, and sends the gradient of its input back). Sends are queued on the
// communication thread without waiting, so a stage computes the next micro-batch while the last one
// travels. 1F1B reorders the same forwards and backwards so that stage s holds at most
// min(S - s, m) micro-batches' activations instead of m; the bubble, (S - 1) / (m + S - 1) of the
// step, is the same. With tied embeddings (wte = lm_head) the first and last stages both hold the matrix; its
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
  /**
   * 'gpipe' (default): all forwards, then all backwards; a stage stashes every micro-batch's
   * activations. '1f1b' (PipeDream-Flush): one forward, one backward in the steady phase; stage s
   * stashes at most min(S - s, m). Same gradients, same bubble.
   */
  schedule?: PipelineSchedule;
}

/** The order in which a pipeline stage runs its micro-batches' forwards and backwards. */
export type PipelineSchedule = 'gpipe' | '1f1b';

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
  readonly schedule: PipelineSchedule;
  /** The most micro-batches whose activations this stage held at once during the last trainStep. */
  peakStashed = 0;

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
    this.schedule = opts.schedule ?? 'gpipe';
    if (this.schedule !== 'gpipe' && this.schedule !== '1f1b') throw new Error(`GPipeGPT: schedule must be 'gpipe' or '1f1b', got ${String(this.schedule)}`);
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
    const outputs: (Tensor | null)[] = [];
    const sends: Promise<unknown>[] = [];
    let lossSum = 0;
    let live = 0;
    this.peakStashed = 0;
    // Runs micro-batch k forward and stashes its graph (its input and output); the output's send to
    // the next stage is left to the caller, who orders it among the other transfers.
    const forward = async (k: number): Promise<void> => {
      let x: Tensor;
      if (this.isFirst) {
        const pos = ops.arange(0, t, 1, { dtype: 'int32' });
        x = tr.drop.call(ops.add(tr.wte.call(idx.slice(0, k * bm, (k + 1) * bm).contiguous()), tr.wpe.call(pos)));
        inputs[k] = null;
      } else {
        x = ops.zeros([bm, t, c]);
        await g.recv(x, this.stage - 1, k);
        x.requiresGrad = true;
        inputs[k] = x;
      }
      for (let i = this.first; i < this.end; i++) x = tr.h.at(i).call(x);
      if (this.isLast) {
        const loss = ops.mul(gptLoss(this.model.lm_head.call(tr.ln_f.call(x)), targets.slice(0, k * bm, (k + 1) * bm).contiguous()), 1 / m);
        lossSum += loss.item();
        outputs[k] = loss;
      } else {
        outputs[k] = x.contiguous();
      }
      live++;
      this.peakStashed = Math.max(this.peakStashed, live);
    };
    const sendForward = (k: number): void => { if (!this.isLast) sends.push(g.send(outputs[k]!, this.stage + 1, k)); };
    // Receives the gradient of micro-batch k's output (queuing the receive before the send of the
    // `pending` forward output, see 1F1B below), backpropagates it, frees the stash and sends the
    // gradient of the input back.
    const backward = async (k: number, pending?: number): Promise<void> => {
      if (this.isLast) {
        if (pending !== undefined) sendForward(pending);
        outputs[k]!.backward();
      } else {
        const grad = ops.zeros([bm, t, c]);
        const got = g.recv(grad, this.stage + 1, BACKWARD_TAG + k);
        if (pending !== undefined) sendForward(pending);
        await got;
        outputs[k]!.backward(grad);
      }
      const input = inputs[k];
      if (input != null) sends.push(g.send(input.grad!.contiguous(), this.stage - 1, BACKWARD_TAG + k));
      inputs[k] = null;
      outputs[k] = null;
      live--;
    };
    if (this.schedule === 'gpipe') {
      // Every forward, then every backward in reverse.
      for (let k = 0; k < m; k++) { await forward(k); sendForward(k); }
      for (let k = m - 1; k >= 0; k--) await backward(k);
    } else {
      // 1F1B (PipeDream-Flush): stage s runs min(S - 1 - s, m) warm-up forwards, then alternates one
      // forward and one backward, then drains the remaining backwards. Each rank's transfers run one
      // at a time in queue order on its communication thread and a send completes only when the peer
      // receives, so in the steady phase the receive of a backward gradient is queued before the send
      // of the forward just computed: both ends of every link then see the same order (no deadlock).
      const warm = Math.min(this.stages - 1 - this.stage, m);
      for (let k = 0; k < warm; k++) { await forward(k); sendForward(k); }
      for (let i = 0; i < m - warm; i++) {
        await forward(warm + i);
        await backward(i, warm + i);
      }
      for (let i = m - warm; i < m; i++) await backward(i);
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
