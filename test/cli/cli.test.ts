// The tensorslim CLI, run in-process through main() with a capturing context (and once as a real
// process): help, exit codes, the --json contract (last stdout line is one JSON object), and tiny
// train / eval / summary / demo runs on the embedded MNIST digits. Budgets are a few steps.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

import { COMMANDS, captureContext, main, type CapturedContext } from '../../src/cli/index.js';

const dir = mkdtempSync(join(tmpdir(), 'tensorslim-cli-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function cli(...argv: string[]): Promise<{ code: number; ctx: CapturedContext; json: Record<string, unknown> | null }> {
  const ctx = captureContext({});
  const code = await main(argv, ctx);
  const last = ctx.stdout.filter((l) => l !== '').at(-1);
  let json: Record<string, unknown> | null = null;
  if (argv.includes('--json') && last !== undefined) json = JSON.parse(last) as Record<string, unknown>;
  return { code, ctx, json };
}

const err = (c: CapturedContext): string => c.stderr.join('\n');
const out = (c: CapturedContext): string => c.stdout.join('\n');

test('--help globally and for every command; --version', async () => {
  const g = await cli('--help');
  assert.equal(g.code, 0);
  for (const c of COMMANDS) assert.match(out(g.ctx), new RegExp(`^  ${c.name} `, 'm'));
  for (const c of COMMANDS) {
    for (const flag of ['--help', '-h']) {
      const r = await cli(c.name, flag);
      assert.equal(r.code, 0, `${c.name} ${flag}`);
      assert.match(out(r.ctx), new RegExp(`^Usage: tensorslim ${c.name}`), c.name);
    }
  }
  assert.match(out((await cli('help', 'train')).ctx), /--batch-size N/);
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  assert.deepEqual((await cli('--version')).ctx.stdout, [pkg.version]);
});

test('unknown commands, unknown flags and bad values exit 2 with a message naming them', async () => {
  const cases: [string[], RegExp][] = [
    [['trian'], /unknown command 'trian'; commands: demo, train/],
    [['train', '--modle', 'mlp', '--dataset', 'mnist'], /unknown option '--modle' \(did you mean --model\?\)/],
    [['train', '--model', 'mlp', '--dataset', 'mnist', '--epochs', 'ten'], /--epochs must be an integer, got 'ten'/],
    [['train', '--model', 'mlp', '--dataset', 'mnist', '--epochs', '0'], /--epochs must be >= 1, got 0/],
    [['train', '--model', 'mlp', '--dataset', 'mnist', '--lr', '0'], /--lr must be > 0, got 0/],
    [['train', '--model', 'mlp', '--dataset', 'mnist', '--optimizer', 'rmsprop'], /--optimizer must be one of sgd, adam, adamw; got 'rmsprop'/],
    [['train', '--model', 'resnet', '--dataset', 'mnist'], /unknown --model 'resnet'; presets: mlp, mlp-large/],
    [['train', '--model', 'mlp'], /missing --dataset/],
    [['train', '--model', 'mlp', '--dataset', 'mnist', '--epochs', '1', '--steps', '5'], /give --epochs or --steps, not both/],
    [['train', '--model', 'mlp', '--dataset', 'mnist', '--batch-size'], /option --batch-size needs a value/],
    [['train', '--model', 'mlp', '--dataset', 'mnist', '--json', '--json'], /option --json was given twice/],
    [['train', '--model', 'mlp', '--dataset', 'mnist', '--out', join(dir, 'no/such/dir/m.safetensors')], /the directory .* does not exist/],
    [['train', '--model', 'mlp', '--dataset', 'mnist', '--grad-compression', 'bf16', '--powersgd-rank', '2'], /--powersgd-rank and --powersgd-start-iter apply to --grad-compression powersgd, not bf16/],
    [['eval', '--model', join(dir, 'missing.safetensors'), '--dataset', 'mnist'], /no such file/],
    [['summary'], /missing argument <checkpoint\|preset>/],
    [['summary', 'mlp', 'extra'], /too many arguments: 'extra'/],
    [['info', 'now'], /takes no positional arguments, got 'now'/],
    [['demo', '--model', 'gpt'], /--model must be one of mlp, mlp-large/],
    [['demo', '--epochs', '1', '--steps', '5'], /give --epochs or --steps, not both/],
  ];
  for (const [argv, msg] of cases) {
    const r = await cli(...argv);
    assert.equal(r.code, 2, `${argv.join(' ')}: exit ${r.code}, stderr ${err(r.ctx)}`);
    assert.match(err(r.ctx), msg, argv.join(' '));
  }
});

test('a failure at run time exits 1; with --json the last line still is JSON', async () => {
  const bad = join(dir, 'bad.safetensors');
  writeFileSync(bad, 'not a safetensors file');
  const r = await cli('eval', '--model', bad, '--dataset', 'mnist', '--json');
  assert.equal(r.code, 1);
  assert.match(err(r.ctx), /tensorslim eval: error: /);
  assert.equal(r.json!['exitCode'], 1);
  assert.equal(typeof r.json!['error'], 'string');
  const u = await cli('train', '--model', 'mlp', '--dataset', 'no-such-dataset', '--steps', '1');
  assert.equal(u.code, 1);
  assert.match(err(u.ctx), /unknown dataset 'no-such-dataset'/);
});

test('info --json', async () => {
  const r = await cli('info', '--json');
  assert.equal(r.code, 0);
  const { getBackend, listBackends } = await import('../../src/backend/registry.js');
  assert.equal(r.json!['backend'], getBackend().name);
  assert.deepEqual(r.json!['backends'], listBackends());
  assert.ok(listBackends().includes('reference'));
  assert.equal(typeof r.json!['threads'], 'number');
  assert.equal(typeof r.json!['cpuPath'], 'string');
});

test('train --json, then eval and summary of its checkpoint', async () => {
  const ckpt = join(dir, 'tiny.safetensors');
  const r = await cli('train', '--model', 'mlp-tiny', '--dataset', 'mnist', '--steps', '20', '--out', ckpt, '--json');
  assert.equal(r.code, 0, err(r.ctx));
  const j = r.json!;
  assert.equal(j['params'], 784 * 64 + 64 + 64 * 10 + 10);
  assert.equal(j['steps'], 20);
  assert.equal(j['epochs'], 1); // 20 of 125 steps: one (partial) epoch
  assert.equal(j['stopReason'], 'completed');
  assert.equal(j['out'], ckpt);
  const acc = j['testAccuracy'] as number;
  assert.ok(acc > 0.3 && acc <= 1, `accuracy after 20 steps: ${acc}`); // chance is 0.1
  assert.ok((j['testLoss'] as number) > 0);
  assert.ok(existsSync(ckpt));
  assert.ok(r.ctx.stdout.filter((l) => l !== '').length === 1, 'in --json mode stdout has only the JSON line');

  const e = await cli('eval', '--model', ckpt, '--dataset', 'mnist', '--json');
  assert.equal(e.code, 0, err(e.ctx));
  assert.equal(e.json!['testAccuracy'], acc); // the same weights on the same 2,000 test digits
  assert.equal(e.json!['samples'], 2000);

  // as plain safetensors weights of a preset (optimizer.* keys skipped)
  const p = await cli('eval', '--model', ckpt, '--preset', 'mlp-tiny', '--dataset', 'mnist', '--json');
  assert.equal(p.code, 0, err(p.ctx));
  assert.equal(p.json!['testAccuracy'], acc);
  const wrong = await cli('eval', '--model', ckpt, '--preset', 'mlp', '--dataset', 'mnist');
  assert.equal(wrong.code, 1);
  assert.match(err(wrong.ctx), /shape \(64, 784\) in the state dict vs \(300, 784\) in the model/);

  const s = await cli('summary', ckpt, '--json');
  assert.equal(s.code, 0, err(s.ctx));
  assert.equal(s.json!['params'], 50_890);
  assert.equal(s.json!['flops'], (2 * 784 * 64 + 64) + 64 + (2 * 64 * 10 + 10));
  const h = await cli('summary', ckpt);
  assert.match(out(h.ctx), /Linear\(784 -> 64\)/);
  assert.match(out(h.ctx), /on disk/);
});

test('train --resume continues to the same weights as an uninterrupted run', async () => {
  const full = join(dir, 'full.safetensors');
  const half = join(dir, 'half.safetensors');
  const a = await cli('train', '--model', 'mlp-tiny', '--dataset', 'mnist', '--steps', '12', '--batch-size', '32', '--seed', '3', '--out', full, '--json');
  assert.equal(a.code, 0, err(a.ctx));
  const b1 = await cli('train', '--model', 'mlp-tiny', '--dataset', 'mnist', '--steps', '5', '--batch-size', '32', '--seed', '3', '--out', half, '--json');
  assert.equal(b1.code, 0, err(b1.ctx));
  const b2 = await cli('train', '--dataset', 'mnist', '--steps', '12', '--batch-size', '32', '--resume', half, '--out', half, '--json');
  assert.equal(b2.code, 0, err(b2.ctx));
  assert.equal(b2.json!['resumedFrom'], half);
  assert.equal(b2.json!['testAccuracy'], a.json!['testAccuracy']);
  assert.equal(b2.json!['testLoss'], a.json!['testLoss']);
  // the weights themselves, bitwise: the model tensors of both files
  const { loadCheckpoint } = await import('../../src/io/index.js');
  const fa = loadCheckpoint(full).model;
  const fb = loadCheckpoint(half).model;
  for (const [k, t] of fa) assert.deepEqual(fb.get(k)!.dataSync(), t.dataSync(), k);
  // a resume with a different optimizer is refused
  const c = await cli('train', '--dataset', 'mnist', '--steps', '14', '--batch-size', '32', '--optimizer', 'sgd', '--resume', half);
  assert.equal(c.code, 1);
  assert.match(err(c.ctx), /trained with Adam, not SGD; pass the same --optimizer/);
});

test('demo --json with a tiny budget: dense, pruned, student alone, distilled student, int8, pruned + int8', async () => {
  const r = await cli('demo', '--steps', '5', '--temperature', '2', '--alpha', '0.7', '--out-dir', join(dir, 'demo'), '--json');
  assert.equal(r.code, 0, err(r.ctx));
  const rows = r.json!['rows'] as Record<string, number | string>[];
  // the dense row (the teacher), the pruned row, then the student trained alone and distilled
  assert.deepEqual(rows.map((x) => x['stage']), ['dense (trained)', 'pruned 90% (CSR)', 'student alone', 'distilled student', 'int8 (static)', 'pruned 90% + int8']);
  // int8: the same 266,610 parameters at about a quarter of the float32 file; pruned + int8 coded, smaller than the CSR file
  const [int8, prunedInt8] = [rows[4]!, rows[5]!];
  assert.equal(int8['params'], 266_610);
  assert.ok((int8['bytesOnDisk'] as number) < 0.27 * (rows[0]!['bytesOnDisk'] as number), `int8 ${int8['bytesOnDisk']}`);
  assert.equal(prunedInt8['params'], 266_610);
  assert.equal(prunedInt8['nonzeroParams'], rows[1]!['nonzeroParams']);
  assert.ok((prunedInt8['bytesOnDisk'] as number) < 0.5 * (rows[1]!['bytesOnDisk'] as number), `pruned + int8 ${prunedInt8['bytesOnDisk']} vs CSR ${rows[1]!['bytesOnDisk']}`);
  assert.ok(existsSync(prunedInt8['file'] as string) && (prunedInt8['latencyBatch1'] as number) > 0);
  assert.equal(rows[0]!['params'], 266_610);
  // 90% of the weights removed (biases kept): far fewer non-zeros, a smaller file
  assert.ok((rows[1]!['nonzeroParams'] as number) < 266_610 * 0.15, `non-zero ${rows[1]!['nonzeroParams']}`);
  assert.ok((rows[1]!['bytesOnDisk'] as number) < (rows[0]!['bytesOnDisk'] as number));
  assert.ok((rows[0]!['bytesOnDisk'] as number) > 266_610 * 4); // float32 weights + header
  assert.ok((rows[0]!['latencyBatch1'] as number) > 0);
  assert.ok(existsSync(rows[0]!['file'] as string));
  // the default student, mlp-tiny: 784*64 + 64 + 64*10 + 10 = 50,890 parameters, dense, in both rows
  for (const row of rows.slice(2, 4)) {
    assert.equal(row['model'], 'mlp-tiny');
    assert.equal(row['params'], 50_890);
    assert.equal(row['nonzeroParams'], 50_890);
    assert.ok((row['bytesOnDisk'] as number) > 50_890 * 4 && (row['bytesOnDisk'] as number) < (rows[0]!['bytesOnDisk'] as number));
    assert.ok(existsSync(row['file'] as string));
    assert.ok((row['latencyBatch256'] as number) > 0);
  }
  const d = r.json!['distillation'] as Record<string, number | string | null>;
  assert.equal(d['temperature'], 2);
  assert.equal(d['alpha'], 0.7);
  assert.equal(d['teacher'], 'mlp');
  assert.equal(d['student'], 'mlp-tiny');
  assert.equal(d['steps'], 5);
  assert.equal(d['teacherAccuracy'], rows[0]!['testAccuracy']);
  assert.equal(d['studentAloneAccuracy'], rows[2]!['testAccuracy']);
  assert.equal(d['distilledAccuracy'], rows[3]!['testAccuracy']);
  assert.match(err(r.ctx), /\[1\] train mlp/); // human text went to stderr
  assert.match(err(r.ctx), /\[4\] distill mlp .* into mlp-tiny .*T 2, alpha 0\.7/);
});

test('demo: with a negligible alpha the distilled student is the student trained alone (same weights, data order, budget)', async () => {
  // alpha = 1e-6 leaves (almost only) the hard-label cross-entropy, so both runs must end at the
  // same loss: the 'student alone' row differs from the 'distilled student' row by the teacher
  // alone (same initial weights, and the transfer set [x, y, teacher logits] is shuffled in the
  // same order as the plain training set)
  const r = await cli('demo', '--steps', '5', '--alpha', '0.000001', '--out-dir', join(dir, 'demo-alpha0'), '--json');
  assert.equal(r.code, 0, err(r.ctx));
  const rows = r.json!['rows'] as Record<string, number | string>[];
  const [alone, distilled] = [rows[2]!['testLoss'] as number, rows[3]!['testLoss'] as number];
  assert.ok(Math.abs(alone - distilled) < 1e-4 * alone, `alone ${alone}, distilled ${distilled}`);
  assert.equal(rows[3]!['testAccuracy'], rows[2]!['testAccuracy']);
  assert.equal((r.json!['distillation'] as Record<string, number>)['alpha'], 1e-6);
});

test('demo refuses bad distillation settings before training', async () => {
  for (const [argv, re] of [
    [['--student', 'gpt'], /--student must be one of mlp, mlp-large/],
    [['--temperature', '0'], /--temperature/],
    [['--alpha', '1.5'], /--alpha/],
    [['--student-epochs', '0'], /--student-epochs/],
    [['--student-epochs', '2'], /give --student-epochs or --steps, not both/],
  ] as const) {
    const r = await cli('demo', '--steps', '1', ...argv);
    assert.equal(r.code, 2, argv.join(' '));
    assert.match(err(r.ctx), re);
    assert.doesNotMatch(err(r.ctx), /\[1\] train/, 'refused before training');
  }
});

test('as a process: exit code and stdout/stderr separation', () => {
  const tsx = join(process.cwd(), 'node_modules', '.bin', 'tsx');
  const ok = execFileSync(tsx, ['src/cli/main.ts', 'info', '--json'], { encoding: 'utf8' });
  const info = JSON.parse(ok.trim().split('\n').at(-1)!) as { backend: string; backends: string[] };
  assert.ok(info.backends.includes(info.backend));
  const bad = spawnSync(tsx, ['src/cli/main.ts', 'train', '--bogus'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.equal(bad.stdout, '');
  assert.match(bad.stderr, /unknown option '--bogus'/);
});

test('bin/tensorslim.js without a build says how to build', () => {
  const root = join(dir, 'unbuilt');
  mkdirSync(join(root, 'bin'), { recursive: true });
  copyFileSync(join(process.cwd(), 'bin', 'tensorslim.js'), join(root, 'bin', 'tensorslim.js'));
  writeFileSync(join(root, 'package.json'), '{"type": "module"}');
  const r = spawnSync(process.execPath, [join(root, 'bin', 'tensorslim.js'), 'info'], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /the CLI is not built .*dist\/cli\/index\.js is missing/);
  assert.match(r.stderr, /npm run build/);
});
