// Two "hosts": each rank runs in its own Linux network namespace, joined by a veth pair, so the
// rendezvous and Gloo's pairs cross a real (virtual) link instead of loopback. Needs root and
// `ip netns`; skips with the reason otherwise (CI runs it as root).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { glooSkip, lastJson, runWorkers } from './helpers.js';

const ip = (...args: string[]): { ok: boolean; err: string } => {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  return { ok: r.status === 0, err: `${r.stderr ?? ''}${r.error?.message ?? ''}`.trim() };
};

function makeLink(): { names: [string, string]; addrs: [string, string]; cleanup: () => void } | string {
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  const tag = `ts${process.pid % 100000}`;
  const names: [string, string] = [`${tag}a`, `${tag}b`];
  const subnet = 1 + (process.pid % 250);
  const addrs: [string, string] = [`10.99.${subnet}.1`, `10.99.${subnet}.2`];
  const cleanup = (): void => { for (const n of names) ip('netns', 'del', n); };
  cleanup();
  const steps: string[][] = [
    ['netns', 'add', names[0]], ['netns', 'add', names[1]],
    ['link', 'add', `${tag}va`, 'type', 'veth', 'peer', 'name', `${tag}vb`],
    ['link', 'set', `${tag}va`, 'netns', names[0]], ['link', 'set', `${tag}vb`, 'netns', names[1]],
    ['-n', names[0], 'addr', 'add', `${addrs[0]}/30`, 'dev', `${tag}va`], ['-n', names[1], 'addr', 'add', `${addrs[1]}/30`, 'dev', `${tag}vb`],
    ['-n', names[0], 'link', 'set', `${tag}va`, 'up'], ['-n', names[1], 'link', 'set', `${tag}vb`, 'up'],
    ['-n', names[0], 'link', 'set', 'lo', 'up'], ['-n', names[1], 'link', 'set', 'lo', 'up'],
  ];
  for (const s of steps) {
    const r = ip(...s);
    if (!r.ok) { cleanup(); return `cannot make network namespaces (ip ${s.join(' ')}: ${r.err})`; }
  }
  return { names, addrs, cleanup };
}

// Probe once (make and remove the namespaces) to know whether to skip; the test makes its own.
function probe(): string | false {
  const l = makeLink();
  if (typeof l === 'string') return l;
  l.cleanup();
  return false;
}
const skip = glooSkip() || probe();

test('collectives between two network namespaces over a veth link', { skip, timeout: 120_000 }, async () => {
  const link = makeLink();
  if (typeof link === 'string') throw new Error(link);
  try {
    const res = await runWorkers('collectives', 2, {
      timeoutMs: 100_000,
      prefix: (rank) => ['ip', 'netns', 'exec', link.names[rank]!],
      perRank: () => ({ MASTER_ADDR: link.addrs[0] }),
    });
    for (const r of res) assert.equal(r.code, 0, `rank ${r.rank} failed:\n${r.stderr}`);
    for (const r of res) assert.deepEqual(lastJson<{ sum: number[] }>(r).sum, [3, 30, -1]); // [r+1, 10(r+1), -r] over ranks 0, 1
  } finally {
    link.cleanup();
  }
});
