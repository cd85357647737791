// ONNX import fuzz, a bounded sample in the suite (200 malformed files, every kind: truncated,
// flipped bytes, wrong data types, cycles, huge declared shapes, escaping external data, bad
// opsets/domains, undefined values, wrong attributes): each imports and runs or throws a
// TensorslimError. The full 2,000: `npx tsx test/io/onnx_fuzz.ts 2000` (see test/io/onnx_fuzz.ts).
// No kernel is the subject here (file parsing), so it runs in the native pass only.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fuzzOnnx, KINDS } from './onnx_fuzz.js';

const reference = process.env['TENSORSLIM_BACKEND'] === 'reference';

test('importOnnx: 200 malformed ONNX files, 0 crashes, each refused with a TensorslimError or run', { skip: reference ? 'file-format fuzz, no kernel under test: runs in the native pass only' : false }, () => {
  const rep = fuzzOnnx(Number(process.env['TENSORSLIM_FUZZ_CASES'] ?? 200), 16);
  assert.deepEqual(rep.crashes, []);
  for (const k of KINDS) assert.ok((rep.byKind[k]?.refused ?? 0) > 0, `kind ${k}: no case was refused`);
  // the kinds that cannot be valid are always refused
  for (const k of ['truncated', 'cycle'] as const) assert.equal(rep.byKind[k]!.imported, 0, `a ${k} file imported`);
});
