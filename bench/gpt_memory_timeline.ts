// Where a GPT training step's memory goes: resident set size, V8's external (ArrayBuffer) bytes and
// the storage pool's free bytes after model setup, after each forward (loss), backward and
// optimizer step, for a few steps, and the process CPU time and minor page faults per step after the first. One process,
// ours only; prints one JSON line (with `knobs`, the TENSORSLIM_* variables it ran with).
//   usage: npx tsx bench/gpt_memory_timeline.ts [preset=gpt2] [steps=2] [--unfused-loss] [--checkpointing] [--fine] [--gc] [--step-scope]
// --step-scope runs each step in a step scope (StepScope with the model as root, releaseGrads and
// releaseSaved, as bench gpt does; --keep-saved: without releaseSaved, as the Trainer) and reports the pool's fresh bytes per step and its free bytes per size
// class at the highest sample.
// --fine also samples after each block's forward and each parameter's gradient (backward), and
// reports the sample where the peak RSS was reached with its breakdown (tensor storage, V8 heap,
// the glibc heap's resident bytes from /proc/self/smaps). --gc (run node with --expose-gc:
// `node --expose-gc --import tsx bench/gpt_memory_timeline.ts gpt2 3 --fine --gc`) collects garbage
// before every sample, so arrayBuffers is the live tensor storage (slower; it changes when V8
// would have collected, so read the peak of a run without --gc).
import { readFileSync } from 'node:fs';
import { Generator, manualSeed } from '../src/core/random.js';
import * as ops from '../src/ops/index.js';
import { AdamW } from '../src/optim/index.js';
import { GPT, gptLoss, type GptConfig } from '../src/models/gpt.js';
import { gptBenchPreset, type GptBenchPreset } from '../src/bench/gpt.js';
import { poolFreeByClass, poolStats } from '../src/backend/pool.js';
import { StepScope } from '../src/autograd/tidy.js';
import { registerPostAccumulateGradHook } from '../src/autograd/index.js';
import { getBackend } from '../src/backend/registry.js';
import { tensorslimKnobs } from './common.js';

const args = process.argv.slice(2);
const preset = (args.find((a) => !a.startsWith('--') && Number.isNaN(Number(a))) ?? 'gpt2') as GptBenchPreset;
const steps = Number(args.find((a) => !Number.isNaN(Number(a))) ?? 2);
const fused = !args.includes('--unfused-loss');
const fine = args.includes('--fine');
const gcEach = args.includes('--gc');
const scoped = args.includes('--step-scope');
const gc = (globalThis as { gc?: () => void }).gc;
if (gcEach && gc === undefined) throw new Error('--gc needs node --expose-gc');
const p = gptBenchPreset(preset);
const config: GptConfig = { arch: 'gpt', ...p.model, checkpointing: args.includes('--checkpointing') };
const mb = (b: number): number => Math.round(b / 2 ** 20);
// --trim-at=opt,grad: call the backend's trimHeap (malloc_trim) after each optimizer step and/or after
// each parameter's gradient, when the C heap holds at least --trim-mb MiB free (default 0)
const trimAt = new Set((args.find((a) => a.startsWith('--trim-at='))?.slice(10) ?? '').split(',').filter((w) => w !== ''));
const trimMB = Number(args.find((a) => a.startsWith('--trim-mb='))?.slice(10) ?? 0);
const trimStats = { calls: 0, trims: 0, us: 0 };
const trim = (): void => {
  const b = getBackend();
  if (!b.trimHeap) throw new Error('--trim-at needs the native backend');
  const r = b.trimHeap(trimMB * 2 ** 20);
  trimStats.calls++;
  if (r.trimmed) { trimStats.trims++; trimStats.us += r.trimUs; }
};

// resident KiB of the glibc main heap ([heap], brk) and of anonymous mappings (other arenas, mmapped
// blocks), and the anonymous mappings with at least 16 MiB resident ([size MiB, resident MiB])
function heapResidentMiB(): { heap: number; anon: number; bigAnon: number[][] } {
  let heap = 0, anon = 0, cur = '', size = 0;
  const bigAnon: number[][] = [];
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) {
      const f = line.trim().split(/\s+/); cur = f.length >= 6 ? f[5]! : '';
      const [a, b] = f[0]!.split('-').map((h) => parseInt(h, 16)); size = (b! - a!) / 2 ** 20;
      continue;
    }
    if (line.startsWith('Rss:')) {
      const kb = Number(line.split(/\s+/)[1]);
      if (cur === '[heap]') heap += kb; else if (cur === '') { anon += kb; if (kb >= 16384) bigAnon.push([Math.round(size), Math.round(kb / 1024)]); }
    }
  }
  return { heap: Math.round(heap / 1024), anon: Math.round(anon / 1024), bigAnon };
}
// the C heap as glibc counts it (all arenas): bytes held from the system and free bytes inside
const mallocMiB = (): { mallocHeapMiB?: number; mallocFreeMiB?: number } => {
  const r = getBackend().trimHeap?.(Number.MAX_SAFE_INTEGER);
  return r?.available ? { mallocHeapMiB: mb(r.heapBytes), mallocFreeMiB: mb(r.freeBytes) } : {};
};

interface Mark { poolByClassMiB?: Record<string, number>; at: string; rssMiB: number; arrayBuffersMiB: number; heapUsedMiB: number; heapTotalMiB: number; poolFreeMiB: number; maxRssMiB: number; mallocHeapMiB?: number; mallocFreeMiB?: number; glibcHeapMiB?: number; otherAnonMiB?: number; bigAnon?: number[][] }
const marks: Mark[] = [];
const fineMarks: Mark[] = [];
let peak: Mark | null = null;
// the pool's free bytes per size class (MiB, classes with at least 1 MiB) at the highest sample
let peakPool: { at: string; rssMiB: number; poolByClassMiB: Record<string, number> } | null = null;
const byClassMiB = (): Record<string, number> => {
  const r: Record<string, number> = {};
  for (const [cls, bytes] of poolFreeByClass()) if (bytes >= 2 ** 20) r[`${(cls / 2 ** 20).toFixed(2)} MiB`] = mb(bytes);
  return r;
};
const freshMiB: number[] = [];
const sample = (at: string, into: Mark[]): void => {
  if (gcEach) gc!();
  const m = process.memoryUsage();
  const s: Mark = { at, rssMiB: mb(m.rss), arrayBuffersMiB: mb(m.arrayBuffers), heapUsedMiB: mb(m.heapUsed), heapTotalMiB: mb(m.heapTotal), poolFreeMiB: mb(poolStats().freeBytes), maxRssMiB: mb(process.resourceUsage().maxRSS * 1024), ...mallocMiB() };
  into.push(s);
  if (peakPool === null || s.rssMiB > peakPool.rssMiB) peakPool = { at, rssMiB: s.rssMiB, poolByClassMiB: byClassMiB() };
  if (fine && (peak === null || s.rssMiB > peak.rssMiB)) { const h = heapResidentMiB(); peak = { ...s, glibcHeapMiB: h.heap, otherAnonMiB: h.anon, bigAnon: h.bigAnon }; }
};
const mark = (at: string): void => sample(at, marks);

const baseline = { rssMiB: mb(process.memoryUsage().rss) };
manualSeed(7);
const model = new GPT(config);
const opt = new AdamW(model.parameters(), { lr: 3e-4 });
const gen = new Generator(7);
const x = ops.randint(0, config.vocabSize, [p.batch, config.blockSize], { dtype: 'int32', generator: gen });
const y = ops.randint(0, config.vocabSize, [p.batch, config.blockSize], { dtype: 'int32', generator: gen });
let stepNo = 0;
if (fine) {
  [...model.transformer.h].forEach((b, i) => b.registerForwardHook(() => { sample(`step ${stepNo} block ${i} forward`, fineMarks); }));
  for (const [name, prm] of model.namedParameters()) registerPostAccumulateGradHook(prm, () => sample(`step ${stepNo} grad ${name}`, fineMarks));
}
if (trimAt.has('grad')) for (const prm of model.parameters()) registerPostAccumulateGradHook(prm, trim);
mark('setup');
let cpu0 = process.cpuUsage();
let faults0 = process.resourceUsage().minorPageFault;
for (let s = 0; s < steps; s++) {
  stepNo = s;
  if (s === 1) { cpu0 = process.cpuUsage(); faults0 = process.resourceUsage().minorPageFault; }   // step 0 is the warm-up (Adam's state is made there)
  const fresh0 = poolStats().freshBytes;
  const scope = scoped ? new StepScope({ roots: [model], releaseGrads: true, releaseSaved: !args.includes('--keep-saved') }) : null;
  opt.zeroGrad();
  const loss = fused ? model.loss(x, y) : gptLoss(model.call(x), y);
  mark(`step ${s} forward`);
  loss.backward();
  mark(`step ${s} backward`);
  opt.step();
  loss.item();
  scope?.close();
  if (trimAt.has('opt')) trim();
  mark(`step ${s} optimizer`);
  freshMiB.push(mb(poolStats().freshBytes - fresh0));
}
const cpu = process.cpuUsage(cpu0);
const cpuMsPerStep = steps > 1 ? (cpu.user + cpu.system) / 1000 / (steps - 1) : null;
const sysMsPerStep = steps > 1 ? cpu.system / 1000 / (steps - 1) : null;   // the kernel's share (page faults, mmap, madvise)
// page faults (minor: pages mapped on first touch) per step after the first: what fresh memory costs, unmoved by load
const minorFaultsPerStep = steps > 1 ? (process.resourceUsage().minorPageFault - faults0) / (steps - 1) : null;
const paramMiB = mb(model.parameters().reduce((a, t) => a + t.size * 4, 0));
process.stdout.write(`${JSON.stringify({
  preset, fused, checkpointing: config.checkpointing, stepScope: scoped, freshMiBPerStep: freshMiB, peakPool, gcEachSample: gcEach, cpuMsPerStep, sysMsPerStep, minorFaultsPerStep, peakRssBytes: process.resourceUsage().maxRSS * 1024,
  startRssMiB: baseline.rssMiB, paramMiB, trimAt: [...trimAt], trimMB, trimStats, knobs: tensorslimKnobs(), marks, ...(fine ? { peakSample: peak, fine: fineMarks } : {}),
})}\n`);
