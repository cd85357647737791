// The seed program (examples/seed.ts) runs as a user runs it, and its loss falls.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { nodeEntry, REPO_ROOT } from '../helpers/paths.js';

test('npx tsx examples/seed.ts --epochs 3: runs and the loss falls', () => {
  const out = execFileSync(process.execPath, [...nodeEntry(join(REPO_ROOT, 'examples', 'seed.ts')), '--epochs', '3'], { encoding: 'utf8' });
  const losses = [...out.matchAll(/loss (\d+\.\d+)/g)].map((m) => Number(m[1]));
  assert.ok(losses.length >= 2, `expected at least two loss lines, got:\n${out}`);
  assert.ok(losses.every(Number.isFinite));
  assert.ok(losses[losses.length - 1]! < losses[0]!, `loss did not fall: ${losses.join(' -> ')}`);
});
