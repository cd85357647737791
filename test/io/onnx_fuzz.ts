// The ONNX import fuzzer (issue #16's acceptance: 0 crashes on 2,000 malformed files). Each case
// is a small valid model (an MLP chain, a CNN, a DAG with attention-like MatMuls and shape
// arithmetic, a GPT-like graph with an embedding) broken one way: truncated, bytes flipped, wrong
// data types, a cycle, huge declared shapes, external-data paths that escape the folder (or are
// absolute, or point past the file), bad opsets and domains, undefined or duplicated values, wrong
// attribute types. Each is written to a folder and read with importOnnx(path); when it imports,
// the model runs once on an input of its declared shape. Every case must either work or throw a
// TensorslimError (a message naming the cause); anything else is a crash. Sizes larger than the
// file are refused before allocating (ArrayBuffer growth per case is capped).
//
// The suite runs 200 cases (test/io/onnx_fuzz.test.ts); all 2,000: `npx tsx test/io/onnx_fuzz.ts 2000`.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import onnxProto from 'onnx-proto';
import { noGrad, TensorslimError, type Tensor } from '../../src/index.js';
import * as ops from '../../src/ops/index.js';
import { Conv2d, Flatten, GELU, LayerNorm, Linear, MaxPool2d, ReLU, Sequential } from '../../src/nn/index.js';
import { createModel } from '../../src/models/index.js';
import { importOnnx, serializeOnnx } from '../../src/io/onnx/index.js';
import { attr, floatTensor, int64Tensor, valueInfo, ELEM } from '../../src/io/onnx/proto.js';

const { onnx } = onnxProto;
type Model = onnxProto.onnx.IModelProto;

/** A small deterministic generator (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Valid seed models, small so that each case runs in milliseconds. */
function seeds(): Uint8Array[] {
  const mlp = new Sequential(new Flatten(), new Linear(12, 8), new ReLU(), new LayerNorm([8]), new GELU(), new Linear(8, 3));
  const cnn = new Sequential(new Conv2d(1, 2, 3, { padding: 1 }), new ReLU(), new MaxPool2d(2), new Flatten(), new Linear(2 * 2 * 2, 3));
  const gpt = createModel('gpt-tiny', { nLayer: 1, nEmbd: 16, nHead: 2, blockSize: 8, vocabSize: 11 } as never);
  const node = (op: string, input: string[], output: string, attribute: onnxProto.onnx.IAttributeProto[] = []): onnxProto.onnx.INodeProto => ({ opType: op, input, output: [output], attribute, name: output });
  const dag: Model = {
    irVersion: 8, opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'dag',
      node: [
        node('MatMul', ['x', 'W'], 'h'), node('Add', ['h', 'b'], 'hb'), node('Relu', ['hb'], 'r'), node('Add', ['x', 'r'], 'res'),
        node('Transpose', ['res'], 'resT', [attr('perm', [0, 2, 1])]), node('MatMul', ['res', 'resT'], 'att'), node('Softmax', ['att'], 'p', [attr('axis', -1)]),
        node('MatMul', ['p', 'res'], 'o'), node('Shape', ['o'], 's'), node('Gather', ['s', 'i0'], 'n0', [attr('axis', 0)]),
        node('Unsqueeze', ['n0', 'ax0'], 'n1'), node('Concat', ['n1', 'm1'], 'shape', [attr('axis', 0)]), node('Reshape', ['o', 'shape'], 'flat'),
        node('Split', ['flat', 'sp'], 'y0', [attr('axis', 1)]), node('Slice', ['y0', 'st', 'en', 'ax1'], 'y'),
      ],
      initializer: [floatTensor('W', [4, 4], Array.from({ length: 16 }, (_, i) => (i % 5) / 5)), floatTensor('b', [4], [0.1, -0.2, 0.3, 0]),
        int64Tensor('i0', [], [0]), int64Tensor('ax0', [1], [0]), int64Tensor('m1', [1], [-1]), int64Tensor('sp', [1], [12]),
        int64Tensor('st', [1], [1]), int64Tensor('en', [1], [9]), int64Tensor('ax1', [1], [1])],
      input: [valueInfo('x', ELEM.FLOAT, ['n', 3, 4])], output: [{ name: 'y' }],
    },
  };
  return [
    serializeOnnx(mlp, ops.zeros([1, 3, 4]), { opset: 17 }).bytes,
    serializeOnnx(cnn, ops.zeros([1, 1, 4, 4]), { opset: 11 }).bytes,
    serializeOnnx(gpt, ops.zeros([1, 4], { dtype: 'int32' })).bytes,
    onnx.ModelProto.encode(onnx.ModelProto.create(dag)).finish(),
  ];
}

export const KINDS = ['truncated', 'bytes', 'dtype', 'cycle', 'huge', 'external', 'opset', 'undefined', 'attribute'] as const;
export type Kind = (typeof KINDS)[number];

const EXTREME = [0, -1, 2 ** 31, 2 ** 40, 1e9, 3, 2 ** 53];

/** One malformed model of `kind` from `seed` (written to `dir` as it needs: external data, symlinks). */
function breakModel(kind: Kind, src: Uint8Array, r: () => number, dir: string): Uint8Array {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  if (kind === 'truncated') return src.subarray(0, Math.floor(r() * src.length));
  if (kind === 'bytes') {
    const b = Uint8Array.from(src);
    const n = 1 + Math.floor(r() * 16);
    for (let i = 0; i < n; i++) b[Math.floor(r() * b.length)] = Math.floor(r() * 256);
    return b;
  }
  const m = onnx.ModelProto.decode(src);
  const g = m.graph!;
  const inits = g.initializer ?? [];
  const nodes = g.node ?? [];
  switch (kind) {
    case 'dtype': {
      const t = pick(inits);
      if (r() < 0.6) t.dataType = Math.floor(r() * 24);
      else if (r() < 0.5) { t.rawData = (t.rawData ?? new Uint8Array()).subarray(0, Math.floor(r() * (t.rawData?.length ?? 0))); }
      else { t.floatData = [1, 2, 3]; t.rawData = new Uint8Array(); }
      if (r() < 0.3) { const io = g.input![0]!; io.type = { tensorType: { elemType: Math.floor(r() * 24), shape: io.type?.tensorType?.shape ?? null } }; }
      break;
    }
    case 'cycle': {
      // a node reads an output of itself or of a later node
      const i = Math.floor(r() * nodes.length);
      const j = i + Math.floor(r() * (nodes.length - i));
      const inp = nodes[i]!.input ?? [];
      if (inp.length > 0) inp[Math.floor(r() * inp.length)] = nodes[j]!.output![0]!;
      break;
    }
    case 'huge': {
      const t = pick(inits);
      t.dims = (t.dims ?? [1]).map(() => pick(EXTREME));
      if (t.dims.length === 0 || r() < 0.3) t.dims = [pick(EXTREME), pick(EXTREME)];
      if (r() < 0.3) { const io = g.input![0]!; io.type = { tensorType: { elemType: io.type?.tensorType?.elemType ?? ELEM.FLOAT, shape: { dim: [{ dimValue: pick(EXTREME) }, { dimValue: pick(EXTREME) }] } } }; }
      break;
    }
    case 'external': {
      const t = pick(inits);
      const size = (t.rawData?.length ?? 0) || 4;
      const outside = join(dir, '..', `outside-${Math.floor(r() * 1e9)}.bin`);
      writeFileSync(join(dir, 'w.bin'), new Uint8Array(size));
      const loc = pick(['../escape.bin', '/etc/passwd', 'sub/../../x.bin', 'w.bin', 'missing.bin', 'link.bin', '', 'w.bin\u0000x', '....//w.bin']);
      if (loc === 'link.bin') { writeFileSync(outside, new Uint8Array(size)); try { symlinkSync(outside, join(dir, 'link.bin')); } catch { /* exists */ } }
      t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
      t.rawData = new Uint8Array();
      t.externalData = [{ key: 'location', value: loc }, { key: 'offset', value: String(pick([0, -4, 2 ** 40, 1, 0.5])) }, { key: 'length', value: String(pick([size, size * 2, 0, -1, 2 ** 50])) }];
      break;
    }
    case 'opset': {
      const v = pick([-1, 0, 1, 6, 22, 1e12, 13]);
      m.opsetImport = r() < 0.2 ? [] : [{ domain: pick(['', 'ai.onnx', 'com.microsoft']), version: v }];
      if (r() < 0.3) pick(nodes).domain = pick(['com.microsoft', 'ai.onnx.ml']);
      break;
    }
    case 'undefined': {
      const n = pick(nodes);
      const choice = Math.floor(r() * 4);
      if (choice === 0) (n.input ??= []).push('nowhere');
      else if (choice === 1) n.output = [nodes[0]!.output![0]!];   // defined twice
      else if (choice === 2) n.opType = pick(['Cos', 'Loop', 'If', '', 'Scan', 'NonZero']);
      else g.output = [{ name: 'not_computed' }];
      break;
    }
    case 'attribute': {
      const n = pick(nodes.filter((x) => (x.attribute ?? []).length > 0).concat(nodes));
      const a = (n.attribute ?? [])[0];
      if (a !== undefined) {
        const T = onnx.AttributeProto.AttributeType;
        const v = Math.floor(r() * 5);
        if (v === 0) { a.type = T.FLOAT; a.f = 1.5; a.ints = []; a.i = null; }
        else if (v === 1) { a.type = T.STRING; a.s = new Uint8Array([0xff, 0x00]); a.ints = []; }
        else if (v === 2) { a.ints = [pick(EXTREME), -pick(EXTREME), 7]; }
        else if (v === 3) { a.i = pick(EXTREME); }
        else a.name = 'unknown';
      } else (n.attribute ??= []).push({ name: pick(['axis', 'perm', 'transB', 'kernel_shape']), type: 1, f: 2 });
      break;
    }
  }
  return onnx.ModelProto.encode(m).finish();
}

/** An input for a model of declared dims (symbolic ones 2); null when it would be too large to bother. */
function inputFor(dims: readonly (number | string)[], intIds: boolean): Tensor | null {
  const shape = dims.map((d) => (typeof d === 'number' ? d : 2));
  const n = shape.reduce((a, b) => a * b, 1);
  if (!(n >= 0 && n <= 1 << 16) || shape.some((d) => !Number.isInteger(d) || d < 0)) return null;
  return intIds ? ops.zeros(shape, { dtype: 'int32' }) : ops.randn(shape);
}

/** What a fuzz run found. */
export interface FuzzReport {
  readonly cases: number;
  readonly byKind: Record<string, { imported: number; refused: number }>;
  /** Cases that threw something other than a TensorslimError, or grew memory past the cap. */
  readonly crashes: string[];
  readonly sampleErrors: string[];
}

/** Run `cases` malformed models (kinds in rotation) through importOnnx and one forward pass. */
export function fuzzOnnx(cases: number, seed = 16): FuzzReport {
  const r = rng(seed);
  const base = seeds();
  const root = mkdtempSync(join(tmpdir(), 'tensorslim-onnx-fuzz-'));
  const byKind: Record<string, { imported: number; refused: number }> = {};
  const crashes: string[] = [];
  const sampleErrors: string[] = [];
  const cap = 256 * 1024 * 1024;
  try {
    for (let i = 0; i < cases; i++) {
      const kind = KINDS[i % KINDS.length]!;
      const dir = join(root, `case${i}`, 'model');
      mkdirSync(dir, { recursive: true });
      const k = (byKind[kind] ??= { imported: 0, refused: 0 });
      const before = process.memoryUsage().arrayBuffers;
      try {
        let bytes: Uint8Array;
        try { bytes = breakModel(kind, base[i % base.length]!, r, dir); } catch { bytes = base[i % base.length]!.subarray(0, 7); }   // a mutation the protobuf library itself refuses to encode
        const file = join(dir, 'model.onnx');
        writeFileSync(file, bytes);
        const imp = importOnnx(file);
        imp.model.eval();
        const shapes = imp.inputShape;
        const elem = imp.model instanceof Sequential ? ELEM.FLOAT : imp.model.inputs[0]!.elem;
        const x = inputFor(shapes, elem === ELEM.INT32 || elem === ELEM.INT64);
        if (x !== null) noGrad(() => imp.model.call(x));
        k.imported++;
      } catch (e) {
        if (e instanceof TensorslimError) {
          k.refused++;
          if (sampleErrors.length < 40 && i % 50 < KINDS.length) sampleErrors.push(`${kind}: ${e.message.slice(0, 200)}`);
        } else crashes.push(`case ${i} (${kind}): ${(e as Error)?.name}: ${String((e as Error)?.message ?? e).slice(0, 300)}`);
      }
      const grew = process.memoryUsage().arrayBuffers - before;
      if (grew > cap) crashes.push(`case ${i} (${kind}): ArrayBuffer memory grew by ${grew} bytes`);
      rmSync(join(root, `case${i}`), { recursive: true, force: true });
    }
  } finally { rmSync(root, { recursive: true, force: true }); }
  return { cases, byKind, crashes, sampleErrors };
}

// npx tsx test/io/onnx_fuzz.ts [cases] [seed]: the full run, a JSON summary on stdout, exit 1 on any crash
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const rep = fuzzOnnx(Number(process.argv[2] ?? 2000), Number(process.argv[3] ?? 16));
  console.log(JSON.stringify(rep, null, 2));
  assert.equal(rep.crashes.length, 0, `${rep.crashes.length} crashes`);
}
