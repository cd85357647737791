// Bad input: every error is a TensorslimError that names the op and the shapes (or dtypes) at fault,
// and a failing op leaves its inputs exactly as they were (STYLE rules 6 and 8).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  add, argmax, assign, cat, conv2d, DTypeError, expand, gather, indexSelect, matmul, maxPool2d, mean, mul, narrow,
  noGrad, oneHot, permute, reshape, ShapeError, slice, softmax, stack, sum, tensor, TensorslimError, transpose,
  view, where, zeros, type Tensor,
} from '../../src/index.js';
import { snapshot } from '../core/helpers.js';

const i32 = (d: number[] | number[][]): Tensor => tensor(d, { dtype: 'int32' });

/** fn throws a TensorslimError (of `cls` when given) whose message matches `re`. */
function throwsNamed(fn: () => unknown, re: RegExp, cls: new (...a: never[]) => Error = TensorslimError): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e)}`);
    assert.match((e as Error).message, re);
    return true;
  });
}

describe('shape errors name the op and the shapes', () => {
  test('add / mul: shapes that do not broadcast', () => {
    throwsNamed(() => add(zeros([2, 3]), zeros([4])), /^add: shapes \(2, 3\) and \(4,\) cannot be broadcast together/, ShapeError);
    throwsNamed(() => mul(zeros([3, 1, 4]), zeros([2, 3])), /^mul: shapes \(3, 1, 4\) and \(2, 3\) cannot be broadcast together/, ShapeError);
    throwsNamed(() => zeros([2]).sub(zeros([3])), /^sub: shapes \(2,\) and \(3,\)/, ShapeError);
  });

  test('matmul: inner dimensions, batch shapes, 0-d operands', () => {
    throwsNamed(() => matmul(zeros([2, 3]), zeros([4, 5])), /^matmul: inner dimensions differ: \(2, 3\) @ \(4, 5\)/, ShapeError);
    throwsNamed(() => matmul(zeros([3]), zeros([4])), /^matmul: inner dimensions differ: \(3,\) @ \(4,\)/, ShapeError);
    throwsNamed(() => matmul(zeros([2, 2, 3]), zeros([3, 3, 4])), /^matmul: shapes \(2,\) and \(3,\) cannot be broadcast/, ShapeError);
    throwsNamed(() => matmul(zeros([]), zeros([2])), /^matmul: both operands need at least one dimension, got \(\) @ \(2,\)/, ShapeError);
  });

  test('axis out of range in sum / mean / softmax / transpose / argmax / cat', () => {
    const x = zeros([2, 3]);
    throwsNamed(() => sum(x, 2), /^sum: axis 2 is out of range for a tensor of rank 2 \(valid: -2\.\.1\)/, ShapeError);
    throwsNamed(() => sum(x, -3), /^sum: axis -3 is out of range for a tensor of rank 2/, ShapeError);
    throwsNamed(() => sum(x, [0, 0]), /^sum: repeated axis in \[0, 0\]/, ShapeError);
    throwsNamed(() => mean(x, 5), /^mean: axis 5 is out of range/, ShapeError);
    throwsNamed(() => softmax(x, 2), /^softmax: axis 2 is out of range for a tensor of rank 2/, ShapeError);
    throwsNamed(() => transpose(x, 0, 3), /^transpose: axis 3 is out of range for a tensor of rank 2/, ShapeError);
    throwsNamed(() => argmax(x, -3), /^argmax: axis -3 is out of range/, ShapeError);
    throwsNamed(() => cat([x, x], 2), /^cat: axis 2 is out of range/, ShapeError);
  });

  test('gather: out-of-range index names the op and the index', () => {
    const x = tensor([[1, 2, 3], [4, 5, 6]]);
    assert.throws(() => gather(x, 1, i32([[0], [3]])), /gather: index 3 is out of range for axis 1 of size 3/);
    assert.throws(() => gather(x, 1, i32([[-1], [0]])), /gather: index -1 is out of range/);
  });

  test('gather: out-of-range index is a TensorslimError naming the input shape', () => {
    const x = tensor([[1, 2, 3], [4, 5, 6]]);
    throwsNamed(() => gather(x, 1, i32([[0], [3]])), /^gather: index 3 is out of range .*\(2, 3\)/, ShapeError);
  });

  test('gather: rank and dtype of the index', () => {
    const x = zeros([2, 3]);
    throwsNamed(() => gather(x, 1, i32([0, 1])), /^gather: index rank 1 \(2,\) must equal input rank 2 \(2, 3\)/, ShapeError);
    throwsNamed(() => gather(x, 1, tensor([[0]])), /^gather: index must be an int32 tensor, got float32/, DTypeError);
    throwsNamed(() => gather(x, 0, i32([[0, 0, 0, 0]])), /^gather: index \(1, 4\) is larger than input \(2, 3\) at dimension 1/, ShapeError);
  });

  test('indexSelect: out-of-range index, 2-D index', () => {
    const x = zeros([2, 3]);
    throwsNamed(() => indexSelect(x, 0, i32([0, 2])), /^indexSelect: index 2 is out of range for dimension 0 of size 2 in \(2, 3\)/, ShapeError);
    throwsNamed(() => indexSelect(x, 1, i32([-1])), /^indexSelect: index -1 is out of range for dimension 1 of size 3 in \(2, 3\)/, ShapeError);
    throwsNamed(() => indexSelect(x, 0, i32([[0]])), /^indexSelect: index must be 1-D, got \(1, 1\)/, ShapeError);
  });

  test('oneHot: class index out of range', () => {
    throwsNamed(() => oneHot(i32([0, 3]), 3), /^oneHot: class index 3 is out of range for numClasses 3/, ShapeError);
    throwsNamed(() => oneHot(i32([-1]), 3), /^oneHot: class index -1 is out of range/, ShapeError);
    throwsNamed(() => oneHot(tensor([0, 1]), 3), /^oneHot: indices must be an int32 tensor, got float32/, DTypeError);
  });

  test('cat / stack: mismatched shapes', () => {
    throwsNamed(() => cat([zeros([2, 3]), zeros([2, 4])], 0), /^cat: shapes must match except along axis 0: \(2, 3\), \(2, 4\)/, ShapeError);
    throwsNamed(() => cat([zeros([2, 3]), zeros([3])], 0), /^cat: shapes must match except along axis 0: \(2, 3\), \(3,\)/, ShapeError);
    throwsNamed(() => cat([]), /^cat: expected a non-empty list of tensors/);
    throwsNamed(() => stack([zeros([2]), zeros([3])]), /^stack: all tensors must have the same shape, got \(2,\), \(3,\)/, ShapeError);
  });

  test('reshape / view: wrong element count, two -1s', () => {
    throwsNamed(() => reshape(zeros([2, 3]), [4]), /^reshape: cannot reshape tensor of shape \(2, 3\) \(6 elements\) into \(4,\) \(4 elements\)/, ShapeError);
    throwsNamed(() => reshape(zeros([2, 3]), [4, -1]), /^reshape: cannot reshape tensor of shape \(2, 3\) \(6 elements\) into \(4, -1\)/, ShapeError);
    throwsNamed(() => reshape(zeros([2, 3]), [-1, -1]), /^reshape: only one dimension can be -1, got \(-1, -1\)/, ShapeError);
    throwsNamed(() => view(zeros([2, 3]), [7]), /^view: cannot reshape tensor of shape \(2, 3\) \(6 elements\) into \(7,\)/, ShapeError);
  });

  test('other movement ops', () => {
    const x = zeros([2, 3]);
    throwsNamed(() => expand(x, [4, 3]), /^expand: the size of dimension 0 \(2\) must be 1 or match the target 4: \(2, 3\) -> \(4, 3\)/, ShapeError);
    throwsNamed(() => expand(x, [3]), /^expand: target \(3,\) has fewer dimensions than the tensor \(2, 3\)/, ShapeError);
    throwsNamed(() => narrow(x, 1, 2, 2), /^narrow: start 2 \+ length 2 exceeds dimension 1 of size 3 in \(2, 3\)/, ShapeError);
    throwsNamed(() => permute(x, [0]), /^permute: got 1 dims \[0\] for a tensor of rank 2 \(2, 3\)/, ShapeError);
    throwsNamed(() => permute(x, [1, 1]), /^permute: repeated dim in \[1, 1\]/, ShapeError);
    throwsNamed(() => slice(x, 0, 0, 2, 0), /^slice: step must be a positive integer, got 0/, ShapeError);
  });

  test('where with a non-bool cond', () => {
    throwsNamed(() => where(tensor([1, 0]), 1, 0), /^where: cond must be a bool tensor, got float32; build it with a comparison/, DTypeError);
    throwsNamed(() => where(i32([1]), zeros([1]), zeros([1])), /^where: cond must be a bool tensor, got int32/, DTypeError);
    throwsNamed(() => where(tensor([true, false]), zeros([3]), 0), /^where: shapes \(2,\) and \(3,\) cannot be broadcast/, ShapeError);
  });

  test('conv2d: channel mismatch, bias, kernel larger than input', () => {
    throwsNamed(() => conv2d(zeros([1, 2, 4, 4]), zeros([1, 3, 2, 2])), /^conv2d: input \(1, 2, 4, 4\) must be \(N, 3, H, W\) to match weight \(1, 3, 2, 2\)/, ShapeError);
    throwsNamed(() => conv2d(zeros([2, 4, 4]), zeros([1, 2, 2, 2])), /^conv2d: input \(2, 4, 4\) must be \(N, 2, H, W\)/, ShapeError);
    throwsNamed(() => conv2d(zeros([1, 1, 4, 4]), zeros([1, 1, 2])), /^conv2d: weight must be \(out, in\/groups, kh, kw\), got \(1, 1, 2\)/, ShapeError);
    throwsNamed(() => conv2d(zeros([1, 1, 4, 4]), zeros([2, 1, 2, 2]), zeros([3])), /^conv2d: bias must be \(2,\), got \(3,\)/, ShapeError);
    throwsNamed(() => conv2d(zeros([1, 1, 2, 2]), zeros([1, 1, 3, 3])), /^conv2d: kernel 3x3 .*is larger than the padded input \(1, 1, 2, 2\)/, ShapeError);
    throwsNamed(() => conv2d(zeros([1, 1, 4, 4], { dtype: 'int32' }), zeros([1, 1, 2, 2])), /^conv2d: expected a floating-point tensor, got int32/, DTypeError);
  });

  test('maxPool2d: padding larger than half the kernel, 3-D input', () => {
    throwsNamed(() => maxPool2d(zeros([1, 1, 4, 4]), 2, { padding: 2 }), /^maxPool2d: padding 2x2 must be at most half the kernel 2x2/, ShapeError);
    throwsNamed(() => maxPool2d(zeros([1, 4, 4]), 2), /^maxPool2d: expects input \(N, C, H, W\), got \(1, 4, 4\)/, ShapeError);
  });

  test('dtype errors name the op and the dtype', () => {
    throwsNamed(() => softmax(i32([1, 2])), /^softmax: expected a floating-point tensor, got int32; convert with \.to\('float32'\)/, DTypeError);
    throwsNamed(() => matmul(tensor([true]), tensor([true])), /^matmul: unsupported dtype bool/, DTypeError);
  });

  test('assign: source that does not broadcast to the destination', () => {
    throwsNamed(() => assign(zeros([2, 3]), zeros([3, 2])), /^assign: shapes \(2, 3\) and \(3, 2\) cannot be broadcast together/, ShapeError);
    throwsNamed(() => assign(zeros([3]), zeros([2, 3])), /^assign: source shape \(2, 3\) does not broadcast to destination \(3\)/);
  });
});

describe('a failing op leaves its inputs unchanged', () => {
  const cases: [string, () => Tensor[], (ts: Tensor[]) => unknown][] = [
    ['add', () => [tensor([1, 2, 3], { requiresGrad: true }), tensor([1, 2])], ([a, b]) => add(a!, b!)],
    ['matmul', () => [tensor([[1, 2, 3]], { requiresGrad: true }), tensor([[1, 2]])], ([a, b]) => matmul(a!, b!)],
    ['cat', () => [tensor([[1, 2]]), tensor([[1, 2, 3]])], ([a, b]) => cat([a!, b!])],
    ['reshape', () => [tensor([1, 2, 3], { requiresGrad: true })], ([a]) => reshape(a!, [2, 2])],
    ['view', () => [transpose(tensor([[1, 2], [3, 4]]), 0, 1)], ([a]) => view(a!, [4])],
    ['gather', () => [tensor([[1, 2]]), i32([[5]])], ([a, i]) => gather(a!, 1, i!)],
    ['indexSelect', () => [tensor([[1, 2]]), i32([0, 7])], ([a, i]) => indexSelect(a!, 0, i!)],
    ['where', () => [tensor([1, 0]), tensor([3, 4])], ([c, a]) => where(c!, a!, 0)],
    ['conv2d', () => [zeros([1, 2, 3, 3]), zeros([1, 3, 2, 2])], ([x, w]) => conv2d(x!, w!)],
    ['assign (bad shape)', () => [tensor([1, 2, 3]), tensor([9, 9])], ([d, s]) => d!.assign(s!)],
    ['assign (requiresGrad leaf)', () => [tensor([1, 2], { requiresGrad: true })], ([d]) => d!.assign(0)],
    ['requiresGrad on int32', () => [i32([1, 2])], ([d]) => d!.requiresGrad_(true)],
  ];
  for (const [name, make, run] of cases) {
    test(name, () => {
      const inputs = make();
      const before = inputs.map(snapshot);
      assert.throws(() => run(inputs)); // the error's class and text are checked above
      assert.deepEqual(inputs.map(snapshot), before);
      for (const t of inputs) assert.equal(t.grad, null);
    });
  }

  test('a failing assign under noGrad writes nothing into a view or its base', () => {
    const base = tensor([1, 2, 3, 4]);
    const v = slice(base, 0, 1, 3);
    const before = snapshot(base);
    assert.throws(() => noGrad(() => v.assign(tensor([1, 2, 3]))), ShapeError);
    assert.deepEqual(snapshot(base), before);
  });
});
