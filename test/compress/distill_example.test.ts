// examples/distill.ts runs as a user runs it (synthetic data): the teacher trains, the students are
// reported, and the seed's bug is gone (the distilled student learned: far from chance).

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';

test('npx tsx examples/distill.ts --synthetic prints teacher, student alone and distilled', () => {
  const out = execFileSync(process.execPath, ['--import', 'tsx', 'examples/distill.ts', '--synthetic'], { encoding: 'utf8' });
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
