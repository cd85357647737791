// Acceptance of the CLI's distributed training (issue #13): `tensorslim launch --nproc-per-node 2 --
// tensorslim train --model mlp --dataset mnist ...` and the same under torchrun reach the single-process
// result with the same global batch, with identical replicas and rank 0 alone printing; a launcher
// restart resumes from --out. Tolerance: every rank trains on half of the same global batch, so the
// runs differ only by float32 summation order: test accuracy within 0.5 points, test loss within
// 1e-4 relative (observed: equal to 1e-15). 40 steps of batch 64 on the embedded digits.
// --zero 2 and --zero 3 (each restarted once from its own --out, the consolidated file) write the
// checkpoint the DDP run writes: weights and Adam moments within 1e-6 relative + 1e-9 absolute
// (float32 reductions in another grouping; observed on 2 ranks: bit-identical), the same step counts
// and parameter groups; that file is the single-process layout, so it resumes with any world size.
// prune --zero 3 --checkpoint, one rank killed mid-fine-tuning and the group restarted, resumes from
// its checkpoint to the one-process result (accuracy within 0.5 points, the same sparsity).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { captureContext, main } from '../../src/cli/index.js';
import { loadTrainingCheckpoint } from '../../src/train/index.js';
import type { Tensor } from '../../src/index.js';
import { requireOrSkip } from '../helpers/requirements.js';
import { freePort, glooSkip } from './helpers.js';
import { nodeEntry, REPO_ROOT } from '../helpers/paths.js';

const root = REPO_ROOT;
const cli = join(root, 'src', 'cli', 'main.ts');
/** Node arguments that start the CLI (compiled when the suite runs compiled). */
const cliArgs = nodeEntry(cli);
const TRAIN = ['train', '--model', 'mlp', '--dataset', 'mnist', '--batch-size', '64', '--threads', '1', '--json'];
const skip = process.env['TENSORSLIM_BACKEND'] === 'reference'
  ? 'launcher and CLI plumbing (the kernels are the train command\'s): run in the native pass only'
  : glooSkip();

interface TrainJson { testAccuracy: number; testLoss: number; steps: number; resumedFrom: string | null; distributed: { worldSize: number; perRankBatch: number; parameterChecksums: number[] } | null }

function run(argv: string[], env: Record<string, string> = {}, timeoutMs = 200_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(argv[0]!, argv.slice(1), { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

/** The one JSON result line among prefixed output lines (fails when there is not exactly one). */
function onlyResult(stdout: string, prefix: RegExp): TrainJson {
  const lines = stdout.split('\n').filter((l) => l.includes('{"command":"train"'));
  assert.equal(lines.length, 1, `exactly one rank prints the result:\n${stdout}`);
  assert.match(lines[0]!, prefix);
  return JSON.parse(lines[0]!.slice(lines[0]!.indexOf('{'))) as TrainJson;
}

const tmp = mkdtempSync(join(tmpdir(), 'tensorslim-cli-dist-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

let singleCache: TrainJson | null = null;
async function single(): Promise<TrainJson> {
  if (singleCache) return singleCache;
  const ctx = captureContext();
  assert.equal(await main([...TRAIN, '--steps', '40'], ctx), 0, ctx.stderr.join('\n'));
  singleCache = JSON.parse(ctx.stdout[ctx.stdout.length - 1]!) as TrainJson;
  assert.equal(singleCache.distributed, null);
  return singleCache;
}

function assertSameRun(got: TrainJson, want: TrainJson, what: string): void {
  assert.equal(got.steps, want.steps);
  assert.ok(Math.abs(got.testAccuracy - want.testAccuracy) <= 0.005, `${what}: accuracy ${got.testAccuracy} vs single process ${want.testAccuracy}`);
  assert.ok(Math.abs(got.testLoss - want.testLoss) <= 1e-4 * want.testLoss, `${what}: test loss ${got.testLoss} vs single process ${want.testLoss}`);
  const d = got.distributed!;
  assert.equal(d.worldSize, 2);
  assert.equal(d.perRankBatch, 32);
  assert.equal(d.parameterChecksums.length, 2);
  assert.equal(d.parameterChecksums[0], d.parameterChecksums[1], `${what}: the replicas differ`);
}

test('launch -- tensorslim train on 2 ranks reaches the single-process result; rank 0 alone prints', { skip, timeout: 240_000 }, async () => {
  const want = await single();
  const r = await run([process.execPath, ...cliArgs, 'launch', '--nproc-per-node', '2', '--master-port', String(await freePort()), '--', 'tensorslim', ...TRAIN, '--steps', '40', '--out', join(tmp, 'ddp.safetensors')]);
  assert.equal(r.code, 0, r.stderr);
  assertSameRun(onlyResult(r.stdout, /^\[rank 0\] /), want, 'launch');
  assert.ok(!r.stdout.includes('[rank 1]') && !r.stderr.includes('[rank 1]'), `rank 1 stays quiet:\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stderr, /\[rank 0\] train mlp .*batch 64 \(32 per rank x 2 ranks\)/);
});

for (const zero of [null, 2, 3] as const) {
test(`after a launcher restart every rank resumes from --out and ends where an uninterrupted run ends${zero ? ` (--zero ${zero}: the checkpoint is DDP's)` : ''}`, { skip, timeout: 300_000 }, async () => {
  const want = await single();
  const dir = mkdtempSync(join(tmpdir(), 'tensorslim-cli-restart-'));
  try {
    const out = join(dir, 'mlp.safetensors');
    // attempt 0: 20 steps with --out, then rank 1 fails; attempt 1 (TENSORSLIM_RESTART_COUNT=1): 40 steps
    const script = 'steps=40; [ "$TENSORSLIM_RESTART_COUNT" = 0 ] && steps=20; '
      + `"$NODE" $CLI ${TRAIN.join(' ')}${zero ? ` --zero ${zero}` : ''} --steps $steps --out "$OUT" || exit $?; `
      + '[ "$TENSORSLIM_RESTART_COUNT" = 0 ] && [ "$RANK" = 1 ] && exit 3; exit 0';
    const r = await run([process.execPath, ...cliArgs, 'launch', '--nproc-per-node', '2', '--max-restarts', '1', '--master-port', String(await freePort()), '--', 'sh', '-c', script],
      { NODE: process.execPath, CLI: cliArgs.join(' '), OUT: out });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /rank 1 exited with code 3.*restarting all workers \(restart 1 of 1\)/);
    assert.match(r.stderr, /\[rank 0\] train mlp .*; resumed from .*mlp\.safetensors at epoch 1, step 20/);
    assert.ok(existsSync(out));
    const lines = r.stdout.split('\n').filter((l) => l.includes('"resumedFrom":"'));
    assert.equal(lines.length, 1, r.stdout);
    const got = JSON.parse(lines[0]!.slice(lines[0]!.indexOf('{'))) as TrainJson;
    assert.equal(got.resumedFrom, out);
    assertSameRun(got, want, 'restarted');
    if (zero) {
      assert.equal((got.distributed as { zero?: number }).zero, zero);
      const ddpOut = join(tmp, 'ddp.safetensors');
      assert.ok(existsSync(ddpOut), 'the DDP run of the first test wrote its checkpoint');
      assertSameCheckpoint(out, ddpOut);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
}

// prune under the launcher, restarted: on the first attempt rank 1's prune is SIGKILLed as soon as
// rank 0 has written a fine-tuning checkpoint (--checkpoint-every 2; wherever the kill lands, even
// after the end, the outcome must be the same); rank 0 then fails on the dead peer, the launcher
// restarts both, and both resume from --checkpoint to the result of one process. ZeRO 3: prune's
// Trainer gathers the parameters before pruning's weight-from-mask hooks, and the checkpoint holds
// the consolidated Adam state (train --zero 2 above covers stages 1/2 in the Trainer).
test('launch --max-restarts 1 -- tensorslim prune --zero 3 --checkpoint: a killed rank, a restart, a resumed fine-tuning that ends as one process does', { skip, timeout: 240_000 }, async () => {
  const zero = 3;
  await single();
  const model = join(tmp, 'ddp.safetensors');
  assert.ok(existsSync(model), 'the DDP run of the first test wrote the model to prune');
  const PRUNE = ['prune', '--model', model, '--dataset', 'mnist', '--method', 'global', '--amount', '0.8', '--finetune-steps', '8', '--batch-size', '64', '--threads', '1', '--json'];
  const ctx = captureContext();
  assert.equal(await main(PRUNE, ctx), 0, ctx.stderr.join('\n'));
  const want = JSON.parse(ctx.stdout[ctx.stdout.length - 1]!) as { testAccuracy: number; sparsity: number; finetuneSteps: number };
  const ck = join(tmp, 'prune.ckpt.safetensors');
  const cmd = `"$NODE" $CLI ${PRUNE.join(' ')} --zero ${zero} --checkpoint "$CK" --checkpoint-every 2`;
  const script = `if [ "$TENSORSLIM_RESTART_COUNT" = 0 ] && [ "$RANK" = 1 ]; then ${cmd} & pid=$!; `
    + 'while [ ! -f "$CK" ] && kill -0 $pid 2>/dev/null; do sleep 0.02; done; kill -9 $pid 2>/dev/null; wait $pid; exit 3; fi; '
    + `exec ${cmd}`;
  const r = await run([process.execPath, ...cliArgs, 'launch', '--nproc-per-node', '2', '--max-restarts', '1', '--master-port', String(await freePort()), '--', 'sh', '-c', script],
    { NODE: process.execPath, CLI: cliArgs.join(' '), CK: ck });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /restarting all workers \(restart 1 of 1\)/);
  assert.match(r.stderr, /\[rank 0\] fine-tune: resumed from .*prune\.ckpt\.safetensors at step [2-8] of 8/);
  const lines = r.stdout.split('\n').filter((l) => l.includes('{"command":"prune"') && l.includes('"resumedFrom":"'));
  assert.equal(lines.length, 1, r.stdout);
  const got = JSON.parse(lines[0]!.slice(lines[0]!.indexOf('{'))) as typeof want & { resumedFrom: string; distributed: { worldSize: number; zero: number | null; parameterChecksums: number[] } };
  assert.equal(got.resumedFrom, ck);
  assert.equal(got.finetuneSteps, want.finetuneSteps);
  assert.equal(got.sparsity, want.sparsity);
  assert.ok(Math.abs(got.testAccuracy - want.testAccuracy) <= 0.005, `prune --zero ${zero}, restarted: accuracy ${got.testAccuracy} vs one process ${want.testAccuracy}`);
  assert.equal(got.distributed.zero, zero);
  assert.equal(got.distributed.parameterChecksums[0], got.distributed.parameterChecksums[1], 'the replicas differ');
});

function assertSameCheckpoint(path: string, ref: string): void {
  const a = loadTrainingCheckpoint(path), b = loadTrainingCheckpoint(ref);
  assert.equal(a.checkpoint.optimizer?.type, b.checkpoint.optimizer?.type);
  const sa = a.snapshot!, sb = b.snapshot!;
  assert.equal(sa.step, sb.step);
  const close = (x: Tensor, y: Tensor, what: string): void => {
    assert.deepEqual(x.shape, y.shape, what);
    for (let i = 0; i < x.size; i++) {
      const u = Number(x.data[x.offset + i]), v = Number(y.data[y.offset + i]);
      assert.ok(Math.abs(u - v) <= 1e-9 + 1e-6 * Math.abs(v), `${what}[${i}]: ${u} vs DDP's ${v}`);
    }
  };
  const mb = new Map(sb.model);
  assert.deepEqual([...new Map(sa.model).keys()], [...mb.keys()]);
  for (const [k, t] of sa.model) close(t, mb.get(k)!, `weight ${k}`);
  assert.deepEqual(sa.optimizer.paramGroups, sb.optimizer.paramGroups);
  assert.deepEqual(Object.keys(sa.optimizer.state), Object.keys(sb.optimizer.state));
  for (const [id, st] of Object.entries(sa.optimizer.state)) {
    const ref = sb.optimizer.state[Number(id)]!;
    assert.deepEqual(Object.keys(st).sort(), Object.keys(ref).sort());
    for (const [k, v] of Object.entries(st)) {
      if (typeof v === 'number') assert.equal(v, ref[k], `optimizer state ${id}.${k}`);
      else close(v, ref[k] as Tensor, `optimizer state ${id}.${k}`);
    }
  }
}

const torchrun = spawnSync('sh', ['-c', 'command -v torchrun'], { encoding: 'utf8' }).stdout.trim();
test('the same training under torchrun (c10d rendezvous, --no_python) reaches the single-process result', { skip: skip || requireOrSkip('torch'), timeout: 240_000 }, async () => {
  assert.notEqual(torchrun, '', 'python3-torch is installed but torchrun is not on PATH');
  const want = await single();
  const logs = mkdtempSync(join(tmpdir(), 'tensorslim-torchrun-'));
  try {
    // Debian's torchrun on Python 3.11 needs --redirects/--tee/--log_dir (docs/DISTRIBUTED.md).
    const r = await run([torchrun, '--nproc_per_node', '2', '--rdzv_backend=c10d', `--rdzv_endpoint=127.0.0.1:${await freePort()}`, '--no_python',
      '--redirects=2', '--tee=1', `--log_dir=${logs}`, process.execPath, ...cliArgs, ...TRAIN, '--steps', '40']);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assertSameRun(onlyResult(r.stdout, /^\[[a-z]*0\]:/), want, 'torchrun');
  } finally {
    rmSync(logs, { recursive: true, force: true });
  }
});
