// Every fused kernel has one home, named after it, whose header lists every part of the kernel by
// path (op, composed reference, gradient rule, backend member, native binding and C++ file, tests):
// this test reads those headers and fails when a listed path does not exist, or when a canonical
// kernel has no home.

import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

const ROOT = join(import.meta.dirname, '..', '..');

/** Canonical kernel name (= the tape kernel name) -> the file that is its home. */
const HOMES: Readonly<Record<string, string>> = {
  linear: 'src/ops/linear.ts',
  softmaxCrossEntropy: 'src/ops/softmax_cross_entropy.ts',
  layerNorm: 'src/ops/layer_norm.ts',
  gelu: 'src/ops/gelu.ts',
  attention: 'src/ops/attention.ts',
  embedding: 'src/ops/embedding.ts',
  maxPool2d: 'src/ops/max_pool2d.ts',
  conv2d: 'src/ops/conv2d.ts',
  adam: 'src/optim/adam.ts',
};

/** The leading comment block of a file (its header). */
function header(path: string): string {
  const lines = readFileSync(join(ROOT, path), 'utf8').split('\n');
  const out: string[] = [];
  for (const l of lines) {
    if (!l.startsWith('//')) break;
    out.push(l);
  }
  return out.join('\n');
}

/** Repository paths named in a header. */
function listedPaths(text: string): string[] {
  return [...text.matchAll(/\b((?:src|native|test)\/[\w./-]+\.(?:ts|cc|h))\b/g)].map((m) => m[1]!);
}

const homes = (): string[] => {
  const ops = readdirSync(join(ROOT, 'src/ops')).filter((f) => f.endsWith('.ts')).map((f) => `src/ops/${f}`)
    .filter((p) => header(p).includes('Every part of this kernel:'));
  return [...new Set([...ops, ...Object.values(HOMES)])];
};

test('every canonical kernel has a home named after it whose header lists its parts', () => {
  for (const [kernel, path] of Object.entries(HOMES)) {
    assert.ok(existsSync(join(ROOT, path)), `${kernel}: home ${path} is missing`);
    const h = header(path);
    assert.match(h, new RegExp(`Kernel \`${kernel}\``), `${path}: the header must name kernel \`${kernel}\``);
    assert.ok(/(Every part of this kernel|every part):/i.test(h), `${path}: the header must list every part of the kernel`);
    for (const part of ['gradient rule', 'backend member', 'native TS binding', 'native C\\+\\+ kernel', 'tests']) {
      assert.match(h, new RegExp(part), `${path}: the header lists no ${part.replace('\\+\\+', '++')}`);
    }
  }
});

test('every path listed in a kernel header exists', () => {
  const missing: string[] = [];
  for (const home of homes()) {
    for (const p of listedPaths(header(home))) {
      if (!existsSync(join(ROOT, p))) missing.push(`${home} lists ${p}`);
    }
  }
  assert.deepEqual(missing, [], 'listed paths that do not exist');
});
