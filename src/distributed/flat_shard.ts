// The flat-shard layout shared by ZeRO stages 1-3 (zero.ts, zero3.ts, fsdp.ts): a list of
// parameters of one float dtype laid out back to back in one flat vector, padded to a multiple of
// the world size N; rank r owns the r-th run of S = ceil(P / N) elements. Also the conversion of an
// optimizer's state over such shards to and from the state dict of the same optimizer over the full
// parameters (the file a single process or DDP writes), so checkpoints do not depend on N.

import type { FloatDType } from '../backend/dtype.js';
import { fromBuffer, Tensor } from '../core/tensor.js';
import type { Optimizer, OptimizerOptions, OptimizerStateDict, PackedParamGroup, ParamState } from '../optim/optimizer.js';
import type { ProcessGroup } from './process_group.js';

export type FloatArray = Float32Array | Float64Array;

/** A zero-filled array of `n` elements of `dtype`. */
export function newFloatArray(dtype: FloatDType, n: number): FloatArray {
  return dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
}

/** The elements of `t` in row-major order (its own storage when contiguous, else a copy). */
export function contiguousData(t: Tensor): FloatArray {
  const c = t.isContiguous() ? t : t.contiguous();
  return c.data.subarray(c.offset, c.offset + c.size) as FloatArray;
}

/**
 * Copies the hyper-parameters (lr, weight decay, ...; not the parameters) of `from`'s groups into
 * the same-numbered groups of `to`: an optimizer over shards follows the full optimizer's schedule.
 * @example copyHyperParameters(trainerOptimizer, zero.optimizer);
 */
export function copyHyperParameters(from: Optimizer, to: Optimizer<OptimizerOptions>): void {
  from.paramGroups.forEach(({ params: _p, ...hyper }, i) => { Object.assign(to.paramGroups[i]!, hyper); });
}

/** Bytes per element of a float dtype. */
export function bytesOf(dtype: FloatDType): number { return dtype === 'float64' ? 8 : 4; }

/** Where each of a run of tensors starts in the flat vector, its length, and the shard length. */
export interface FlatLayout {
  offsets: number[];
  total: number;
  /** ceil(total / N): the flat vector is padded to N * shard. */
  shard: number;
}

/**
 * Lays out tensors of `sizes` elements back to back, sharded over `worldSize` ranks.
 * @example flatLayout([6, 3], 2) // { offsets: [0, 6], total: 9, shard: 5 }
 */
export function flatLayout(sizes: readonly number[], worldSize: number): FlatLayout {
  const offsets: number[] = [];
  let total = 0;
  for (const s of sizes) { offsets.push(total); total += s; }
  return { offsets, total, shard: Math.ceil(total / worldSize) };
}

/**
 * Copies rank `rank`'s run of the flat vector made of `sources` (laid out by `layout`) into `dst`
 * (length layout.shard; the padding past the end is left as it is).
 * @example copyShard(shard, params.map(contiguousData), layout, rank);
 */
export function copyShard(dst: FloatArray, sources: readonly FloatArray[], layout: FlatLayout, rank: number): void {
  const lo = rank * layout.shard;
  sources.forEach((src, i) => {
    const off = layout.offsets[i]!;
    const a = Math.max(lo, off);
    const b = Math.min(lo + layout.shard, off + src.length);
    if (a < b) dst.set(src.subarray(a - off, b - off), a - lo);
  });
}

/**
 * One flat vector of an optimizer sharded over ranks: the full parameters of one parameter group
 * (one dtype) in `params`, their indices `ids` in the full optimizer's numbering (groups in order),
 * and this rank's shard as the one parameter the inner optimizer sees.
 */
export interface ShardedFlat extends FlatLayout {
  group: number;
  dtype: FloatDType;
  params: Tensor[];
  ids: number[];
  shardParam: Tensor;
}

/**
 * The state dict the optimizer would have over the full parameters, built on rank `to` (null on the
 * others) from `inner`, an optimizer over the shards of `flats` (inner parameter k is flats[k]'s
 * shard). `groupSizes[g]`: parameters in full group g. Every rank must call it (it all-gathers).
 * @example const sd = await consolidateShardedState(flats, inner, pg, 0, [3, 2]);
 */
export async function consolidateShardedState(flats: readonly ShardedFlat[], inner: Optimizer<OptimizerOptions>, group: ProcessGroup, to: number, groupSizes: readonly number[]): Promise<OptimizerStateDict | null> {
  const sd = inner.stateDict();
  const state: Record<number, ParamState> = {};
  for (const [k, f] of flats.entries()) {
    const s = sd.state[k];
    if (s === undefined) continue; // no step yet: the same on every rank
    for (const key of Object.keys(s).sort()) {
      const v = s[key]!;
      if (!(v instanceof Tensor)) {
        for (const id of f.ids) (state[id] ??= {})[key] = v;
        continue;
      }
      const all = (await group.allGather(v)).data as FloatArray;
      if (group.rank !== to) continue;
      f.params.forEach((p, i) => {
        (state[f.ids[i]!] ??= {})[key] = fromBuffer(all.slice(f.offsets[i]!, f.offsets[i]! + p.size), f.dtype, p.shape);
      });
    }
  }
  if (group.rank !== to) return null;
  let id = 0;
  const paramGroups: PackedParamGroup[] = sd.paramGroups.map((g, gi) => ({ ...g, params: Array.from({ length: groupSizes[gi]! }, () => id++) }));
  return { state, paramGroups };
}

/**
 * Loads a full state dict (consolidateShardedState's, or the optimizer's over the full parameters
 * in one process) into `inner`, the optimizer over the shards of `flats`: this rank keeps its run of
 * every state tensor; each shard takes its scalar state (`step`) from the first parameter of its flat
 * vector that has one. `indexInGroup(f, i)`: the position of f.params[i] in its full group.
 * @example loadShardedState(flats, inner, pg, sd, [3, 2], (f, i) => i, 'ZeroRedundancyOptimizer.loadStateDict');
 */
export function loadShardedState(flats: readonly ShardedFlat[], inner: Optimizer<OptimizerOptions>, group: ProcessGroup, sd: OptimizerStateDict, groupSizes: readonly number[], indexInGroup: (f: ShardedFlat, i: number) => number, op: string): void {
  if (typeof sd !== 'object' || sd === null || !Array.isArray(sd.paramGroups) || typeof sd.state !== 'object' || sd.state === null) throw new Error(`${op}: expected an object {state, paramGroups} as returned by stateDict()`);
  if (sd.paramGroups.length !== groupSizes.length) throw new Error(`${op}: the state dict has ${sd.paramGroups.length} parameter groups, this optimizer has ${groupSizes.length}`);
  sd.paramGroups.forEach((g, gi) => {
    if (!Array.isArray(g.params) || g.params.length !== groupSizes[gi]) throw new Error(`${op}: parameter group ${gi} of the state dict has ${Array.isArray(g.params) ? g.params.length : 'no'} parameters, this optimizer's has ${groupSizes[gi]}`);
  });
  const rank = group.rank;
  const n = group.worldSize;
  const shardState: Record<number, ParamState> = {};
  for (const [k, f] of flats.entries()) {
    const saved = f.ids.map((_, i) => sd.state[sd.paramGroups[f.group]!.params[indexInGroup(f, i)]!]);
    const keys = new Set<string>();
    for (const s of saved) if (s !== undefined) for (const key of Object.keys(s)) keys.add(key);
    if (keys.size === 0) continue;
    const out: ParamState = {};
    for (const key of keys) {
      const first = saved.find((s) => s !== undefined && s[key] !== undefined)![key]!;
      if (!(first instanceof Tensor) || (key === 'step' && first.size === 1)) { out[key] = first instanceof Tensor ? first.item() : first; continue; }
      const full = newFloatArray(f.dtype, f.shard * n);
      f.params.forEach((p, i) => {
        const v = saved[i]?.[key];
        if (v === undefined) return;
        if (!(v instanceof Tensor) || v.size !== p.size) throw new Error(`${op}: state '${key}' of parameter ${f.ids[i]} should be a tensor of ${p.size} elements (shape ${p.shape.join('x')})`);
        const d = contiguousData(v);
        full.set(v.dtype === f.dtype ? d : Array.from(d), f.offsets[i]!);
      });
      out[key] = fromBuffer(full.slice(rank * f.shard, (rank + 1) * f.shard), f.dtype, [f.shard]);
    }
    shardState[k] = out;
  }
  let id = 0;
  const groups: PackedParamGroup[] = sd.paramGroups.map((g) => ({ ...g, params: [] as number[] }));
  for (const f of flats) groups[f.group]!.params.push(id++);
  inner.loadStateDict({ state: shardState, paramGroups: groups });
}
