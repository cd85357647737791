// The suite cannot go green by skipping in CI: test/helpers/requirements.ts skips (saying what is
// missing and how to install it) outside CI and fails in CI, checked in child processes with the
// native addon and PyTorch made unavailable (TENSORSLIM_NATIVE_PATH, TENSORSLIM_PYTHON). And the
// fixtures script regenerates every fixture: each generator in tools/fixtures is picked up by it.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';

import { inCI } from '../helpers/requirements.js';
import { REPO_ROOT } from '../helpers/paths.js';

const root = REPO_ROOT;

/** requireOrSkip(req) in a child process; its exit status, the skip value it printed and its output. */
function child(req: string, env: Record<string, string>): { status: number | null; skip: string; output: string } {
  const code = `import('./test/helpers/requirements.ts').then((m) => console.log('SKIP=' + JSON.stringify(m.requireOrSkip('${req}'))))`;
  const base: Record<string, string | undefined> = { ...process.env, CI: '' };
  delete base['NODE_TEST_CONTEXT']; // a plain child process, not a subtest of this runner
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', code], { cwd: root, env: { ...base, ...env }, encoding: 'utf8' });
  const output = `${r.stdout}\n${r.stderr}`;
  return { status: r.status, skip: /SKIP=(.*)/.exec(output)?.[1] ?? '', output };
}

describe('requireOrSkip: skips outside CI, fails in CI', () => {
  test('inCI reads the CI variable', () => {
    assert.equal(inCI({ CI: '1' }), true);
    assert.equal(inCI({ CI: 'true' }), true);
    for (const v of [undefined, '', '0', 'false', 'FALSE']) assert.equal(inCI({ CI: v }), false, String(v));
  });

  for (const [req, env, what] of [
    ['native', { TENSORSLIM_NATIVE_PATH: '/nonexistent/tensorslim.node' }, /native addon is missing: .*\/nonexistent\/tensorslim.node.*build-native/],
    ['torch', { TENSORSLIM_PYTHON: '/nonexistent/python3' }, /PyTorch .* is missing: \/nonexistent\/python3 not found; install `apt-get install -y python3-numpy python3-torch`/],
  ] as const) {
    test(`${req} missing: a skip that says why without CI, a failure naming it in CI`, () => {
      const local = child(req, env);
      assert.equal(local.status, 0, local.output);
      assert.match(local.skip, what);
      assert.match(local.skip, /skipped; in CI this fails/);
      const ci = child(req, { ...env, CI: '1' });
      assert.notEqual(ci.status, 0, ci.output);
      assert.match(ci.output, new RegExp(`required in CI: ${req}`));
      assert.match(ci.output, new RegExp(`CI requires ${req}: .*${what.source}`));
    });
  }
});

test('the fixtures script runs every generator in tools/fixtures', () => {
  const script = (JSON.parse(readFileSync(`${root}/package.json`, 'utf8')) as { scripts: Record<string, string> }).scripts['fixtures']!;
  assert.match(script, /for f in tools\/fixtures\/\*_fixtures\.py; do \/usr\/bin\/python3 "\$f" \|\| exit 1; done/);
  assert.match(script, /tools\/fixtures\/io_safetensors_check\.py write/);
  const scripts = readdirSync(`${root}/tools/fixtures`).filter((f) => f.endsWith('.py'));
  const stray = scripts.filter((f) => !f.endsWith('_fixtures.py') && f !== 'io_safetensors_check.py');
  assert.deepEqual(stray, [], 'a generator the fixtures script would not run: name it *_fixtures.py');
});
