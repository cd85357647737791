// The safetensors format against outside truths: bytes derived by hand from the spec, files
// written by an independent Python implementation (tools/fixtures/io_safetensors_check.py, with
// numpy/torch), and that same implementation checking the files we write. Every corruption the
// spec rules out is refused with a message that says what is wrong; a fuzzer checks that damaged
// files only ever raise TensorslimError.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import { TensorslimError, Tensor, Generator } from '../../src/index.js';
import * as ops from '../../src/ops/index.js';
import { Linear, ReLU, Sequential } from '../../src/nn/index.js';
import {
  fileBytes, loadSafetensors, parseSafetensors, safetensorsBytes, saveSafetensors, serializeSafetensors, stateDictBytes,
} from '../../src/io/index.js';
import { f32Bytes, FIXTURES, fromCheckerValue, handBuilt, runChecker, tempDir } from './helpers.js';
import { requireOrSkip } from '../helpers/requirements.js';

const enc = (s: string): number[] => Array.from(new TextEncoder().encode(s));
const values = (t: Tensor): number[] => Array.from(t.dataSync());

/** Object.is elementwise (tells -0 from 0 and accepts NaN == NaN). */
function assertSameValues(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i])) assert.fail(`${what}[${i}]: got ${actual[i]}, expected ${expected[i]}`);
  }
}

function refuses(bytes: Uint8Array, pattern: RegExp): void {
  assert.throws(() => parseSafetensors(bytes), (e: unknown) => {
    assert.ok(e instanceof TensorslimError, `expected a TensorslimError, got ${String(e)}`);
    assert.match(e.message, pattern);
    return true;
  });
}

describe('serializeSafetensors: bytes derived from the spec', () => {
  it('one F32 tensor: length prefix, compact JSON header padded with spaces to 8 bytes, little-endian data', () => {
    const bytes = serializeSafetensors({ a: ops.tensor([1, 2]) });
    // Header `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}` is 54 bytes; padded to 56.
    const header = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
    const expected = [56, 0, 0, 0, 0, 0, 0, 0, ...enc(header), 0x20, 0x20,
      0x00, 0x00, 0x80, 0x3f, // 1.0f = 0x3f800000
      0x00, 0x00, 0x00, 0x40]; // 2.0f = 0x40000000
    assert.deepEqual(Array.from(bytes), expected);
  });

  it('metadata first; tensors ordered by element size (stable), so every offset is aligned', () => {
    const bytes = serializeSafetensors(
      { b: ops.tensor(new Uint8Array([1, 2, 3])), c: ops.tensor([0.5], { dtype: 'float64' }), d: ops.tensor([-1]) },
      { format: 'pt' },
    );
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    assert.equal((8 + n) % 8, 0);
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    assert.equal(text.trimEnd(), '{"__metadata__":{"format":"pt"},'
      + '"c":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},'
      + '"d":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},'
      + '"b":{"dtype":"U8","shape":[3],"data_offsets":[12,15]}}');
    // 0.5 as a double is 0x3fe0000000000000; -1.0f is 0xbf800000.
    assert.deepEqual(Array.from(bytes.subarray(8 + n)), [0, 0, 0, 0, 0, 0, 0xe0, 0x3f, 0, 0, 0x80, 0xbf, 1, 2, 3]);
    assert.equal(bytes.length, safetensorsBytes({ b: ops.tensor(new Uint8Array([1, 2, 3])), c: ops.tensor([0.5], { dtype: 'float64' }), d: ops.tensor([-1]) }, { format: 'pt' }));
  });

  it('non-contiguous views are written contiguous, in their logical order', () => {
    const x = ops.tensor([[1, 2, 3], [4, 5, 6]]);
    const parsed = parseSafetensors(serializeSafetensors({ t: ops.transpose(x, 0, 1), row: ops.slice(x, 0, 1, 2), col: ops.slice(x, 1, 1, 2) }));
    assert.deepEqual(values(parsed.tensors.get('t')!), [1, 4, 2, 5, 3, 6]);
    assert.deepEqual(parsed.tensors.get('t')!.shape, [3, 2]);
    assert.deepEqual(values(parsed.tensors.get('row')!), [4, 5, 6]);
    assert.deepEqual(values(parsed.tensors.get('col')!), [2, 5]);
  });

  it('refuses bad input to the writer', () => {
    assert.throws(() => serializeSafetensors({ __metadata__: ops.tensor([1]) }), /reserved/);
    assert.throws(() => serializeSafetensors({ '': ops.tensor([1]) }), /non-empty/);
    assert.throws(() => serializeSafetensors({ a: [1, 2] as unknown as Tensor }), /'a' must be a Tensor/);
    assert.throws(() => serializeSafetensors({}, { n: 3 as unknown as string }), /metadata\['n'\] must be a string/);
  });

  it('an empty file (no tensors) is valid', () => {
    const bytes = serializeSafetensors({});
    assert.deepEqual(Array.from(bytes), [8, 0, 0, 0, 0, 0, 0, 0, ...enc('{}      ')]);
    assert.equal(parseSafetensors(bytes).tensors.size, 0);
  });
});

describe('parseSafetensors: hand-built files', () => {
  it('reads a minimal file, unpadded header, metadata, a scalar and an empty tensor', () => {
    const header = '{"x":{"dtype":"F32","shape":[2,1],"data_offsets":[0,8]},"s":{"dtype":"F32","shape":[],"data_offsets":[8,12]},'
      + '"e":{"dtype":"F64","shape":[0,4],"data_offsets":[12,12]},"__metadata__":{"k":"v"}}';
    const { tensors, metadata, fileDTypes } = parseSafetensors(handBuilt(header, f32Bytes([1.5, -2, 7])));
    assert.deepEqual([...tensors.keys()], ['x', 's', 'e']);
    assert.deepEqual(values(tensors.get('x')!), [1.5, -2]);
    assert.deepEqual(tensors.get('x')!.shape, [2, 1]);
    assert.equal(tensors.get('s')!.item(), 7);
    assert.deepEqual(tensors.get('s')!.shape, []);
    assert.deepEqual(tensors.get('e')!.shape, [0, 4]);
    assert.equal(tensors.get('e')!.dtype, 'float64');
    assert.deepEqual(metadata, { k: 'v' });
    assert.equal(fileDTypes.get('x'), 'F32');
  });

  it('tensors listed out of data order, and header whitespace of any kind', () => {
    const header = ' {"b":{"dtype":"U8","shape":[2],"data_offsets":[4,6]},\n "a":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}}\t';
    // handBuilt takes the header as is; a leading space breaks "starts with {", so strip it.
    const { tensors } = parseSafetensors(handBuilt(header.trimStart(), [0xff, 0xff, 0xff, 0xff, 9, 200]));
    assert.deepEqual(values(tensors.get('a')!), [-1]);
    assert.deepEqual(values(tensors.get('b')!), [9, 200]);
  });

  it('each tensor owns its storage (no shared buffers, so version counters stay separate)', () => {
    const { tensors } = parseSafetensors(serializeSafetensors({ a: ops.tensor([1, 2]), b: ops.tensor([3, 4]) }));
    assert.notEqual(tensors.get('a')!.data.buffer, tensors.get('b')!.data.buffer);
    assert.equal(tensors.get('a')!.data.length, 2);
  });

  it('converts F16, BF16, I64, I8 bit patterns by hand', () => {
    const header = '{"h":{"dtype":"F16","shape":[4],"data_offsets":[0,8]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[8,12]},'
      + '"l":{"dtype":"I64","shape":[2],"data_offsets":[12,28]},"c":{"dtype":"I8","shape":[2],"data_offsets":[28,30]}}';
    const data = [
      0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b, 0x01, 0x00, // F16: 0x3c00 = 1, 0xc000 = -2, 0x7bff = 65504, 0x0001 = 2^-24
      0x49, 0x40, 0x80, 0xff, // BF16: 0x4049 = 3.140625, 0xff80 = -inf
      0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x05, 0, 0, 0, 0, 0, 0, 0, // I64: -2, 5
      0x80, 0x7f, // I8: -128, 127
    ];
    const { tensors } = parseSafetensors(handBuilt(header, data));
    assert.deepEqual(values(tensors.get('h')!), [1, -2, 65504, 2 ** -24]);
    assert.deepEqual(values(tensors.get('b')!), [3.140625, -Infinity]);
    assert.equal(tensors.get('l')!.dtype, 'int32');
    assert.deepEqual(values(tensors.get('l')!), [-2, 5]);
    assert.deepEqual(values(tensors.get('c')!), [-128, 127]);
  });
});

describe('parseSafetensors refuses corrupt files, saying what is wrong', () => {
  const ok = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
  const data8 = f32Bytes([1, 2]);
  const entry = (dtype: string, shape: string, offsets: string): string => `{"dtype":"${dtype}","shape":${shape},"data_offsets":${offsets}}`;

  it('a file shorter than the 8-byte length', () => refuses(new Uint8Array([1, 0, 0]), /3 bytes, fewer than the 8-byte header length/));
  it('a header length beyond the file', () => refuses(handBuilt(ok, data8, 1000n), /header length \(1000 bytes\) goes beyond the end of the file/));
  it('a huge header length (2^64 - 1)', () => refuses(handBuilt(ok, data8, 2n ** 64n - 1n), /goes beyond the end of the file/));
  it('a header that does not start with {', () => refuses(handBuilt(`[${ok}]`, data8), /does not start with '\{'/));
  it('a zero header length', () => refuses(handBuilt('', []), /does not start with '\{'/));
  it('invalid UTF-8', () => {
    const bytes = handBuilt('{"a\u00ff":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}');
    bytes[12] = 0xff; bytes[13] = 0xfe; // inside the name: not UTF-8
    refuses(bytes, /not valid UTF-8/);
  });
  it('invalid JSON', () => refuses(handBuilt('{"a":{"dtype":"F32",}}', []), /not valid JSON/));
  it('an unknown dtype', () => refuses(handBuilt(`{"a":${entry('F33', '[2]', '[0,8]')}}`, data8), /tensor 'a': unknown dtype 'F33'/));
  it('a spec dtype we cannot hold', () => refuses(handBuilt(`{"a":${entry('F8_E4M3', '[8]', '[0,8]')}}`, data8), /F8_E4M3 is not supported/));
  it('a missing dtype', () => refuses(handBuilt('{"a":{"shape":[2],"data_offsets":[0,8]}}', data8), /dtype is missing/));
  it('an unknown field in an entry', () => refuses(handBuilt(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}}`, data8), /unknown field\(s\) x/));
  it('an entry that is not an object', () => refuses(handBuilt('{"a":[1,2]}', []), /the entry must be an object/));
  it('a negative or fractional shape', () => {
    refuses(handBuilt(`{"a":${entry('F32', '[-2]', '[0,8]')}}`, data8), /shape must be an array of non-negative integers, got \[-2\]/);
    refuses(handBuilt(`{"a":${entry('F32', '[1.5]', '[0,8]')}}`, data8), /shape must be an array of non-negative integers/);
    refuses(handBuilt(`{"a":${entry('F32', '"2"', '[0,8]')}}`, data8), /shape must be an array/);
  });
  it('malformed data_offsets', () => {
    refuses(handBuilt(`{"a":${entry('F32', '[2]', '[0]')}}`, data8), /data_offsets must be \[begin, end\]/);
    refuses(handBuilt(`{"a":${entry('F32', '[2]', '[-8,0]')}}`, data8), /data_offsets must be \[begin, end\]/);
    refuses(handBuilt(`{"a":${entry('F32', '[0]', '[8,0]')}}`, data8), /end before they begin/);
  });
  it('offsets beyond the data buffer', () => refuses(handBuilt(`{"a":${entry('F32', '[4]', '[0,16]')}}`, data8), /data_offsets \[0, 16\] go beyond the data buffer \(8 bytes\)/));
  it('a byte count that does not match the shape', () => refuses(handBuilt(`{"a":${entry('F32', '[3]', '[0,8]')}}`, data8), /shape \(3,\) of F32 needs 12 bytes, but data_offsets \[0, 8\] hold 8/));
  it('a shape whose size overflows', () => refuses(handBuilt(`{"a":${entry('F64', '[4294967296,4294967296]', '[0,8]')}}`, data8), /needs .* bytes, but data_offsets \[0, 8\] hold 8/));
  it('overlapping tensors', () => {
    refuses(handBuilt(`{"a":${entry('F32', '[2]', '[0,8]')},"b":${entry('F32', '[1]', '[4,8]')}}`, data8), /tensor 'b' .* overlaps tensor 'a'/);
    // The same bytes twice.
    refuses(handBuilt(`{"a":${entry('F32', '[2]', '[0,8]')},"b":${entry('F32', '[2]', '[0,8]')}}`, data8), /overlaps/);
  });
  it('a gap between tensors', () => refuses(handBuilt(`{"a":${entry('F32', '[1]', '[0,4]')},"b":${entry('U8', '[2]', '[6,8]')}}`, data8), /bytes \[4, 6\) of the data buffer belong to no tensor/));
  it('a gap at the start', () => refuses(handBuilt(`{"a":${entry('F32', '[1]', '[4,8]')}}`, data8), /bytes \[0, 4\) .* belong to no tensor/));
  it('trailing bytes that no tensor covers', () => refuses(handBuilt(`{"a":${entry('F32', '[1]', '[0,4]')}}`, data8), /cover 4 bytes but the data buffer has 8: 4 trailing bytes/));
  it('duplicate tensor names (JSON.parse would silently keep the last)', () => {
    refuses(handBuilt(`{"a":${entry('F32', '[1]', '[0,4]')},"a":${entry('F32', '[1]', '[4,8]')}}`, data8), /tensor 'a' appears twice/);
    // Same name spelled with an escape.
    refuses(handBuilt(`{"a":${entry('F32', '[1]', '[0,4]')},"\\u0061":${entry('F32', '[1]', '[4,8]')}}`, data8), /tensor 'a' appears twice/);
  });
  it('a duplicate key inside an entry', () => refuses(handBuilt('{"a":{"dtype":"F32","dtype":"F64","shape":[2],"data_offsets":[0,8]}}', data8), /key 'dtype' appears twice in the header entry 'a'/));
  it('metadata that is not string -> string', () => {
    refuses(handBuilt('{"__metadata__":{"n":3}}', []), /__metadata__\['n'\] must be a string/);
    refuses(handBuilt('{"__metadata__":"x"}', []), /__metadata__ must be an object/);
    assert.deepEqual(parseSafetensors(handBuilt('{"__metadata__":null}', [])).metadata, {});
  });
  it('I64/U64/U32 values outside int32, BOOL bytes other than 0/1', () => {
    const big = [0, 0, 0, 0x80, 0, 0, 0, 0]; // 2^31
    refuses(handBuilt(`{"a":${entry('I64', '[1]', '[0,8]')}}`, big), /I64 value 2147483648 at index 0 does not fit in int32/);
    refuses(handBuilt(`{"a":${entry('I64', '[1]', '[0,8]')}}`, [0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff]), /I64 value -2147483649/);
    refuses(handBuilt(`{"a":${entry('U64', '[1]', '[0,8]')}}`, [0, 0, 0, 0, 1, 0, 0, 0]), /U64 value 4294967296/);
    refuses(handBuilt(`{"a":${entry('U32', '[1]', '[0,4]')}}`, [0, 0, 0, 0x80]), /U32 value 2147483648/);
    refuses(handBuilt(`{"a":${entry('BOOL', '[2]', '[0,2]')}}`, [1, 2]), /BOOL byte 2 at index 1 is neither 0 nor 1/);
  });
  it('non-bytes input', () => assert.throws(() => parseSafetensors('abc' as unknown as Uint8Array), /expected the file's bytes/));
});

describe('interop with an independent implementation (tools/fixtures/io_safetensors_check.py)', () => {
  it('reads the fixture written by Python/numpy/torch: every dtype, exact values, unaligned offsets, unicode', () => {
    const expected = JSON.parse(readFileSync(join(FIXTURES, 'io_dtypes.json'), 'utf8')) as {
      metadata: Record<string, string>;
      order: string[];
      tensors: Record<string, { dtype: string; shape: number[]; values: Array<number | string | boolean> }>;
    };
    const { tensors, metadata, fileDTypes } = loadSafetensors(join(FIXTURES, 'io_dtypes.safetensors'));
    assert.deepEqual(metadata, expected.metadata);
    assert.deepEqual([...tensors.keys()], expected.order);
    const ourDType: Record<string, string> = { F32: 'float32', F16: 'float32', BF16: 'float32', F64: 'float64', U8: 'uint8', BOOL: 'bool' };
    for (const [name, e] of Object.entries(expected.tensors)) {
      const t = tensors.get(name)!;
      assert.ok(t, name);
      assert.equal(fileDTypes.get(name), e.dtype, name);
      assert.equal(t.dtype, ourDType[e.dtype] ?? 'int32', name);
      assert.deepEqual(t.shape, e.shape, name);
      assertSameValues(values(t), e.values.map(fromCheckerValue), name);
    }
  });

  it("loads torch.nn weights saved from PyTorch and reproduces torch's output", () => {
    const { tensors, metadata } = loadSafetensors(join(FIXTURES, 'io_torch_mlp.safetensors'));
    const net = new Sequential(new Linear(4, 5), new ReLU(), new Linear(5, 3));
    net.loadStateDict(tensors);
    const input = JSON.parse(metadata['input']!) as { shape: number[]; data: number[] };
    const output = JSON.parse(metadata['output']!) as { shape: number[]; data: number[] };
    const y = net.call(ops.tensor(new Float32Array(input.data), { shape: input.shape }));
    assert.deepEqual(y.shape, output.shape);
    values(y).forEach((v, i) => assert.ok(Math.abs(v - output.data[i]!) <= 1e-6, `output[${i}]: ${v} vs torch ${output.data[i]}`));
  });

  it('the Python checker accepts the files we write and reads the values we put in', { skip: requireOrSkip('numpy') }, () => {
    const { dir, cleanup } = tempDir();
    try {
      const w = new Float32Array([0.1, -0, 3.4e38, 1e-45, NaN, -Infinity]);
      const base = ops.tensor(new Float32Array([1, 2, 3, 4, 5, 6]), { shape: [2, 3] });
      const src: Array<[string, Tensor, number[]]> = [
        ['weight', ops.tensor(w, { shape: [2, 3] }), Array.from(w)],
        ['weight.T', ops.transpose(base, 0, 1), [1, 4, 2, 5, 3, 6]],
        ['f64', ops.tensor(new Float64Array([0.1, 5e-324, -1e300])), [0.1, 5e-324, -1e300]],
        ['i32', ops.tensor(new Int32Array([-2147483648, 7])), [-2147483648, 7]],
        ['u8', ops.tensor(new Uint8Array([0, 255])), [0, 255]],
        ['mask', ops.tensor([true, false, true]), [1, 0, 1]],
        ['scalar', ops.tensor(2.5), [2.5]],
        ['empty', ops.zeros([0, 2]), []],
        ['ü.name', ops.tensor([-3]), [-3]],
      ];
      const metadata = { format: 'pt', 'ключ': 'значение ✓' };
      const path = join(dir, 'ours.safetensors');
      saveSafetensors(path, new Map(src.map(([n, t]) => [n, t])), metadata);
      const out = runChecker<{ metadata: Record<string, string>; tensors: Record<string, { dtype: string; shape: number[]; values: Array<number | string | boolean> }> }>(['check', path]);
      assert.deepEqual(out.metadata, metadata);
      const fileDType: Record<string, string> = { float32: 'F32', float64: 'F64', int32: 'I32', uint8: 'U8', bool: 'BOOL' };
      assert.deepEqual(Object.keys(out.tensors).sort(), src.map(([n]) => n).sort());
      for (const [name, t, expected] of src) {
        const got = out.tensors[name]!;
        assert.equal(got.dtype, fileDType[t.dtype], name);
        assert.deepEqual(got.shape, [...t.shape], name);
        assertSameValues(got.values.map(fromCheckerValue), expected, name);
      }
    } finally {
      cleanup();
    }
  });
});

describe('files: atomic save, load, sizes', () => {
  it('save/load round trip; fileBytes = safetensorsBytes; no temporary file left', () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, 'm.safetensors');
      const net = new Sequential(new Linear(3, 4), new ReLU(), new Linear(4, 2));
      const written = saveSafetensors(path, net.stateDict(), { format: 'pt' });
      assert.equal(fileBytes(path), written);
      assert.equal(written, safetensorsBytes(net.stateDict(), { format: 'pt' }));
      // (3*4 + 4 + 4*2 + 2) float32 values.
      assert.equal(stateDictBytes(net), (12 + 4 + 8 + 2) * 4);
      assert.equal(stateDictBytes(net.stateDict()), 104);
      const { tensors } = loadSafetensors(path);
      for (const [k, t] of net.stateDict()) assertSameValues(values(tensors.get(k)!), values(t), k);
      // Overwrite in place.
      saveSafetensors(path, { only: ops.tensor([1]) });
      assert.deepEqual([...loadSafetensors(path).tensors.keys()], ['only']);
      assert.deepEqual(readdirSync(dir), ['m.safetensors']);
    } finally {
      cleanup();
    }
  });

  it('a failed write leaves the previous file and no temporary file', () => {
    const { dir, cleanup } = tempDir();
    try {
      assert.throws(() => saveSafetensors(join(dir, 'missing', 'x.safetensors'), { a: ops.tensor([1]) }), /cannot write .*no such file or directory.*create the directory first/);
      // Target is a directory: the rename fails; the temp file is removed.
      assert.throws(() => saveSafetensors(dir, { a: ops.tensor([1]) }), /cannot write/);
      assert.deepEqual(readdirSync(dir), []);
      // Bad input is refused before anything touches the disk.
      const path = join(dir, 'keep.safetensors');
      saveSafetensors(path, { a: ops.tensor([1]) });
      const before = readFileSync(path);
      assert.throws(() => saveSafetensors(path, { a: 'x' as unknown as Tensor }), /must be a Tensor/);
      assert.deepEqual(readFileSync(path), before);
      assert.deepEqual(readdirSync(dir), ['keep.safetensors']);
    } finally {
      cleanup();
    }
  });

  it('errors name the path', () => {
    const { dir, cleanup } = tempDir();
    try {
      assert.throws(() => loadSafetensors(join(dir, 'nope.safetensors')), /loadSafetensors: cannot read '.*nope.safetensors' \(no such file or directory\)/);
      const bad = join(dir, 'bad.safetensors');
      writeFileSync(bad, new Uint8Array([200, 0, 0, 0, 0, 0, 0, 0, 0x7b]));
      assert.throws(() => loadSafetensors(bad), /loadSafetensors\('.*bad.safetensors'\): the header length \(200 bytes\) goes beyond/);
      assert.throws(() => fileBytes(join(dir, 'nope')), /fileBytes: cannot stat/);
      assert.throws(() => fileBytes(dir), /not a regular file/);
    } finally {
      cleanup();
    }
  });
});

describe('fuzz: damaged files raise TensorslimError and nothing else', () => {
  it('random byte flips, truncations, length rewrites and splices of a valid file', () => {
    const g = new Generator(1234);
    const good = serializeSafetensors({
      w: ops.tensor(new Float32Array([1, 2, 3, 4, 5, 6]), { shape: [2, 3] }),
      d: ops.tensor(new Float64Array([0.5, -0.5])),
      i: ops.tensor(new Int32Array([7])),
      m: ops.tensor([true, false]),
    }, { format: 'pt', note: 'fuzz' });
    const n = Number(new DataView(good.buffer).getBigUint64(0, true));
    let accepted = 0;
    for (let iter = 0; iter < 3000; iter++) {
      let bytes = good.slice();
      const kind = iter % 5;
      if (kind === 0) { // flip bytes in the header (JSON text)
        for (let k = 0, m = 1 + g.randint(0, 4); k < m; k++) bytes[8 + g.randint(0, n)] = g.randint(0, 256);
      } else if (kind === 1) { // replace a header character by one that matters to JSON / numbers
        const chars = '{}[],:"0123456789-.eE \\';
        bytes[8 + g.randint(0, n)] = chars.charCodeAt(g.randint(0, chars.length));
      } else if (kind === 2) { // truncate
        bytes = bytes.slice(0, g.randint(0, bytes.length));
      } else if (kind === 3) { // rewrite the length prefix
        const v = [0n, 1n, BigInt(n) - 1n, BigInt(n) + 1n, BigInt(g.nextUint32()), 2n ** 63n][g.randint(0, 6)]!;
        new DataView(bytes.buffer).setBigUint64(0, v, true);
      } else { // splice random bytes anywhere (data flips must still parse: they are just values)
        const at = g.randint(0, bytes.length);
        const junk = Array.from({ length: g.randint(1, 16) }, () => g.randint(0, 256));
        const out = new Uint8Array(bytes.length + junk.length);
        out.set(bytes.subarray(0, at)); out.set(junk, at); out.set(bytes.subarray(at), at + junk.length);
        bytes = out;
      }
      try {
        const parsed = parseSafetensors(bytes);
        accepted++;
        for (const t of parsed.tensors.values()) assert.equal(t.data.length * t.data.BYTES_PER_ELEMENT >= 0, true);
      } catch (e) {
        if (!(e instanceof TensorslimError)) assert.fail(`iteration ${iter} (kind ${kind}) threw ${String(e)}`);
      }
    }
    assert.ok(accepted < 3000);
  });
});
