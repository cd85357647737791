// DDP comm hooks: the 16-bit conversions (known bit patterns), the bf16 / fp16 hooks on 2 ranks equal
// the reference compression math bit for bit on every SIMD path of the native conversions (compress
// on each rank, one rounded 16-bit add, widen), PowerSGD at full rank equals the plain average (on 1
// rank in this process on both backends, on 2 ranks through Gloo), and training with a compressed
// hook still follows (16-bit) or learns like (PowerSGD rank 1) the uncompressed run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromBuffer } from '../../src/core/tensor.js';
import { bf16Compress, bf16ToFloat, floatToBf16, floatToHalf, fp16Compress, halfToFloat, powerSgdHook, resolveCommHook, type ProcessGroup } from '../../src/distributed/index.js';
import { glooSkip, lastJson, runWorkers } from './helpers.js';
import { hookInput, powerSgdBucket, TRAIN_STEPS } from './workers/comm_hooks_common.js';
import { BATCH, buildModel, data, loss, optimizer, params } from './workers/ddp_common.js';

const reference = process.env['TENSORSLIM_BACKEND'] === 'reference';
const noKernel = reference ? 'bit conversions and Gloo plumbing, no kernel: run in the native pass only' : false;

test('bfloat16 and half conversions round to nearest even', { skip: noKernel }, () => {
  assert.equal(floatToBf16(1), 0x3f80);
  assert.equal(floatToBf16(1 / 3), 0x3eab);
  assert.equal(floatToBf16(1 + 2 ** -8), 0x3f80, 'a tie goes to the even mantissa');
  assert.equal(floatToBf16(1 + 3 * 2 ** -8), 0x3f82, 'a tie goes to the even mantissa (up)');
  assert.equal(floatToBf16(-2.5), 0xc020);
  assert.ok(Number.isNaN(bf16ToFloat(floatToBf16(NaN))));
  assert.equal(bf16ToFloat(floatToBf16(Infinity)), Infinity);
  assert.equal(floatToHalf(1), 0x3c00);
  assert.equal(floatToHalf(65504), 0x7bff);
  assert.equal(floatToHalf(65519), 0x7bff);
  assert.equal(floatToHalf(65520), 0x7c00, '65520 rounds to infinity');
  assert.equal(floatToHalf(1 / 3), 0x3555);
  assert.equal(floatToHalf(2 ** -24), 0x0001, 'smallest subnormal');
  assert.equal(floatToHalf(2 ** -25), 0x0000, 'half of it ties to even: zero');
  assert.equal(floatToHalf(3 * 2 ** -25), 0x0002, '1.5 units ties to even: 2');
  assert.equal(floatToHalf(-(2 ** -14)), 0x8400, 'smallest normal');
  assert.equal(floatToHalf(1 + 2 ** -11), 0x3c00, 'a tie goes to the even mantissa');
  for (const h of [0x0001, 0x03ff, 0x0400, 0x3555, 0x7bff, 0xbc00, 0x8001]) assert.equal(floatToHalf(halfToFloat(h)), h, `half 0x${h.toString(16)} round-trips`);
  for (let h = 0; h < 0x7f80; h += 37) assert.equal(floatToBf16(bf16ToFloat(h)), h, `bf16 0x${h.toString(16)} round-trips`);
  assert.throws(() => resolveCommHook('int8' as 'bf16'), /expected 'bf16', 'fp16' or a function/);
});

test('bf16 and fp16 hooks on 2 ranks equal the reference compression math on every SIMD path; PowerSGD at full rank equals the plain average', { skip: noKernel || glooSkip(), timeout: 120_000 }, async () => {
  const res = await runWorkers('comm_hooks', 2, { args: ['exact'], timeoutMs: 100_000 });
  for (const r of res) assert.equal(r.code, 0, `rank ${r.rank} failed:\n${r.stderr}`);
  const [a, b] = [hookInput(0), hookInput(1)];
  // PyTorch's bf16_compress_hook: bf16(x) / world in bf16; ours for fp16: half(x / world). The sum of
  // the two ranks' 16-bit values is one float32 add rounded back to 16 bits.
  const want = {
    bf16: Array.from(a, (_, i) => bf16ToFloat(floatToBf16(Math.fround(bf16ToFloat(bf16Compress(a[i]!, 2)) + bf16ToFloat(bf16Compress(b[i]!, 2)))))),
    fp16: Array.from(a, (_, i) => halfToFloat(floatToHalf(Math.fround(halfToFloat(fp16Compress(a[i]!, 2)) + halfToFloat(fp16Compress(b[i]!, 2)))))),
  };
  const json = (v: number[]): number[] => v.map((x) => (x === 0 ? 0 : x)); // JSON writes -0 as 0
  type Out = { bf16: number[]; fp16: number[]; path: string };
  for (const r of res) {
    const o = lastJson<Record<'best' | 'avx2' | 'generic', Out> & { powerSgd: { steps: number[][]; matrices: number } }>(r);
    // the same workers then ran PowerSGD at full rank: the plain average
    assert.equal(o.powerSgd.matrices, 3);
    o.powerSgd.steps.forEach((got, step) => assertClose(got, bucketMean(step), `PowerSGD, rank ${r.rank}, step ${step}`));
    assert.equal(o.generic.path, 'generic', 'TENSORSLIM_CPU=generic forces the scalar conversions');
    for (const force of ['best', 'avx2', 'generic'] as const) {
      assert.deepEqual(o[force].bf16, json(want.bf16), `rank ${r.rank}: bf16 on the ${o[force].path} path`);
      assert.deepEqual(o[force].fp16, json(want.fp16), `rank ${r.rank}: fp16 on the ${o[force].path} path`);
    }
  }
  // and they are averages: three roundings (cast, divide or not, add) of the terms' size away from the
  // float32 mean (fp16 also flushes what is below its subnormals)
  for (let i = 0; i < a.length; i++) {
    const mean = (a[i]! + b[i]!) / 2;
    const size = (Math.abs(a[i]!) + Math.abs(b[i]!)) / 2;
    assert.ok(Math.abs(want.bf16[i]! - mean) <= 3 * 2 ** -8 * size, `bf16 ${i}: ${want.bf16[i]} vs ${mean}`);
    assert.ok(Math.abs(want.fp16[i]! - mean) <= 3 * 2 ** -11 * size + 2 ** -24, `fp16 ${i}: ${want.fp16[i]} vs ${mean}`);
  }
});

test('training with the bf16 and fp16 hooks follows the uncompressed run; with PowerSGD rank 1 it learns', { skip: noKernel || glooSkip(), timeout: 120_000 }, async () => {
  const model = buildModel(1000);
  const opt = optimizer(model);
  const [x, y] = data();
  const first = loss(model, x, y, 0, BATCH).item();
  for (let s = 0; s < TRAIN_STEPS; s++) { opt.zeroGrad(); loss(model, x, y, 0, BATCH).backward(); opt.step(); }
  const want = params(model);
  const final = loss(model, x, y, 0, BATCH).item();
  assert.ok(final < 0.7 * first, `the reference run learns (${first} -> ${final})`);
  for (const hook of ['bf16', 'fp16']) {
    const res = await runWorkers('comm_hooks', 2, { args: ['train', hook], timeoutMs: 100_000 });
    for (const r of res) assert.equal(r.code, 0, `rank ${r.rank} failed:\n${r.stderr}`);
    const [p0, p1] = res.map((r) => lastJson<{ params: number[][] }>(r).params);
    assert.deepEqual(p0, p1, `${hook}: the replicas stay identical`);
    // 16-bit gradients over 30 momentum steps: parameters within 1e-2 of the float32 run
    let worst = 0;
    p0!.forEach((row, i) => row.forEach((v, j) => { worst = Math.max(worst, Math.abs(v - want[i]![j]!)); }));
    assert.ok(worst < 1e-2, `${hook}: largest parameter difference from the uncompressed run ${worst}`);
  }
  // PowerSGD at rank 1 (both weight matrices compressed from the third step on) still learns
  const res = await runWorkers('comm_hooks', 2, { args: ['train', 'powersgd'], timeoutMs: 100_000 });
  for (const r of res) assert.equal(r.code, 0, `rank ${r.rank} failed:\n${r.stderr}`);
  const [o0, o1] = res.map((r) => lastJson<{ params: number[][]; loss: number }>(r));
  assert.deepEqual(o0!.params, o1!.params, 'powersgd: the replicas stay identical');
  assert.ok(o0!.loss < 0.7 * first, `powersgd rank 1: the loss falls (${first} -> ${o0!.loss}; float32 run: ${final})`);
});

// The plain average of the two ranks' powerSgdBucket at a step.
function bucketMean(step: number): number[] {
  const [a, b] = [powerSgdBucket(0, step).flat, powerSgdBucket(1, step).flat];
  return Array.from(a, (v, i) => (v + b[i]!) / 2);
}
function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i]! - want[i]!) <= 1e-5 * (1 + Math.abs(want[i]!)), `${what}[${i}]: ${got[i]} vs ${want[i]}`);
}

test('PowerSGD at full rank equals the plain average (1 rank, no Gloo)', () => {
  // a group of one rank: all-reduce leaves the buffer as it is
  const group = { worldSize: 1, rank: 0, allReduce: async (t: unknown) => t } as unknown as ProcessGroup;
  const hook = powerSgdHook({ matrixApproximationRank: 6, startPowerSgdIter: 1, minCompressionRate: 0 });
  return (async () => {
    for (const step of [0, 1, 2]) {  // step 0 uncompressed; 1 with a fresh Q; 2 warm-started, with error feedback
      const { flat, tensors } = powerSgdBucket(0, step);
      const want = Array.from(flat);
      const r = await hook(fromBuffer(flat, 'float32', [flat.length]), group, { index: 0, count: 1, tensors });
      assertClose(r.data as Float32Array, want, `step ${step}`);
    }
    assert.equal(hook.stats().matrices, 3, 'the three matrices are compressed, the vector is not');
    assert.equal(hook.stats().compressedElements, (5 * 3 + 3 * 3) + (4 * 4 + 6 * 4) + (3 * 3 + 4 * 3), 'P and Q of each matrix at rank min(n, m)');
    // at rank 1 the result is a rank-1 matrix per gradient, and the error feedback holds the rest
    const low = powerSgdHook({ startPowerSgdIter: 0, minCompressionRate: 0 });
    const { flat, tensors } = powerSgdBucket(0, 0);
    const r = (await low(fromBuffer(flat.slice(), 'float32', [flat.length]), group, { index: 0, count: 1, tensors })).data as Float32Array;
    const [a0, a1, b0] = [r[0]!, r[3]!, r[1]!];  // rows 0 and 1, columns 0 and 1 of the 5 x 3 matrix
    assert.ok(Math.abs(a0 * r[4]! - b0 * a1) < 1e-5, 'a 2 x 2 minor of a rank-1 matrix vanishes');
    assert.ok(Math.abs(r[15]! - flat[15]!) < 1e-6, 'the vector is averaged uncompressed');
    assert.throws(() => powerSgdHook({ matrixApproximationRank: 0 }), /matrixApproximationRank must be an integer >= 1/);
  })();
});


