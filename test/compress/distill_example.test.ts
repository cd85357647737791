// examples/distill.ts runs as a user runs it (synthetic data): the teacher trains, the students are
// reported, and the seed's bug is gone (the distilled student learned: far from chance).

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { nodeEntry, REPO_ROOT } from '../helpers/paths.js';

test('npx tsx examples/distill.ts --synthetic prints teacher, student alone and distilled', () => {
  const out = execFileSync(process.execPath, [...nodeEntry(join(REPO_ROOT, 'examples', 'distill.ts')), '--synthetic'], { encoding: 'utf8' });
  const row = (name: RegExp): number => {
    const m = out.match(new RegExp(`^${name.source}.*?\\s(\\d+\\.\\d+)%`, 'm'));
    assert.ok(m, `no row ${name} in:\n${out}`);
    return Number(m[1]);
  };
  const teacher = row(/teacher 784-64-64-10/), alone = row(/student 784-8-10 alone/), kd = row(/student distilled \(T=4/), fd = row(/student distilled \+ hidden/);
  // 10 balanced classes: chance is 10%; every trained model must be far above it
  for (const [name, acc] of [['teacher', teacher], ['alone', alone], ['distilled', kd], ['distilled + hidden', fd]] as const) {
    assert.ok(acc > 80, `${name} accuracy ${acc}% is near chance:\n${out}`);
  }
  assert.match(out, /teacher ran 16 times for 30 x 16 batches/);
});

test('npx tsx examples/distill_features.ts --steps 60: the hidden-state MSE through the 64 -> 100 projector falls, accuracies reported', () => {
  const out = execFileSync(process.execPath, [...nodeEntry(join(REPO_ROOT, 'examples', 'distill_features.ts')), '--steps', '60'], { encoding: 'utf8' });
  const m = out.match(/feature MSE \(student '2' -> projector 64x100 -> teacher '4'\): (\d+\.\d+) over the first (\d+) steps -> (\d+\.\d+) over the last \2 \(of 60\)/);
  assert.ok(m, `no feature-loss line in:\n${out}`);
  const [first, last] = [Number(m[1]), Number(m[3])];
  assert.ok(last < 0.6 * first, `feature MSE ${first} -> ${last}:\n${out}`);
  for (const row of [/^teacher mlp .*: (\d+\.\d+)%$/m, /^student mlp-tiny \(784-64-10\) alone.*: (\d+\.\d+)%$/m, /^student mlp-tiny distilled \+ hidden state.*: (\d+\.\d+)%$/m]) {
    const r = out.match(row);
    assert.ok(r, `no row ${row} in:\n${out}`);
    assert.ok(Number(r[1]) > 50, `${row}: ${r[1]}% is near chance (10 classes):\n${out}`);   // 60 steps of Adam on MNIST digits
  }
});
