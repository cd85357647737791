// Sparse execution of pruned Linear layers: SparseLinear keeps its weight in CSR form (a CsrWeight
// child module whose tensors give the state-dict keys weight.values, weight.crow_indices,
// weight.col_indices, as PyTorch names the parts of a sparse CSR tensor, plus weight.size = the
// dense (out, in) shape), toSparse swaps pruned Linear layers for SparseLinear through the module
// registry, and loadSparse rebuilds them from a state dict (a checkpoint) into a dense template.
//
// Forward: inference (no gradient needed) runs the CSR kernel: the active backend's optional
// `csrLinear` when it has one, else csrLinearReference. When a gradient is needed (fine-tuning a
// sparse model, or a layer below that trains) the same product is composed from differentiable
// ops (gather the inputs of each nonzero, scale, scatter-add into rows), so values and inputs get
// gradients and the sparsity pattern stays fixed.

import { isFloat, type FloatDType, type TypedArray } from '../../backend/dtype.js';
import { fmtShape } from '../../backend/shape.js';
import { getBackend } from '../../backend/registry.js';
import { isGradEnabled, noGrad } from '../../core/engine.js';
import { DTypeError, ShapeError, TensorslimError } from '../../core/errors.js';
import { Tensor } from '../../core/tensor.js';
import * as ops from '../../ops/index.js';
import { Linear, Module, Parameter, type AnyModule } from '../../nn/index.js';
import { checkCsr, csrBytes, csrLinearReference, csrToDense, denseToCsr, type CsrLinearKernel, type CsrMatrix, type FloatArray } from './csr.js';
import { prunedParameterNames, tensorAttr } from './reparam.js';

/** The effective (masked) value of a parameter, in its dtype, or null when absent. */
function effectiveTensor(m: AnyModule, name: string): Tensor | null {
  if (prunedParameterNames(m).includes(name)) return noGrad(() => ops.mul(tensorAttr(m, `${name}_orig`)!, tensorAttr(m, `${name}_mask`)!));
  return tensorAttr(m, name);
}

/** The kernel of the active backend, or the reference one. */
function csrKernel(): CsrLinearKernel {
  const be = getBackend();
  return be.csrLinear ? be.csrLinear.bind(be) : csrLinearReference;
}

/** The storage of a contiguous tensor without copying, or a contiguous copy. */
function flatData(t: Tensor): TypedArray {
  return t.isContiguous() && t.offset === 0 && t.data.length === t.size ? t.data : t.dataSync();
}

/** flatData of a float tensor (CSR values, SparseLinear's input and bias). */
function floatData(op: string, t: Tensor): FloatArray {
  const d = flatData(t);
  if (!(d instanceof Float32Array || d instanceof Float64Array)) throw new DTypeError(op, `expected a float32 or float64 tensor, got ${t.dtype}`);
  return d;
}

/** flatData of an int32 tensor (CSR indices). */
function int32Data(t: Tensor): Int32Array {
  const d = flatData(t);
  if (!(d instanceof Int32Array)) throw new DTypeError('CsrWeight.csr', `CSR indices must be int32, got ${t.dtype}`);
  return d;
}

/**
 * A (rows, cols) weight in CSR form, as a module so that its parts get PyTorch's key names under
 * the owning layer: `values` (a Parameter, trainable or not), `crow_indices`, `col_indices` and
 * `size` (int32 buffers). forward() returns the dense matrix.
 * @example
 * const w = new CsrWeight(denseToCsr(dense, 300, 784));
 * [...w.stateDict().keys()]  // ['values', 'crow_indices', 'col_indices', 'size']
 */
export class CsrWeight extends Module<[], Tensor> {
  readonly rows: number;
  readonly cols: number;
  declare values: Parameter;
  declare crow_indices: Tensor;
  declare col_indices: Tensor;
  declare size: Tensor;

  constructor(w: CsrMatrix, opts: { requiresGrad?: boolean } = {}) {
    super();
    checkCsr('CsrWeight', w);
    this.rows = w.rows;
    this.cols = w.cols;
    const dtype: FloatDType = w.values instanceof Float64Array ? 'float64' : 'float32';
    this.registerParameter('values', new Parameter(ops.tensor(w.values, { dtype }), opts.requiresGrad ?? false));
    this.registerBuffer('crow_indices', ops.tensor(w.crowIndices, { dtype: 'int32' }));
    this.registerBuffer('col_indices', ops.tensor(w.colIndices, { dtype: 'int32' }));
    this.registerBuffer('size', ops.tensor(new Int32Array([w.rows, w.cols]), { dtype: 'int32' }));
  }

  /** Number of stored entries. @example w.nnz */
  get nnz(): number { return this.col_indices.size; }

  /** The CSR arrays (views of the live storage; do not write to them). @example csrBytes(w.csr()) */
  csr(): CsrMatrix {
    return {
      rows: this.rows, cols: this.cols,
      crowIndices: int32Data(this.crow_indices),
      colIndices: int32Data(this.col_indices),
      values: floatData('CsrWeight.csr', this.values),
    };
  }

  /** The dense (rows, cols) matrix. @example w.call().shape  // [rows, cols] */
  forward(): Tensor {
    return ops.tensor(csrToDense(this.csr()), { dtype: this.values.dtype, shape: [this.rows, this.cols] });
  }

  override extraRepr(): string {
    return `size=(${this.rows}, ${this.cols}), nnz=${this.nnz}, density=${(this.nnz / Math.max(1, this.rows * this.cols)).toFixed(4)}`;
  }
}

/**
 * y = x W^T + b with W stored in CSR (a pruned Linear made sparse), giving the same outputs as
 * the dense layer. State-dict keys: bias, weight.values, weight.crow_indices, weight.col_indices,
 * weight.size.
 * @example
 * prune.l1Unstructured(fc, 'weight', 0.9);
 * const sp = SparseLinear.fromLinear(fc);     // same outputs, about 5x fewer weight bytes
 * noGrad(() => sp.call(x));
 */
export class SparseLinear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  declare weight: CsrWeight;
  declare bias: Tensor | null;
  #rowIndex: { crow: Tensor; rows: Tensor } | null = null;

  constructor(w: CsrMatrix, bias: FloatArray | null = null, opts: { requiresGrad?: boolean } = {}) {
    super();
    const weight = new CsrWeight(w, opts);
    if (bias !== null && bias.length !== w.rows) {
      throw new ShapeError('SparseLinear', `bias has ${bias.length} entries but the weight has ${w.rows} rows`);
    }
    this.inFeatures = w.cols;
    this.outFeatures = w.rows;
    this.registerModule('weight', weight);
    this.registerParameter('bias', bias === null ? null
      : new Parameter(ops.tensor(bias, { dtype: weight.values.dtype }), opts.requiresGrad ?? false));
  }

  /**
   * The sparse twin of a (possibly pruned) Linear: masks are baked in and only nonzeros stored.
   * `requiresGrad` makes values and bias trainable (default false: inference).
   * @example const sp = SparseLinear.fromLinear(model.getSubmodule('1') as Linear);
   */
  static fromLinear(lin: Linear, opts: { requiresGrad?: boolean } = {}): SparseLinear {
    const w = effectiveTensor(lin, 'weight')!, b = effectiveTensor(lin, 'bias');
    const dtype: FloatDType = w.dtype === 'float64' ? 'float64' : 'float32';
    const sp = new SparseLinear(denseToCsr(w.dataSync(), lin.outFeatures, lin.inFeatures, dtype), b === null ? null : (b.dataSync() as FloatArray), opts);
    sp.training = lin.training;
    return sp;
  }

  /** Stored weight entries. @example sp.nnz */
  get nnz(): number { return this.weight.nnz; }

  /** The dense Linear with the same outputs. @example sp.toLinear().weight.shape */
  toLinear(): Linear {
    const lin = new Linear(this.inFeatures, this.outFeatures, { bias: this.bias !== null, dtype: this.weight.values.dtype as FloatDType });
    noGrad(() => {
      ops.assign(lin.weight, this.weight.call());
      if (this.bias !== null) ops.assign(lin.bias!, this.bias);
    });
    return lin;
  }

  forward(x: Tensor): Tensor {
    const op = `SparseLinear(${this.inFeatures}, ${this.outFeatures})`;
    if (x.ndim === 0 || x.shape[x.ndim - 1] !== this.inFeatures) {
      throw new ShapeError(op, `input last dimension ${x.ndim === 0 ? 'none (a scalar)' : x.shape[x.ndim - 1]} does not match inFeatures ${this.inFeatures}; input shape ${fmtShape(x.shape)}`);
    }
    const dtype = this.weight.values.dtype;
    if (x.dtype !== dtype) throw new DTypeError(op, `input is ${x.dtype} but the layer is ${dtype}; convert with x.to('${dtype}')`);
    const lead = x.shape.slice(0, -1);
    const batch = lead.reduce((p, d) => p * d, 1);
    const bias = this.bias;
    const needGrad = isGradEnabled() && (x.requiresGrad || this.weight.values.requiresGrad || (bias?.requiresGrad ?? false));
    if (needGrad) return this.#composed(x, batch, lead);
    const out = dtype === 'float64' ? new Float64Array(batch * this.outFeatures) : new Float32Array(batch * this.outFeatures);
    csrKernel()(floatData(op, x), batch, this.weight.csr(), bias === null ? null : floatData(op, bias), out);
    return new Tensor(out, dtype, [...lead, this.outFeatures]);
  }

  /** The differentiable composition: y[b, r] = sum_k values[k] x[b, col[k]] over row r's entries. */
  #composed(x: Tensor, batch: number, lead: readonly number[]): Tensor {
    const w = this.weight;
    const x2 = ops.reshape(x, [batch, this.inFeatures]);
    let y: Tensor;
    if (w.nnz === 0) y = ops.matmul(x2, ops.zeros([this.inFeatures, this.outFeatures], { dtype: x.dtype }));
    else {
      const xg = ops.indexSelect(x2, 1, w.col_indices);                        // (batch, nnz)
      const prod = ops.mul(xg, w.values);                                       // (batch, nnz)
      const rows = ops.expand(ops.reshape(this.#rows(), [1, w.nnz]), [batch, w.nnz]);
      y = ops.scatterAdd([batch, this.outFeatures], 1, rows, prod);             // (batch, out)
    }
    if (this.bias !== null) y = ops.add(y, this.bias);
    return ops.reshape(y, [...lead, this.outFeatures]);
  }

  /** Row of every stored entry (int32, nnz), cached per crow_indices buffer. */
  #rows(): Tensor {
    const crow = this.weight.crow_indices;
    if (this.#rowIndex?.crow !== crow) {
      const rp = crow.dataSync();
      const r = new Int32Array(this.weight.nnz);
      for (let i = 0; i < this.outFeatures; i++) r.fill(i, rp[i]!, rp[i + 1]!);
      this.#rowIndex = { crow, rows: ops.tensor(r, { dtype: 'int32' }) };
    }
    return this.#rowIndex.rows;
  }

  override extraRepr(): string {
    return `inFeatures=${this.inFeatures}, outFeatures=${this.outFeatures}, bias=${this.bias !== null}, nnz=${this.nnz}`;
  }
}

/** Which Linear layers toSparse converts. */
export interface ToSparseOptions {
  /** Paths of the Linear layers to convert. Default: every Linear whose weight sparsity >= minSparsity. */
  layers?: readonly string[];
  /** Smallest weight sparsity (fraction of zeros) worth converting when `layers` is not given (default 0.5: CSR float32 is smaller than dense above it). */
  minSparsity?: number;
  /** Make the sparse values and biases trainable (default false). */
  requiresGrad?: boolean;
}

function parentOf(model: AnyModule, path: string): [AnyModule, string] {
  const i = path.lastIndexOf('.');
  return [model.getSubmodule(i < 0 ? '' : path.slice(0, i)), path.slice(i + 1)];
}

/** Swap modules in (all or nothing). */
function swapAll(model: AnyModule, swaps: readonly (readonly [string, AnyModule])[]): void {
  const done: [AnyModule, string, AnyModule][] = [];
  try {
    for (const [path, m] of swaps) {
      const [parent, name] = parentOf(model, path);
      const old = parent.getSubmodule(name);
      parent.registerModule(name, m);
      done.push([parent, name, old]);
    }
  } catch (e) {
    for (const [parent, name, old] of done.reverse()) parent.registerModule(name, old);
    throw e;
  }
}

function zeroFraction(t: Tensor): number {
  let z = 0;
  for (const v of t.dataSync()) if (v === 0) z++;
  return t.size === 0 ? 0 : z / t.size;
}

/**
 * Replace the pruned Linear layers of `model` by SparseLinear layers with the same outputs, in
 * place (module swapping through the registry; masks are baked in), and return the model.
 * Evaluate under noGrad() to run the sparse kernel.
 * @example
 * prune.pruneWeights(model, 0.9, { global: true });
 * prune.toSparse(model);
 * const y = noGrad(() => model.call(x));
 */
export function toSparse<M extends AnyModule>(model: M, opts: ToSparseOptions = {}): M {
  const op = 'prune.toSparse';
  const min = opts.minSparsity ?? 0.5;
  if (!(min >= 0 && min <= 1)) throw new TensorslimError(op, `minSparsity must be in [0, 1], got ${min}`);
  const root: AnyModule = model;
  const all = root.namedModules();
  let chosen: [string, Linear][];
  if (opts.layers !== undefined) {
    chosen = opts.layers.map((path) => {
      const m = all.find(([n]) => n === path)?.[1];
      if (m === undefined) throw new TensorslimError(op, `no module '${path}'; Linear layers: ${all.filter(([, x]) => x instanceof Linear).map(([n]) => n || '<root>').join(', ') || 'none'}`);
      if (!(m instanceof Linear)) throw new TensorslimError(op, `'${path}' is a ${m.constructor.name}, not a Linear`);
      return [path, m];
    });
  } else {
    chosen = all.filter((e): e is [string, Linear] => e[1] instanceof Linear && zeroFraction(effectiveTensor(e[1], 'weight')!) >= min);
  }
  if (chosen.some(([path]) => path === '')) throw new TensorslimError(op, 'the model itself is a Linear; use SparseLinear.fromLinear(lin) to get its sparse twin');
  swapAll(model, chosen.map(([path, lin]) => [path, SparseLinear.fromLinear(lin, { requiresGrad: opts.requiresGrad ?? false })] as const));
  return model;
}

/** One SparseLinear layer of a model. */
export interface SparseLayerInfo {
  path: string;
  rows: number;
  cols: number;
  nonzeros: number;
  density: number;
  /** Bytes of the CSR arrays, and of the dense float weight it replaces. */
  bytes: number;
  denseBytes: number;
}

/**
 * The SparseLinear layers of a model with their sizes.
 * @example prune.sparseLayers(model).map((l) => l.density)
 */
export function sparseLayers(model: AnyModule): SparseLayerInfo[] {
  return model.namedModules().filter((e): e is [string, SparseLinear] => e[1] instanceof SparseLinear).map(([path, m]) => {
    const w = m.weight.csr();
    const item = w.values.BYTES_PER_ELEMENT;
    return { path, rows: w.rows, cols: w.cols, nonzeros: m.nnz, density: m.nnz / Math.max(1, w.rows * w.cols), bytes: csrBytes(w), denseBytes: w.rows * w.cols * item };
  });
}

/**
 * Nonzero entries of a model's effective floating-point parameters: masks applied for pruned
 * parameters, stored values for CSR weights.
 * @example prune.countNonzeros(model)  // 27,030 for LeNet-300-100 with 90% of each layer's weights pruned (biases count)
 */
export function countNonzeros(model: AnyModule): number {
  let n = 0;
  for (const m of model.modules()) {
    const pruned = prunedParameterNames(m);
    for (const [name, p] of m.namedParameters('', false)) {
      if (!isFloat(p.dtype)) continue;
      const base = name.endsWith('_orig') && pruned.includes(name.slice(0, -5)) ? name.slice(0, -5) : null;
      const t = base === null ? p : effectiveTensor(m, base)!;
      for (const v of t.dataSync()) if (v !== 0) n++;
    }
  }
  return n;
}

const SPARSE_KEYS = ['values', 'crow_indices', 'col_indices', 'size'] as const;

/**
 * Load a state dict that holds CSR weights (saved from a model after toSparse) into a model built
 * densely (e.g. modelFromConfig(ckpt.config)): every Linear whose `<path>.weight.crow_indices`
 * key is present becomes a SparseLinear built from the stored arrays, then all tensors are loaded.
 * All or nothing: on any error the model is left as it was.
 * @example
 * const ckpt = loadCheckpoint('sparse.safetensors');
 * const model = prune.loadSparse(modelFromConfig(ckpt.config!), ckpt.model);
 */
export function loadSparse<M extends AnyModule>(model: M, state: ReadonlyMap<string, Tensor>, opts: { strict?: boolean; requiresGrad?: boolean } = {}): M {
  const op = 'prune.loadSparse';
  const suffix = 'weight.crow_indices';
  const root: AnyModule = model;
  const swaps: [string, AnyModule][] = [];
  for (const key of state.keys()) {
    if (!key.endsWith(suffix) || (key.length > suffix.length && key[key.length - suffix.length - 1] !== '.')) continue;
    const prefix = key.slice(0, key.length - suffix.length);
    const path = prefix.endsWith('.') ? prefix.slice(0, -1) : prefix;
    const get = (k: string): Tensor => {
      const t = state.get(`${prefix}weight.${k}`);
      if (!(t instanceof Tensor)) throw new TensorslimError(op, `'${prefix}weight.crow_indices' is present but '${prefix}weight.${k}' is missing; a CSR weight needs ${SPARSE_KEYS.map((s) => `weight.${s}`).join(', ')}`);
      return t;
    };
    const [values, crow, col, size] = SPARSE_KEYS.map(get) as [Tensor, Tensor, Tensor, Tensor];
    if (path === '') throw new TensorslimError(op, 'the state dict holds a CSR weight for the model itself; build a SparseLinear directly');
    let target: AnyModule;
    try { target = root.getSubmodule(path); } catch { throw new TensorslimError(op, `the state dict has a CSR weight for '${path}' but the model has no module there`); }
    if (!(target instanceof Linear) && !(target instanceof SparseLinear)) throw new TensorslimError(op, `'${path}' is a ${target.constructor.name}; CSR weights load into Linear or SparseLinear layers`);
    for (const [k, t] of [['crow_indices', crow], ['col_indices', col], ['size', size]] as const) {
      if (t.dtype !== 'int32' || t.ndim !== 1) throw new TensorslimError(op, `'${prefix}weight.${k}' must be a 1-D int32 tensor, got ${t.dtype} ${fmtShape(t.shape)}`);
    }
    if (!isFloat(values.dtype) || values.ndim !== 1) throw new TensorslimError(op, `'${prefix}weight.values' must be a 1-D float tensor, got ${values.dtype} ${fmtShape(values.shape)}`);
    const dims = size.dataSync();
    if (size.size !== 2 || dims[0] !== target.outFeatures || dims[1] !== target.inFeatures) {
      throw new TensorslimError(op, `'${prefix}weight.size' is (${Array.from(dims).join(', ')}) but '${path}' is (${target.outFeatures}, ${target.inFeatures})`);
    }
    const w: CsrMatrix = { rows: dims[0]!, cols: dims[1]!, crowIndices: crow.dataSync() as Int32Array, colIndices: col.dataSync() as Int32Array, values: values.dataSync() as FloatArray };
    checkCsr(`${op}('${path}')`, w);
    const hasBias = target.bias !== null;
    const sp = new SparseLinear(w, hasBias ? new Float64Array(w.rows) : null, { requiresGrad: opts.requiresGrad ?? false });
    sp.training = target.training;
    swaps.push([path, sp]);
  }
  const before = swaps.map(([path]) => [path, root.getSubmodule(path)] as const);
  swapAll(model, swaps);
  try {
    root.loadStateDict(state, { strict: opts.strict ?? true });
  } catch (e) {
    swapAll(model, before);
    throw e;
  }
  return model;
}
