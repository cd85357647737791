// The same worker script runs unchanged under torchrun (--rdzv_backend=c10d --no_python), which sets
// RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT. Skips without torchrun (Debian python3-torch) or Gloo.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, glooSkip } from './helpers.js';
import { nodeEntry } from '../helpers/paths.js';

const torchrun = spawnSync('sh', ['-c', 'command -v torchrun'], { encoding: 'utf8' }).stdout.trim();
const skip = glooSkip() || (torchrun === '' ? 'torchrun not found (Debian: apt-get install -y python3-torch)' : false);
const worker = join(dirname(fileURLToPath(import.meta.url)), 'workers', 'collectives.ts');

test('collectives under torchrun with the c10d rendezvous', { skip, timeout: 120_000 }, async () => {
  const logs = mkdtempSync(join(tmpdir(), 'tensorslim-torchrun-'));
  try {
    const port = await freePort();
    // Debian's torchrun on Python 3.11 needs --redirects/--tee/--log_dir (see docs/DISTRIBUTED.md).
    const r = spawnSync(torchrun, ['--nproc_per_node', '2', '--rdzv_backend=c10d', `--rdzv_endpoint=127.0.0.1:${port}`, '--no_python',
      '--redirects=2', '--tee=1', `--log_dir=${logs}`, process.execPath, ...nodeEntry(worker)], { encoding: 'utf8', timeout: 110_000 });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    const results = r.stdout.split('\n').filter((l) => l.includes('{"rank"')).map((l) => JSON.parse(l.slice(l.indexOf('{'))) as { rank: number; sum: number[] });
    assert.deepEqual(results.map((o) => o.rank).sort(), [0, 1]);
    for (const o of results) assert.deepEqual(o.sum, [3, 30, -1]); // [r+1, 10(r+1), -r] summed over ranks 0, 1
  } finally {
    rmSync(logs, { recursive: true, force: true });
  }
});
