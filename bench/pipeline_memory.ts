// Pipeline schedules compared (issue #13): GPipe against 1F1B for gpt-tiny (4 blocks, width 128,
// context 128) on 2 stages with 8 micro-batches of 2 sequences, measuring per rank the peak number
// of micro-batches whose activations were stashed at once, the process's peak resident memory
// (each schedule in fresh processes, so maxRSS belongs to that schedule) and the step time
// (orientation only: 2 shared cores, 1 thread per rank). Both schedules in the same run.
//   npx tsx bench/pipeline_memory.ts        # writes bench/results/pipeline-memory.json
// Run as a rank (RANK set by the launcher) it measures one schedule: argv schedule (gpipe|1f1b).
import os from 'node:os';
import { SGD, createGpt, manualSeed, randint } from '../src/index.js';
import { GPipeGPT, destroyProcessGroup, getRank, getWorldSize, initProcessGroup, launch, type PipelineSchedule } from '../src/distributed/index.js';
import { machineInfo, root, writeResult, type Json } from './common.js';

const MICRO = 8;
const BATCH = 16;
const STEPS = 2;

async function rankMain(schedule: PipelineSchedule): Promise<void> {
  await initProcessGroup({ backend: 'gloo' });
  manualSeed(1);
  const model = createGpt('gpt-tiny', { dropout: 0 });
  const t = model.config.blockSize;
  const idx = randint(0, model.config.vocabSize, [BATCH, t], { dtype: 'int32' });
  const tgt = randint(0, model.config.vocabSize, [BATCH, t], { dtype: 'int32' });
  const pipe = new GPipeGPT(model, { microBatches: MICRO, schedule });
  const opt = new SGD(pipe.parameters(), { lr: 0.01 });
  const rssBefore = process.memoryUsage().rss;
  const times: number[] = [];
  let loss = 0;
  for (let s = 0; s <= STEPS; s++) {
    const t0 = performance.now();
    opt.zeroGrad();
    loss = await pipe.trainStep(idx, tgt);
    opt.step();
    if (s > 0) times.push(performance.now() - t0);
  }
  console.log(JSON.stringify({ rank: getRank(), world: getWorldSize(), schedule, peakStashed: pipe.peakStashed, rssBeforeBytes: rssBefore, peakRssBytes: process.resourceUsage().maxRSS * 1024, stepMs: times.reduce((a, b) => a + b, 0) / times.length, loss }));
  await destroyProcessGroup();
}

async function driver(): Promise<void> {
  const loadavgAtStart = os.loadavg();
  const rows: Json[] = [];
  for (const round of [0, 1]) {
    for (const schedule of (round === 0 ? ['gpipe', '1f1b'] : ['1f1b', 'gpipe'])) {
      const lines: Json[] = [];
      const h = launch({
        nprocPerNode: 2, masterPort: 20000 + Math.floor(Math.random() * 20000),
        command: [process.execPath, '--import', 'tsx', `${root}/bench/pipeline_memory.ts`, schedule],
        env: { ...process.env, TENSORSLIM_NUM_THREADS: '1' },
        onLine: (_r, stream, line) => { if (stream === 'stdout' && line.startsWith('{')) lines.push(JSON.parse(line) as Json); else if (stream === 'stderr') process.stderr.write(`${line}\n`); },
      });
      const res = await h.done;
      if (res.exitCode !== 0) throw new Error(`pipeline_memory: ${schedule} failed: ${res.message}`);
      lines.sort((a, b) => Number(a['rank']) - Number(b['rank']));
      rows.push({ round, schedule, ranks: lines });
      process.stderr.write(`${schedule}: stashed ${lines.map((l) => String(l['peakStashed'])).join('/')}, peak RSS ${lines.map((l) => (Number(l['peakRssBytes']) / 2 ** 20).toFixed(0)).join('/')} MiB, step ${lines.map((l) => Number(l['stepMs']).toFixed(0)).join('/')} ms\n`);
    }
  }
  const out = writeResult('pipeline-memory', {
    date: new Date().toISOString(), model: 'gpt-tiny (dropout 0)', stages: 2, microBatches: MICRO, batch: BATCH, threadsPerRank: 1,
    peer: 'GPipe schedule in the same run (fresh processes per schedule, two rounds in alternating order)', rows,
    machine: machineInfo({ loadavgAtStart }),
  });
  process.stderr.write(`wrote ${out.current}\n`);
}

if (process.env['RANK'] !== undefined) await rankMain((process.argv[2] ?? 'gpipe') as PipelineSchedule);
else await driver();
