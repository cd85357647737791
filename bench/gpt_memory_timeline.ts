// Where a GPT training step's memory goes: resident set size, V8's external (ArrayBuffer) bytes and
// the storage pool's free bytes after model setup, after each forward (loss), backward and
// optimizer step, for a few steps, and the process CPU time per step after the first. One process,
// ours only; prints one JSON line.
//   usage: npx tsx bench/gpt_memory_timeline.ts [preset=gpt2] [steps=2] [--unfused-loss] [--checkpointing]
import { Generator, manualSeed } from '../src/core/random.js';
import * as ops from '../src/ops/index.js';
import { AdamW } from '../src/optim/index.js';
import { GPT, gptLoss, type GptConfig } from '../src/models/gpt.js';
import { gptBenchPreset, type GptBenchPreset } from '../src/bench/gpt.js';
import { poolStats } from '../src/backend/pool.js';

const args = process.argv.slice(2);
const preset = (args.find((a) => !a.startsWith('--') && Number.isNaN(Number(a))) ?? 'gpt2') as GptBenchPreset;
const steps = Number(args.find((a) => !Number.isNaN(Number(a))) ?? 2);
const fused = !args.includes('--unfused-loss');
const p = gptBenchPreset(preset);
const config: GptConfig = { arch: 'gpt', ...p.model, checkpointing: args.includes('--checkpointing') };
const mb = (b: number): number => Math.round(b / 2 ** 20);
const marks: { at: string; rssMiB: number; arrayBuffersMiB: number; poolFreeMiB: number; maxRssMiB: number }[] = [];
const mark = (at: string): void => {
  const m = process.memoryUsage();
  marks.push({ at, rssMiB: mb(m.rss), arrayBuffersMiB: mb(m.arrayBuffers), poolFreeMiB: mb(poolStats().freeBytes), maxRssMiB: mb(process.resourceUsage().maxRSS * 1024) });
};
manualSeed(7);
const model = new GPT(config);
const opt = new AdamW(model.parameters(), { lr: 3e-4 });
const gen = new Generator(7);
const x = ops.randint(0, config.vocabSize, [p.batch, config.blockSize], { dtype: 'int32', generator: gen });
const y = ops.randint(0, config.vocabSize, [p.batch, config.blockSize], { dtype: 'int32', generator: gen });
mark('setup');
let cpu0 = process.cpuUsage();
for (let s = 0; s < steps; s++) {
  if (s === 1) cpu0 = process.cpuUsage();   // step 0 is the warm-up (Adam's state is made there)
  opt.zeroGrad();
  const loss = fused ? model.loss(x, y) : gptLoss(model.call(x), y);
  mark(`step ${s} forward`);
  loss.backward();
  mark(`step ${s} backward`);
  opt.step();
  mark(`step ${s} optimizer`);
}
const cpu = process.cpuUsage(cpu0);
const cpuMsPerStep = steps > 1 ? (cpu.user + cpu.system) / 1000 / (steps - 1) : null;
process.stdout.write(`${JSON.stringify({ preset, fused, checkpointing: config.checkpointing, cpuMsPerStep, peakRssBytes: process.resourceUsage().maxRSS * 1024, marks })}\n`);
