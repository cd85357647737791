// PyTorch parity for every op of docs/CONTRACT-ops.md: forward values and gradients.
// The expected numbers come from test/fixtures/ops.json, written by PyTorch 1.13 through
// tools/fixtures/ops_fixtures.py (the outside truth; never paste tensorslim output in here).
// For each case: build the inputs (as non-contiguous views where the fixture says so), run the
// op through a small adapter, compare the output, then backward(out, w) with the stored cotangent w
// (chains: out.mul(w).sum().backward()) and compare d(sum(out * w))/d(input) for every float input.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import * as ts from '../../src/index.js';
import { backward, type DType, type Tensor } from '../../src/index.js';

// ------------------------------------------------------------------ fixture format

interface Stored {
  shape: number[];
  dtype: DType;
  data: number[];
}
interface StoredInput extends Stored {
  grad: boolean;
  /** The op receives transpose(stored, -1, -2): a non-contiguous view. */
  transposeLastTwo?: boolean;
}
type Pair = number | [number, number];
interface Attrs {
  axis?: number | number[];
  keepdim?: boolean;
  scalar?: number;
  min?: number;
  max?: number;
  approximate?: 'none' | 'tanh';
  correction?: number;
  shape?: number[];
  dims?: number[];
  d0?: number;
  d1?: number;
  start?: number;
  end?: number;
  step?: number;
  length?: number;
  startDim?: number;
  groups?: number;
  endDim?: number;
  dtype?: DType;
  numClasses?: number;
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  kernelSize?: Pair;
}
interface Case {
  name: string;
  op: string;
  attrs: Attrs;
  inputs: StoredInput[];
  output: Stored;
  cotangent: Stored | null;
  grads: (Stored | null)[];
}

const fixturePath = new URL('../fixtures/ops.json', import.meta.url);
const fixture = JSON.parse(readFileSync(fixturePath, 'utf8')) as { torch: string; cases: Case[] };

// ------------------------------------------------------------------ adapters: fixture op -> tensorslim call

type Adapter = (x: Tensor[], a: Attrs) => Tensor;

function one(axis: number | number[] | undefined): number | undefined {
  assert.ok(!Array.isArray(axis), 'this op takes a single axis');
  return axis;
}
function need<T>(v: T | undefined, what: string): T {
  assert.ok(v !== undefined, `fixture attr ${what} missing`);
  return v;
}
function geometry(a: Attrs): { stride?: Pair; padding?: Pair; dilation?: Pair; groups?: number } {
  const g: { stride?: Pair; padding?: Pair; dilation?: Pair; groups?: number } = {};
  if (a.stride !== undefined) g.stride = a.stride;
  if (a.padding !== undefined) g.padding = a.padding;
  if (a.dilation !== undefined) g.dilation = a.dilation;
  if (a.groups !== undefined) g.groups = one(a.groups);
  return g;
}
/** Binary op: second operand is either the second input or the Python number attrs.scalar. */
function binary(f: (x: Tensor, y: Tensor | number) => Tensor): Adapter {
  return (x, a) => f(x[0]!, a.scalar !== undefined ? a.scalar : x[1]!);
}
function unary(f: (x: Tensor) => Tensor): Adapter {
  return (x) => f(x[0]!);
}

const ADAPTERS: Record<string, Adapter> = {
  add: binary(ts.add), sub: binary(ts.sub), mul: binary(ts.mul), div: binary(ts.div), pow: binary(ts.pow),
  maximum: binary(ts.maximum), minimum: binary(ts.minimum),
  eq: binary(ts.eq), ne: binary(ts.ne), lt: binary(ts.lt), le: binary(ts.le), gt: binary(ts.gt), ge: binary(ts.ge),
  logicalAnd: (x) => ts.logicalAnd(x[0]!, x[1]!),
  logicalOr: (x) => ts.logicalOr(x[0]!, x[1]!),
  logicalNot: unary(ts.logicalNot),
  neg: unary(ts.neg), exp: unary(ts.exp), log: unary(ts.log), sqrt: unary(ts.sqrt), abs: unary(ts.abs),
  tanh: unary(ts.tanh), sigmoid: unary(ts.sigmoid), relu: unary(ts.relu), erf: unary(ts.erf),
  sign: unary(ts.sign), square: unary(ts.square),
  clamp: (x, a) => ts.clamp(x[0]!, a.min, a.max),
  gelu: (x, a) => (a.approximate === undefined ? ts.gelu(x[0]!) : ts.gelu(x[0]!, { approximate: a.approximate })),
  softmax: (x, a) => ts.softmax(x[0]!, need(one(a.axis), 'axis')),
  logSoftmax: (x, a) => ts.logSoftmax(x[0]!, need(one(a.axis), 'axis')),
  matmul: (x) => ts.matmul(x[0]!, x[1]!),
  where: (x, a) => ts.where(x[0]!, x[1]!, a.scalar !== undefined ? a.scalar : x[2]!),
  sum: (x, a) => ts.sum(x[0]!, a.axis, a.keepdim ?? false),
  mean: (x, a) => ts.mean(x[0]!, a.axis, a.keepdim ?? false),
  max: (x, a) => ts.max(x[0]!, a.axis, a.keepdim ?? false),
  min: (x, a) => ts.min(x[0]!, a.axis, a.keepdim ?? false),
  argmax: (x, a) => ts.argmax(x[0]!, one(a.axis), a.keepdim ?? false),
  argmin: (x, a) => ts.argmin(x[0]!, one(a.axis), a.keepdim ?? false),
  var: (x, a) => {
    const opts: { correction?: number; keepdim?: boolean } = {};
    if (a.correction !== undefined) opts.correction = a.correction;
    if (a.keepdim !== undefined) opts.keepdim = a.keepdim;
    return ts.variance(x[0]!, a.axis, opts);
  },
  logsumexp: (x, a) => ts.logsumexp(x[0]!, need(a.axis, 'axis'), a.keepdim ?? false),
  reshape: (x, a) => ts.reshape(x[0]!, need(a.shape, 'shape')),
  view: (x, a) => ts.view(x[0]!, need(a.shape, 'shape')),
  permute: (x, a) => ts.permute(x[0]!, need(a.dims, 'dims')),
  transpose: (x, a) => ts.transpose(x[0]!, need(a.d0, 'd0'), need(a.d1, 'd1')),
  t: unary(ts.t),
  expand: (x, a) => ts.expand(x[0]!, need(a.shape, 'shape')),
  slice: (x, a) => ts.slice(x[0]!, need(one(a.axis), 'axis'), a.start ?? 0, a.end, a.step ?? 1),
  narrow: (x, a) => ts.narrow(x[0]!, need(one(a.axis), 'axis'), need(a.start, 'start'), need(a.length, 'length')),
  squeeze: (x, a) => (a.axis === undefined ? ts.squeeze(x[0]!) : ts.squeeze(x[0]!, one(a.axis))),
  unsqueeze: (x, a) => ts.unsqueeze(x[0]!, need(one(a.axis), 'axis')),
  flatten: (x, a) => ts.flatten(x[0]!, a.startDim ?? 0, a.endDim ?? -1),
  contiguous: unary(ts.contiguous),
  to: (x, a) => ts.to(x[0]!, need(a.dtype, 'dtype')),
  gather: (x, a) => ts.gather(x[0]!, need(one(a.axis), 'axis'), x[1]!),
  indexSelect: (x, a) => ts.indexSelect(x[0]!, need(one(a.axis), 'axis'), x[1]!),
  cat: (x, a) => (a.axis === undefined ? ts.cat(x) : ts.cat(x, one(a.axis))),
  stack: (x, a) => (a.axis === undefined ? ts.stack(x) : ts.stack(x, one(a.axis))),
  oneHot: (x, a) => ts.oneHot(x[0]!, need(a.numClasses, 'numClasses')),
  conv2d: (x, a) => ts.conv2d(x[0]!, x[1]!, x[2], geometry(a)),
  maxPool2d: (x, a) => ts.maxPool2d(x[0]!, need(a.kernelSize, 'kernelSize'), geometry(a)),
  // composed chains (see the generator for the PyTorch expression)
  chain_mlp_logsoftmax: (x) => ts.logSoftmax(ts.tanh(ts.add(ts.matmul(x[0]!, x[1]!), x[2]!)), -1),
  chain_reuse_input: (x) => ts.div(ts.sum(ts.mul(x[0]!, ts.exp(x[0]!)), 1), ts.mean(ts.pow(x[0]!, 2))),
  chain_expand_then_mul: (x) => ts.mul(ts.expand(x[0]!, [3, 4]), x[1]!),
  // Tensor methods (installed by autograd) rather than functions
  chain_methods: (x) => x[0]!.matmul(x[1]!).add(x[2]!).tanh().pow(2).mean(-1, true).sub(x[0]!.var(1, { keepdim: true })).exp(),
  chain_same_input_twice: (x) => ts.add(ts.matmul(x[0]!, ts.t(x[0]!)), ts.sum(x[0]!)),
};

// ------------------------------------------------------------------ helpers

function typed(s: Stored): Float32Array | Float64Array | Int32Array | Uint8Array {
  switch (s.dtype) {
    case 'float32': return Float32Array.from(s.data);
    case 'float64': return Float64Array.from(s.data);
    case 'int32': return Int32Array.from(s.data);
    case 'bool': case 'uint8': return Uint8Array.from(s.data);
  }
}

function build(s: Stored, requiresGrad = false): Tensor {
  return ts.tensor(typed(s), { dtype: s.dtype, shape: s.shape, requiresGrad });
}

/** Tolerances: |actual - expected| <= atol + rtol * |expected|. */
function tol(dtype: DType, isGrad: boolean): { rtol: number; atol: number } {
  if (dtype === 'float64') return { rtol: 1e-10, atol: 1e-12 };
  if (dtype === 'float32') return isGrad ? { rtol: 1e-4, atol: 1e-5 } : { rtol: 1e-5, atol: 1e-6 };
  return { rtol: 0, atol: 0 };
}

function multiIndex(flat: number, shape: readonly number[]): string {
  const idx: number[] = [];
  for (let d = shape.length - 1; d >= 0; d--) { idx.unshift(flat % shape[d]!); flat = Math.floor(flat / shape[d]!); }
  return `[${idx.join(', ')}]`;
}

function fmtShape(shape: readonly number[]): string { return `(${shape.join(', ')})`; }

/** Compare a tensor with a stored PyTorch tensor; the message names case, index, expected and actual. */
function assertMatches(label: string, actual: Tensor, expected: Stored, isGrad: boolean): void {
  assert.deepEqual([...actual.shape], expected.shape,
    `${label}: shape ${fmtShape(actual.shape)} != expected ${fmtShape(expected.shape)}`);
  assert.equal(actual.dtype, expected.dtype, `${label}: dtype ${actual.dtype} != expected ${expected.dtype}`);
  const got = actual.dataSync();
  const { rtol, atol } = tol(expected.dtype, isGrad);
  const bad: string[] = [];
  let nBad = 0;
  let worst = 0;
  for (let i = 0; i < expected.data.length; i++) {
    const e = expected.data[i]!;
    const g = got[i]!;
    const err = Math.abs(g - e);
    if (!(err <= atol + rtol * Math.abs(e))) {
      nBad++;
      worst = Math.max(worst, Number.isNaN(err) ? Infinity : err);
      if (bad.length < 6) bad.push(`  at ${multiIndex(i, expected.shape)} (flat ${i}): expected ${e}, actual ${g}, |diff| ${err.toExponential(2)}`);
    }
  }
  if (nBad > 0) {
    assert.fail(`${label}: ${nBad}/${expected.data.length} elements differ (rtol ${rtol}, atol ${atol}, max |diff| ${worst.toExponential(2)})\n${bad.join('\n')}`);
  }
}

// ------------------------------------------------------------------ the tests

test(`fixture: generated by PyTorch ${fixture.torch}, every op has an adapter`, () => {
  const missing = [...new Set(fixture.cases.map((c) => c.op))].filter((op) => !(op in ADAPTERS));
  assert.deepEqual(missing, [], `ops without an adapter: ${missing.join(', ')}`);
});

test('fixture: covers every op of the contract (dropout excepted: random)', () => {
  const contract = [
    'add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'neg', 'exp', 'log', 'sqrt', 'abs', 'sign', 'tanh',
    'sigmoid', 'relu', 'erf', 'clamp', 'gelu', 'square', 'where', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'logicalNot',
    'logicalAnd', 'logicalOr', 'softmax', 'logSoftmax', 'matmul', 'sum', 'mean', 'max', 'min', 'argmax', 'argmin',
    'var', 'logsumexp', 'reshape', 'view', 'permute', 'transpose', 't', 'expand', 'slice', 'narrow', 'squeeze',
    'unsqueeze', 'flatten', 'contiguous', 'to', 'gather', 'indexSelect', 'cat', 'stack', 'oneHot', 'conv2d', 'maxPool2d',
  ];
  const have = new Set(fixture.cases.map((c) => c.op));
  assert.deepEqual(contract.filter((op) => !have.has(op)), []);
});

for (const c of fixture.cases) {
  test(`${c.op}: ${c.name}`, () => {
    const adapter = ADAPTERS[c.op];
    assert.ok(adapter, `no adapter for op ${c.op}`);
    const wantGrad = c.cotangent !== null;
    const leaves = c.inputs.map((s) => build(s, wantGrad && s.grad));
    const args = leaves.map((leaf, i) => (c.inputs[i]!.transposeLastTwo ? ts.transpose(leaf, -1, -2) : leaf));
    if (c.inputs.some((s) => s.transposeLastTwo)) {
      // the point of these cases is a strided view; make sure we really built one
      assert.ok(args.some((t, i) => c.inputs[i]!.transposeLastTwo && t.ndim >= 2 && !t.isContiguous()),
        `${c.name}: expected a non-contiguous input view`);
    }
    const out = adapter(args, c.attrs);
    assertMatches(`${c.name} forward`, out, c.output, false);
    if (!c.cotangent) return;
    assert.ok(out.requiresGrad, `${c.name}: output does not require grad although a float input does`);
    // chains go through the method path loss.backward(); single ops through backward(out, w)
    if (c.op.startsWith('chain_')) out.mul(build(c.cotangent)).sum().backward();
    else backward(out, build(c.cotangent));
    c.grads.forEach((g, i) => {
      if (!g) return;
      const leafGrad = leaves[i]!.grad;
      assert.ok(leafGrad, `${c.name}: input ${i} got no gradient`);
      assertMatches(`${c.name} grad of input ${i} ${fmtShape(c.inputs[i]!.shape)}`, leafGrad, g, true);
    });
  });
}
