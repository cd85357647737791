// Unit tests for ops/conv.ts: conv2d (cross-correlation, like torch) and maxPool2d, on tiny inputs
// worked out by hand.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { conv2d, grad, maxPool2d, mul, reshape, sum, tensor } from '../../src/index.js';
import { vals } from '../core/helpers.js';

// x = [[1, 2, 3], [4, 5, 6], [7, 8, 9]] as (1, 1, 3, 3); w = [[1, 2], [3, 4]] as (1, 1, 2, 2)
const x33 = (): ReturnType<typeof tensor> => tensor([[[[1, 2, 3], [4, 5, 6], [7, 8, 9]]]]);
const w22 = (): ReturnType<typeof tensor> => tensor([[[[1, 2], [3, 4]]]]);

test('conv2d, no padding: y[i][j] = sum_ab x[i+a][j+b] w[a][b]', () => {
  // y00 = 1*1 + 2*2 + 4*3 + 5*4 = 37; y01 = 2 + 6 + 15 + 24 = 47
  // y10 = 4 + 10 + 21 + 32 = 67;      y11 = 5 + 12 + 24 + 36 = 77
  const y = conv2d(x33(), w22());
  assert.deepEqual(y.shape, [1, 1, 2, 2]);
  assert.deepEqual(vals(y), [37, 47, 67, 77]);
  // with bias 1
  assert.deepEqual(vals(conv2d(x33(), w22(), tensor([1]))), [38, 48, 68, 78]);
});

test('conv2d with padding 1 and stride 2', () => {
  // padded input is 5x5 with x at rows/cols 1..3; output floor((3 + 2 - 2) / 2) + 1 = 2 per side.
  // (0,0): window rows 0-1, cols 0-1 holds only x00 at w11: 1*4 = 4
  // (0,1): rows 0-1, cols 2-3 holds x01 at w10, x02 at w11: 2*3 + 3*4 = 18
  // (1,0): rows 2-3, cols 0-1 holds x10 at w01, x20 at w11: 4*2 + 7*4 = 36
  // (1,1): rows 2-3, cols 2-3 holds x11, x12, x21, x22: 5*1 + 6*2 + 8*3 + 9*4 = 77
  const y = conv2d(x33(), w22(), null, { padding: 1, stride: 2 });
  assert.deepEqual(y.shape, [1, 1, 2, 2]);
  assert.deepEqual(vals(y), [4, 18, 36, 77]);
});

test('conv2d with dilation 2', () => {
  // the 2x2 kernel spans the corners of the 3x3 input: 1*1 + 3*2 + 7*3 + 9*4 = 64
  const y = conv2d(x33(), w22(), undefined, { dilation: 2 });
  assert.deepEqual(y.shape, [1, 1, 1, 1]);
  assert.equal(y.item(), 64);
});

test('conv2d with several input/output channels and a batch', () => {
  // x (2, 2, 2, 2): sample 0 channels c0 = [[1, 2], [3, 4]], c1 = [[5, 6], [7, 8]]; sample 1 = 2 * sample 0
  // w (2, 2, 1, 1): out 0 = c0 + c1, out 1 = c0 - c1; bias (10, 20)
  const s0 = [[[1, 2], [3, 4]], [[5, 6], [7, 8]]];
  const x = tensor([s0, s0.map((c) => c.map((r) => r.map((v) => 2 * v)))]);
  const w = reshape(tensor([1, 1, 1, -1]), [2, 2, 1, 1]);
  const y = conv2d(x, w, tensor([10, 20]));
  assert.deepEqual(y.shape, [2, 2, 2, 2]);
  // sample 0: out 0 = [[6, 8], [10, 12]] + 10; out 1 = [[-4, -4], [-4, -4]] + 20; sample 1 doubles before bias
  assert.deepEqual(y.toArray(), [
    [[[16, 18], [20, 22]], [[16, 16], [16, 16]]],
    [[[22, 26], [30, 34]], [[12, 12], [12, 12]]],
  ]);
});

test('conv2d with a 3x3 kernel and padding 1 keeps the size', () => {
  // an all-ones 3x3 kernel sums each padded neighbourhood of the 3x3 input
  // corners: 1+2+4+5 = 12, 2+3+5+6 = 16, 4+5+7+8 = 24, 5+6+8+9 = 28
  // edges: 1+2+3+4+5+6 = 21, 1+2+4+5+7+8 = 27, 2+3+5+6+8+9 = 33, 4+5+6+7+8+9 = 39; centre 45
  const y = conv2d(x33(), tensor([[[[1, 1, 1], [1, 1, 1], [1, 1, 1]]]]), null, { padding: 1 });
  assert.deepEqual(y.shape, [1, 1, 3, 3]);
  assert.deepEqual(vals(y), [12, 21, 16, 27, 45, 33, 24, 39, 28]);
});

test('maxPool2d 2x2, stride defaults to the kernel', () => {
  // x = 1..16 as 4x4: window maxima are the bottom-right entries 6, 8, 14, 16
  const x = reshape(tensor(Array.from({ length: 16 }, (_, i) => i + 1)), [1, 1, 4, 4]);
  const y = maxPool2d(x, 2);
  assert.deepEqual(y.shape, [1, 1, 2, 2]);
  assert.deepEqual(vals(y), [6, 8, 14, 16]);
  assert.deepEqual(vals(x.maxPool2d(2)), [6, 8, 14, 16]);
});

test('maxPool2d padding reads -inf, not 0', () => {
  // x = -(1..9) as 3x3, kernel 2, stride 2, padding 1 -> 2x2 output; padded windows:
  // (0,0): {x00} = -1; (0,1): {x01, x02} = -2; (1,0): {x10, x20} = -4; (1,1): {x11, x12, x21, x22} = -5
  const x = mul(x33(), -1);
  const y = maxPool2d(x, 2, { stride: 2, padding: 1 });
  assert.deepEqual(y.shape, [1, 1, 2, 2]);
  assert.deepEqual(vals(y), [-1, -2, -4, -5]);
});

test('maxPool2d 3x3, stride 1, padding 1: maxima of 3x3 neighbourhoods', () => {
  // the maximum of each neighbourhood of 1..9 is its bottom-right-most member
  const y = maxPool2d(x33(), 3, { stride: 1, padding: 1 });
  assert.deepEqual(y.toArray(), [[[[5, 6, 6], [8, 9, 9], [8, 9, 9]]]]);
});

test('maxPool2d with rectangular kernel and two channels', () => {
  // kernel (1, 2): pairs along the width. channel 0 = [[1, 5, 2, 0]], channel 1 = [[-1, -3, 4, 4]]
  const x = tensor([[[[1, 5, 2, 0]], [[-1, -3, 4, 4]]]]);
  const y = maxPool2d(x, [1, 2]);
  assert.deepEqual(y.shape, [1, 2, 1, 2]);
  assert.deepEqual(vals(y), [5, 2, -1, 4]);
});

test('maxPool2d gradient: each window sends dy to its first maximum (torch rule), overlaps add up', () => {
  // ties: all ones in one 2x2 window -> the whole gradient to the first element
  const ones = tensor([[[[1, 1], [1, 1]]]], { requiresGrad: true });
  sum(mul(maxPool2d(ones, 2), 3)).backward();
  assert.deepEqual(vals(ones.grad!), [3, 0, 0, 0]);
  // 3x3 neighbourhoods of 1..9 (stride 1, padding 1): maxima [[5,6,6],[8,9,9],[8,9,9]] ->
  // element 5 picked once, 6 twice, 8 twice, 9 four times
  const x = tensor([[[[1, 2, 3], [4, 5, 6], [7, 8, 9]]]], { requiresGrad: true });
  sum(maxPool2d(x, 3, { stride: 1, padding: 1 })).backward();
  assert.deepEqual(vals(x.grad!), [0, 0, 0, 0, 1, 2, 0, 2, 4]);
});

test('maxPool2d gradient recorded (createGraph) equals the one-kernel gradient and is differentiable', () => {
  const x = tensor([[[[3, 1, 4, 1], [5, 9, 2, 6], [5, 3, 5, 8], [9, 7, 9, 3]]]], { requiresGrad: true });
  const dy = tensor([[[[1, 2], [3, 4]]]], { requiresGrad: true });
  const y = maxPool2d(x, 2);
  assert.deepEqual(vals(y), [9, 6, 9, 9]);
  const [plain] = grad([y], [x], { gradOutputs: [dy], retainGraph: true });
  const [recorded] = grad([maxPool2d(x, 2)], [x], { gradOutputs: [dy], createGraph: true });
  // 9 at (1,1) <- dy 1; 6 at (1,3) <- 2; the first 9 of the lower-left window, (3,0) <- 3; (3,2) <- 4
  const want = [0, 0, 0, 0, 0, 1, 0, 2, 0, 0, 0, 0, 3, 0, 4, 0];
  assert.deepEqual(vals(plain!), want);
  assert.deepEqual(vals(recorded!), want);
  // the recorded gradient is linear in dy: d sum(dx * w) / d dy = w at each window's argmax
  const w = tensor(Array.from({ length: 16 }, (_, i) => i + 1));
  const [ddy] = grad([sum(mul(reshape(recorded!, [16]), w))], [dy]);
  assert.deepEqual(vals(ddy!), [6, 8, 13, 15]);
});

test('maxPool2d propagates NaN like torch', () => {
  const y = maxPool2d(tensor([[[[1, NaN], [3, 2]]]]), 2);
  assert.ok(Number.isNaN(vals(y)[0]));
});

test('maxPool2d: a window wholly in the padding gives -inf and no gradient, recorded or not', () => {
  // height 1, kernel 2 with dilation 2 and padding 1 reads rows -1 and 1: neither exists
  const x = tensor([[[[1, 5, 2, 4]]]], { requiresGrad: true });
  const y = maxPool2d(x, [2, 2], { padding: [1, 0], dilation: [2, 1], stride: [1, 2] });
  assert.deepEqual(vals(y), [-Infinity, -Infinity]);
  const [plain] = grad([y], [x], { gradOutputs: [tensor([[[[1, 1]]]])], retainGraph: true });
  const [recorded] = grad([y], [x], { gradOutputs: [tensor([[[[1, 1]]]])], createGraph: true });
  assert.deepEqual(vals(plain!), [0, 0, 0, 0]);
  assert.deepEqual(vals(recorded!), [0, 0, 0, 0]);
});
