// Greedy generation of the GPT-2-sized model (bench gpt --preset gpt2 --generate's shape: 12 layers,
// d_model 768, vocabulary 50,257, random weights, seed 7) with float32 weights and with weight-only
// int8 / int4 g64 weights (embeddings quantized too, the tied LM head reading the token table), and
// the PyTorch peer (bench/peer_gpt.py --generate: float32, the faster of 1 and 2 threads) in the same
// run, rounds interleaved; decode tokens/s after the first token, medians of the rounds.
//   npx tsx bench/gpt2_weight_only_generate.ts [newTokens=32] [rounds=3]     (BENCH_THREADS, default 2)
// Records benchmark 'gpt2-weight-only-generate' (bench/results/) with the machine and the load.
import os from 'node:os';
import { GPT, Generator, manualSeed, randint } from '../src/index.js';
import { setNumThreads } from '../src/backends/native/index.js';
import { gptBenchPreset } from '../src/bench/gpt.js';
import { quantizeWeightOnly } from '../src/compress/quant/index.js';
import { machineInfo, median, peerEnv, runJson, writeResult, type Json } from './common.js';

const newTokens = Number(process.argv[2] ?? 32), rounds = Number(process.argv[3] ?? 3), promptTokens = 32;
const threads = Number(process.env['BENCH_THREADS'] ?? 2);
setNumThreads(threads);
const build = (): GPT => { manualSeed(7); const m = new GPT({ arch: 'gpt', ...gptBenchPreset('gpt2').model, checkpointing: false }); m.eval(); return m; };
const models: Record<string, GPT> = { float32: build() };
for (const [name, bits, groupSize] of [['int8 (embeddings int8)', 8, undefined], ['int4 g64 (embeddings int4 g64)', 4, 64]] as const) {
  const m = build();
  quantizeWeightOnly(m, { bits, ...(groupSize !== undefined ? { groupSize } : {}), embeddings: true });
  models[name] = m;
}
const prompt = randint(0, 50257, [1, promptTokens], { dtype: 'int32', generator: new Generator(7) });
for (const m of Object.values(models)) m.generate(prompt, 2, { temperature: 0 });
const load0 = os.loadavg()[0];
const decode: Record<string, number[]> = {}, cpuPerToken: Record<string, number[]> = {};
const peerRuns: Json[] = [];
for (let r = 0; r < rounds; r++) {
  for (const [name, m] of Object.entries(models)) {
    let tFirst = 0n, tLast = 0n, cFirst = 0;
    m.generate(prompt, newTokens, {
      temperature: 0,
      onToken: (_t, step) => { const now = process.hrtime.bigint(); if (step === 0) { tFirst = now; const c = process.cpuUsage(); cFirst = c.user + c.system; } tLast = now; },
    });
    const c = process.cpuUsage();
    (decode[name] ??= []).push((newTokens - 1) / (Number(tLast - tFirst) / 1e9));
    (cpuPerToken[name] ??= []).push((c.user + c.system - cFirst) / 1000 / (newTokens - 1));
  }
  peerRuns.push(runJson('/usr/bin/python3', ['bench/peer_gpt.py', '1', '1', '--preset', 'gpt2', '--generate', String(newTokens), '--prompt', String(promptTokens), '--threads-list', '1,2'], peerEnv()));
}
const peerDecode = median(peerRuns.map((p) => p['decodeTokensPerSecond'] as number));
const ours = Object.fromEntries(Object.keys(models).map((k) => [k, { decodeTokensPerSecond: median(decode[k]!), cpuMsPerToken: median(cpuPerToken[k]!), runs: decode[k]!, vsFloat32: median(decode[k]!) / median(decode['float32']!), vsTorch: median(decode[k]!) / peerDecode }]));
const result = {
  date: new Date().toISOString(), machine: machineInfo({ threads }),
  workload: `GPT-2-sized model (random weights), batch 1, prompt ${promptTokens}, ${newTokens} new tokens, greedy, key/value cache`,
  loadavgAtStart: load0, rounds, ours, peer: { decodeTokensPerSecond: peerDecode, runs: peerRuns },
};
const files = writeResult('gpt2-weight-only-generate', result);
process.stdout.write(`${JSON.stringify({ ...files, ours, peerDecode })}\n`);
