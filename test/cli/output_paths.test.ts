// Output-path rules of every command (issue 14, defects 1, 4, 5, 6 and 8), in-process through main():
// an existing --out that is not a regular file (device node, FIFO, socket, dangling link) is refused
// with exit 2 and left as it was; a symlink to a regular file is written through; an --out that is
// the command's own input (by inode: './x', 'd/../d/x', a symlink, a hard link) is refused; an
// --out in a directory that takes no files (/proc) is refused before any training; `demo --out-dir`
// inside /proc fails at once; a killed writer's temporary file is removed by the next write.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, test } from 'node:test';

import { cli, trainTinyCheckpoint } from './helpers.js';
import { loadCheckpoint, saveSafetensors } from '../../src/io/index.js';
import * as ops from '../../src/ops/index.js';

const dir = mkdtempSync(join(tmpdir(), 'tensorslim-outpaths-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const ckpt = join(dir, 'tiny.safetensors');
before(async () => { await trainTinyCheckpoint(ckpt); });

const train = (out: string): Promise<Awaited<ReturnType<typeof cli>>> => cli('train', '--model', 'mlp-tiny', '--dataset', 'mnist', '--steps', '2', '--out', out);
const isRoot = process.getuid?.() === 0;

test('train --out onto a character device node is refused (exit 2) and the node stays a device', { skip: isRoot ? false : 'mknod needs root' }, async () => {
  const node = join(dir, 'null-copy');
  execFileSync('mknod', [node, 'c', '1', '3']);
  const r = await train(node);
  assert.equal(r.code, 2, r.ctx.stderr.join('\n'));
  assert.match(r.ctx.stderr.join('\n'), /character device, not a regular file/);
  assert.ok(lstatSync(node).isCharacterDevice());
});

test('train --out onto a FIFO or a dangling symlink is refused (exit 2); neither is replaced', async () => {
  const fifo = join(dir, 'pipe');
  execFileSync('mkfifo', [fifo]);
  const r = await train(fifo);
  assert.equal(r.code, 2, r.ctx.stderr.join('\n'));
  assert.match(r.ctx.stderr.join('\n'), /FIFO/);
  assert.ok(lstatSync(fifo).isFIFO());
  const dangling = join(dir, 'dangling.safetensors');
  symlinkSync(join(dir, 'nowhere', 'x.safetensors'), dangling);
  const r2 = await train(dangling);
  assert.equal(r2.code, 2);
  assert.match(r2.ctx.stderr.join('\n'), /symbolic link to a missing file/);
  assert.ok(lstatSync(dangling).isSymbolicLink());
});

test('train --out through a symlink to a regular file writes the file it points to; the link stays', async () => {
  const real = join(dir, 'real.safetensors');
  writeFileSync(real, 'old');
  const link = join(dir, 'latest.safetensors');
  symlinkSync(real, link);
  const r = await train(link);
  assert.equal(r.code, 0, r.ctx.stderr.join('\n'));
  assert.ok(lstatSync(link).isSymbolicLink());
  assert.equal(loadCheckpoint(real).step, 2);
});

test('prune --out equal to its own --model, by any spelling, is refused and the checkpoint is untouched', async () => {
  const before = readFileSync(ckpt);
  const sub = join(dir, 'sub');
  mkdirSync(sub);
  const link = join(dir, 'link-to-tiny.safetensors');
  symlinkSync(ckpt, link);
  const hard = join(dir, 'hard-tiny.safetensors');
  linkSync(ckpt, hard);
  const spellings = [ckpt, join(dir, '.', basename(ckpt)), join(sub, '..', basename(ckpt)), link, hard];
  for (const out of spellings) {
    const r = await cli('prune', '--model', ckpt, '--dataset', 'mnist', '--finetune-steps', '1', '--out', out);
    assert.equal(r.code, 2, `${out}: ${r.ctx.stderr.join('\n')}`);
    assert.match(r.ctx.stderr.join('\n'), /same file as --model/);
  }
  assert.deepEqual(readFileSync(ckpt), before);
});

test('distill --out that is the teacher through a symlink or dir/../ is refused', async () => {
  const before = readFileSync(ckpt);
  const link = join(dir, 'teacher-link.safetensors');
  symlinkSync(ckpt, link);
  for (const out of [link, join(dir, 'sub2', '..', basename(ckpt))]) {
    mkdirSync(join(dir, 'sub2'), { recursive: true });
    const r = await cli('distill', '--teacher', ckpt, '--student', 'mlp-tiny', '--dataset', 'mnist', '--steps', '1', '--out', out);
    assert.equal(r.code, 2, r.ctx.stderr.join('\n'));
    assert.match(r.ctx.stderr.join('\n'), /same file as --teacher/);
  }
  assert.deepEqual(readFileSync(ckpt), before);
});

test('train --resume X --out X stays allowed (continuing a run in place is documented)', async () => {
  const own = join(dir, 'own.safetensors');
  assert.equal((await train(own)).code, 0);
  const r = await cli('train', '--dataset', 'mnist', '--steps', '3', '--resume', own, '--out', own);
  assert.equal(r.code, 0, r.ctx.stderr.join('\n'));
  assert.equal(loadCheckpoint(own).step, 3);
});

test('train --out into a directory that takes no files (/proc) is refused before training, naming the cause', { skip: existsSync('/proc/self') ? false : 'no /proc' }, async () => {
  const r = await cli('train', '--model', 'mlp-tiny', '--dataset', 'mnist', '--epochs', '3', '--out', '/proc/tensorslim.safetensors');
  assert.equal(r.code, 2, r.ctx.stderr.join('\n'));
  const err = r.ctx.stderr.join('\n');
  assert.match(err, /cannot create files in \/proc/);
  assert.doesNotMatch(err, /create it first|epoch 1/);
});

test('demo --out-dir inside /proc fails at once (exit 2); a nested new --out-dir is created', { skip: existsSync('/proc/self') ? false : 'no /proc' }, async () => {
  const r = await cli('demo', '--steps', '1', '--out-dir', '/proc/tensorslim-demo/a');
  assert.equal(r.code, 2, r.ctx.stderr.join('\n'));
  assert.match(r.ctx.stderr.join('\n'), /cannot create files in \/proc/);
  const { checkOutputDirectory } = await import('../../src/cli/paths.js');
  const nested = join(dir, 'n1', 'n2');
  checkOutputDirectory('demo', 'out-dir', nested);
  assert.ok(statSync(nested).isDirectory());
  writeFileSync(join(dir, 'plain'), 'x');
  assert.throws(() => checkOutputDirectory('demo', 'out-dir', join(dir, 'plain')), /not a directory/);
});

test('a write removes temporary files left by killed writers of the same file, not those of live ones', () => {
  const out = join(dir, 'w.safetensors');
  // pid 2^22 + 1 is above Linux's largest pid_max, so no process has it; pid 1 always runs
  const dead = join(dir, `.w.safetensors.${2 ** 22 + 1}.0a1b2c3d.tmp`);
  const live = join(dir, '.w.safetensors.1.0a1b2c3d.tmp');
  const other = join(dir, `.other.safetensors.${2 ** 22 + 1}.0a1b2c3d.tmp`);
  for (const f of [dead, live, other]) writeFileSync(f, 'partial');
  saveSafetensors(out, new Map([['w', ops.zeros([2])]]));
  assert.ok(!existsSync(dead));
  assert.ok(existsSync(live));
  assert.ok(existsSync(other));
  assert.ok(!readdirSync(dir).some((f) => f.startsWith('.w.safetensors.') && f !== basename(live)));
});
