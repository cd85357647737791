// `tensorslim launch`: the workers' environment, rank-prefixed output, and a failing worker that
// stops the others and makes the launcher exit non-zero naming its rank.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { captureContext, main } from '../../src/cli/index.js';
import { readLaunchEnv, workerEnv } from '../../src/distributed/index.js';
import { freePort, glooSkip } from './helpers.js';

const script = join(dirname(fileURLToPath(import.meta.url)), 'workers', 'launched.ts');

test('workerEnv sets the torchrun names and TENSORSLIM_* copies, and drops the agent-store flag', () => {
  const env = workerEnv({ PATH: '/bin', TORCHELASTIC_USE_AGENT_STORE: 'True' }, { rank: 3, worldSize: 4, localRank: 1, localWorldSize: 2, nodeRank: 1, masterAddr: 'h0', masterPort: 1234, token: 't' });
  assert.equal(env['PATH'], '/bin');
  assert.equal(env['TORCHELASTIC_USE_AGENT_STORE'], undefined);
  const info = readLaunchEnv(env);
  assert.deepEqual([info.source, info.rank, info.worldSize, info.localRank, info.localWorldSize, info.masterAddr, info.masterPort, info.token], ['tensorslim', 3, 4, 1, 2, 'h0', 1234, 't']);
  assert.deepEqual([env['RANK'], env['WORLD_SIZE'], env['LOCAL_RANK'], env['MASTER_ADDR'], env['MASTER_PORT']], ['3', '4', '1', 'h0', '1234']);
});

test('launch runs N workers with rank-prefixed output', { skip: glooSkip(), timeout: 120_000 }, async () => {
  const ctx = captureContext();
  const code = await main(['launch', '--nproc-per-node', '2', '--master-port', String(await freePort()), script, 'sum'], ctx);
  assert.equal(code, 0, ctx.stderr.join('\n'));
  assert.deepEqual(ctx.stdout.filter((l) => l.includes('sum=')).sort(), ['[rank 0] sum=3', '[rank 1] sum=3']);
});

test('a failing worker stops the others; the launcher exits with its code, naming the rank', { timeout: 120_000 }, async () => {
  const ctx = captureContext();
  const started = Date.now();
  const code = await main(['launch', '--nproc-per-node', '3', '--master-port', String(await freePort()), script, 'fail'], ctx);
  assert.equal(code, 3);
  assert.ok(Date.now() - started < 50_000, 'the sleeping ranks were stopped, not waited for');
  assert.ok(ctx.stdout.includes('[rank 1] started rank=1 world=3 local=1'), ctx.stdout.join('\n'));
  assert.match(ctx.stderr.join('\n'), /tensorslim launch: rank 1 exited with code 3; stopped the other ranks on this node \(0, 2\)/);
});

test('--max-restarts starts every worker again after a failure, with the restart count', { timeout: 120_000 }, async () => {
  const ctx = captureContext();
  const code = await main(['launch', '--nproc-per-node', '2', '--max-restarts', '1', '--master-port', String(await freePort()), script, 'flaky'], ctx);
  assert.equal(code, 0, ctx.stderr.join('\n'));
  // (rank 0 may be stopped before it prints its first-attempt line)
  for (const l of ['[rank 1] attempt 0 rank=1', '[rank 0] attempt 1 rank=0', '[rank 1] attempt 1 rank=1']) assert.ok(ctx.stdout.includes(l), `missing ${l}:\n${ctx.stdout.join('\n')}`);
  assert.match(ctx.stderr.join('\n'), /rank 1 exited with code 3; stopped the other ranks on this node \(0\); restarting all workers \(restart 1 of 1\)/);
  // Without restarts left, the failure stands and says so.
  const ctx2 = captureContext();
  assert.equal(await main(['launch', '--nproc-per-node', '2', '--max-restarts', '0', '--master-port', String(await freePort()), script, 'flaky'], ctx2), 3);
});

test('launch refuses a missing command and a node rank out of range', async () => {
  const ctx = captureContext();
  assert.equal(await main(['launch', '--nproc-per-node', '2'], ctx), 2);
  assert.match(ctx.stderr.join('\n'), /missing the worker command/);
  const ctx2 = captureContext();
  assert.equal(await main(['launch', '--nproc-per-node', '2', '--nnodes', '2', '--node-rank', '2', script], ctx2), 1);
  assert.match(ctx2.stderr.join('\n'), /--node-rank 2 is out of range for 2 nodes/);
});

test('examples/ddp_mnist.ts under the launcher: replicas stay identical and it learns', { skip: glooSkip(), timeout: 240_000 }, async () => {
  const ctx = captureContext();
  const example = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'examples', 'ddp_mnist.ts');
  const code = await main(['launch', '--nproc-per-node', '2', '--master-port', String(await freePort()), example, '--epochs', '1', '--limit', '2000'], ctx);
  assert.equal(code, 0, ctx.stderr.join('\n'));
  const line = ctx.stdout.find((l) => l.includes('test accuracy')) ?? '';
  const m = /\[rank 0\] test accuracy ([\d.]+)% on 2 rank\(s\); parameter checksum spread across ranks ([\d.e+-]+)/.exec(line);
  assert.ok(m !== null, ctx.stdout.join('\n'));
  assert.equal(Number(m[2]), 0, 'DDP replicas diverged');
  assert.ok(Number(m[1]) > 60, `accuracy ${m[1]}% after one epoch on 2000 digits (chance is 10%)`);
});
