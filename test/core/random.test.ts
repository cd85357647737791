// Unit tests for core/random.ts: the seedable Generator and the default generator.
// Properties only (repeatability, ranges, state round trips); the distributions' moments are
// checked in test/ops/creation.test.ts.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { defaultGenerator, Generator, manualSeed } from '../../src/index.js';

function draw(g: Generator, n: number, f: (g: Generator) => number): number[] {
  return Array.from({ length: n }, () => f(g));
}

test('same seed, same stream; different seeds, different streams', () => {
  assert.deepEqual(draw(new Generator(42), 10, (g) => g.uniform()), draw(new Generator(42), 10, (g) => g.uniform()));
  assert.notDeepEqual(draw(new Generator(42), 10, (g) => g.uniform()), draw(new Generator(43), 10, (g) => g.uniform()));
  assert.notDeepEqual(draw(new Generator(0), 10, (g) => g.nextUint32()), draw(new Generator(1), 10, (g) => g.nextUint32()));
});

test('manualSeed restarts the stream and is chainable', () => {
  const g = new Generator(5);
  const first = draw(g, 5, (x) => x.uniform());
  assert.equal(g.manualSeed(5), g);
  assert.deepEqual(draw(g, 5, (x) => x.uniform()), first);
});

test('uniform is in [0, 1); nextUint32 is an unsigned 32-bit integer', () => {
  const g = new Generator(8);
  for (let i = 0; i < 10000; i++) {
    const u = g.uniform();
    assert.ok(u >= 0 && u < 1, `uniform ${u}`);
    const n = g.nextUint32();
    assert.ok(Number.isInteger(n) && n >= 0 && n <= 0xffffffff, `uint32 ${n}`);
  }
});

test('randint(lo, hi) stays in [lo, hi)', () => {
  const g = new Generator(4);
  const seen = new Set<number>();
  for (let i = 0; i < 2000; i++) {
    const k = g.randint(-2, 3);
    assert.ok(Number.isInteger(k) && k >= -2 && k < 3, `randint ${k}`);
    seen.add(k);
  }
  assert.deepEqual([...seen].sort((a, b) => a - b), [-2, -1, 0, 1, 2]);
});

test('getState / setState resume the exact stream, including a cached normal', () => {
  const g = new Generator(2024);
  g.normal(); // Box-Muller makes two values: one is now cached as the spare
  const state = g.getState();
  assert.notEqual(state.spare, null);
  const expected = [...draw(g, 5, (x) => x.normal()), ...draw(g, 3, (x) => x.uniform())];
  g.setState(state);
  const again = [...draw(g, 5, (x) => x.normal()), ...draw(g, 3, (x) => x.uniform())];
  assert.deepEqual(again, expected);
  // another generator put into the same state continues identically
  const h = new Generator(1);
  h.setState(state);
  assert.deepEqual([...draw(h, 5, (x) => x.normal()), ...draw(h, 3, (x) => x.uniform())], expected);
});

test('getState is a snapshot: drawing afterwards does not change it', () => {
  const g = new Generator(3);
  const state = g.getState();
  const copy = JSON.parse(JSON.stringify(state)) as unknown;
  draw(g, 10, (x) => x.uniform());
  assert.deepEqual(JSON.parse(JSON.stringify(state)), copy);
});

test('manualSeed drops a cached normal', () => {
  const g = new Generator(10);
  g.normal(); // leaves a spare
  g.manualSeed(6);
  assert.equal(g.normal(), new Generator(6).normal());
});

test('setState refuses a malformed state', () => {
  const g = new Generator(1);
  assert.throws(() => g.setState({ s: [1, 2, 3] as unknown as [number, number, number, number], spare: null }), /Generator\.setState/);
});

test('manualSeed seeds the default generator', () => {
  manualSeed(31);
  const a = draw(defaultGenerator, 4, (g) => g.uniform());
  assert.deepEqual(a, draw(new Generator(31), 4, (g) => g.uniform()));
});
