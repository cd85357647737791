// One rank of bench/run_ddp.ts (started through distributed.launch, which sets the launch contract):
//   train MODEL GLOBAL_BATCH STEPS WARMUP THREADS [OVERLAP] [BUCKET_CAP_MB] [GRAD_CHUNK_MB] [FIRST_CAP_MB] [HOOK] [ZERO]
//                                                    DDP training steps of a preset on random data
//                                                    (world size 1: no process group, no DDP); OVERLAP
//                                                    'off' launches every bucket after backward (the
//                                                    path before the tape handed gradients out early);
//                                                    BUCKET_CAP_MB: DDP's bucketCapMB (default 25);
//                                                    GRAD_CHUNK_MB: DDP's gradChunkMB ('0': no row
//                                                    pieces; default DDP's own); FIRST_CAP_MB: DDP's
//                                                    firstBucketCapMB ('-': its default); HOOK: a
//                                                    comm hook ('bf16' or 'fp16', native 16-bit
//                                                    all-reduce; 'powersgdR': PowerSGD at rank R,
//                                                    compressing from the first step; '-': none);
//                                                    ZERO: '1' or '2'
//                                                    steps a ZeroRedundancyOptimizer of that stage
//                                                    (OVERLAP: its overlap, BUCKET_CAP_MB: its
//                                                    bucketCapMB) instead of DDP, '3' Zero3 (as the
//                                                    Trainer's --zero 3), '-' or absent: DDP
//   allreduce MIB ITERS                              all-reduce (sum) of a float32 buffer of MIB MiB
// Rank 0 prints one JSON line: the median step (or all-reduce) time, the median CPU time per step of
// this process (all its threads: kernels, the communication thread, Gloo's), that CPU time split into
// the main (JavaScript and, at 1 thread, kernel) thread's and the other threads' (from
// /proc/self/task over the timed steps: communication, Gloo's transport, V8's helpers), and the machine.
import { readFileSync, readdirSync } from 'node:fs';
import { CrossEntropyLoss, createModel, manualSeed, randint, randn } from '../src/index.js';
import { gptLoss, type GPT } from '../src/models/gpt.js';
import { fromBuffer, type Tensor } from '../src/core/tensor.js';
import { Adam, AdamW } from '../src/optim/index.js';
import { DistributedDataParallel, ZeroRedundancyOptimizer, Zero3, defaultGroup, powerSgdHook, barrier, destroyProcessGroup, getRank, getWorldSize, initProcessGroup, allReduce, readLaunchEnv } from '../src/distributed/index.js';
import { applyThreads, machineInfo, median } from '../src/bench/machine.js';

const [mode, ...args] = process.argv.slice(2);
const world = readLaunchEnv(process.env).worldSize;
if (world > 1) await initProcessGroup({ backend: 'gloo' });
const rank = getRank();
const now = (): number => Number(process.hrtime.bigint()) / 1e6;

// CPU ms of this process's main thread and of all its other threads together (Linux /proc; nulls elsewhere).
function threadCpu(): { main: number; others: number } | null {
  try {
    const tick = 10; // USER_HZ 100: one clock tick is 10 ms
    let main = 0, others = 0;
    for (const tid of readdirSync('/proc/self/task')) {
      let stat: string;
      try { stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8'); } catch { continue; } // the thread ended
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ms = (Number(f[11]) + Number(f[12])) * tick; // utime + stime (fields 14 and 15)
      if (Number(tid) === process.pid) main += ms; else others += ms;
    }
    return { main, others };
  } catch { return null; }
}

if (mode === 'allreduce') {
  const mib = Number(args[0] ?? 16);
  const iters = Number(args[1] ?? 10);
  const n = (mib * 1024 * 1024) / 4;
  const t = fromBuffer(new Float32Array(n).fill(1), 'float32', [n]);
  await allReduce(t, 'sum'); // warm-up (connections, buffers)
  const times: number[] = [];
  for (let i = 0; i < iters; i++) {
    await barrier();
    const t0 = now();
    await allReduce(t, 'sum');
    times.push(now() - t0);
  }
  const ms = median(times);
  const bytes = n * 4;
  // bus bandwidth (NCCL-tests' convention): what each rank's link carries in a ring all-reduce
  const busBytesPerSecond = (bytes * 2 * (getWorldSize() - 1)) / getWorldSize() / (ms / 1000);
  if (rank === 0) console.log(JSON.stringify({ mode, worldSize: getWorldSize(), bytes, ms, busBytesPerSecond, machine: machineInfo() }));
} else {
  const [name = 'mlp', gb = '128', st = '30', wu = '5', th = '1', ov = 'on', cap = '25', chunk, firstCap = '-', hook, zeroArg = '-'] = args;
  if (!['-', '1', '2', '3'].includes(zeroArg)) throw new Error(`ddp_worker: ZERO must be 1, 2, 3 or '-', got '${zeroArg}'`);
  const zeroStage = world > 1 && zeroArg !== '-' ? Number(zeroArg) : 0;
  applyThreads(Number(th));
  const batch = Number(gb) / world;
  manualSeed(7);
  const model = createModel(name);
  const gpt = name.startsWith('gpt');
  const ddp = world > 1 && zeroStage === 0 ? await DistributedDataParallel.create(model, { bucketCapMB: Number(cap), ...(chunk !== undefined && chunk !== '-' ? { gradChunkMB: Number(chunk) } : {}),
    ...(firstCap !== '-' ? { firstBucketCapMB: Number(firstCap) } : {}) }) : null;
  if (ddp) ddp.overlap = ov !== 'off';
  if (ddp && (hook === 'bf16' || hook === 'fp16')) ddp.registerCommHook(hook);
  const psgd = hook?.startsWith('powersgd') ? powerSgdHook({ matrixApproximationRank: Number(hook.slice(8)), startPowerSgdIter: 0 }) : null;
  if (ddp && psgd) ddp.registerCommHook(psgd);
  const waits: number[] = [];
  const overlaps: number[] = [];
  const fromRows: number[] = [];
  const cpu: number[] = [];
  const opt = gpt ? new AdamW(model.parameters(), { lr: 1e-3, betas: [0.9, 0.95] }) : new Adam(model.parameters(), { lr: 1e-3 });
  const zero = zeroStage === 1 || zeroStage === 2
    ? new ZeroRedundancyOptimizer(model.parameters(), gpt ? AdamW : Adam, gpt ? { lr: 1e-3, betas: [0.9, 0.95] as [number, number] } : { lr: 1e-3 }, { stage: zeroStage, overlap: ov !== 'off', bucketCapMB: Number(cap) })
    : null;
  if (zero) await zero.broadcastParameters();
  let zero3: Zero3 | null = null;
  if (zeroStage === 3) {
    for (const p of model.parameters()) await defaultGroup('ddp_worker').broadcast(p, 0);
    zero3 = new Zero3(model as never, opt, defaultGroup('ddp_worker'));
  }
  const [x, y]: Tensor[] = gpt ? [randint(0, 256, [batch, 128], { dtype: 'int32' }), randint(0, 256, [batch, 128], { dtype: 'int32' })]
    : [randn([batch, 784]), randint(0, 10, [batch], { dtype: 'int32' })];
  const ce = new CrossEntropyLoss();
  const times: number[] = [];
  let threads0: ReturnType<typeof threadCpu> = null;
  for (let i = 0; i < Number(wu) + Number(st); i++) {
    if (i === Number(wu)) threads0 = threadCpu();
    const t0 = now();
    const c0 = process.cpuUsage();
    if (zero) zero.zeroGrad(); else if (!zero3) opt.zeroGrad();
    zero3?.beginStep();
    const loss = gpt ? gptLoss((model as unknown as GPT).call(x!), y!) : ce.call((model as unknown as { call(t: Tensor): Tensor }).call(x!), y!);
    loss.backward();
    if (ddp) await ddp.finishGradientSync();
    if (zero) await zero.step();
    else if (zero3) { await zero3.finishBackward(); await zero3.step(null); }
    else opt.step();
    loss.item();
    if (i >= Number(wu)) {
      times.push(now() - t0);
      const c1 = process.cpuUsage(c0);
      cpu.push((c1.user + c1.system) / 1000);
      if (ddp) { const c = ddp.commStats(); waits.push(c.waitMs); overlaps.push(c.overlapMs); fromRows.push(c.launchedFromRows); }
    }
  }
  const threads1 = threadCpu();
  const perStep = (k: 'main' | 'others'): number | null => (threads0 && threads1 ? (threads1[k] - threads0[k]) / Number(st) : null);
  if (world > 1) await barrier();
  if (rank === 0) console.log(JSON.stringify({ mode: 'train', model: name, worldSize: world, perRankBatch: batch, globalBatch: Number(gb), stepMs: median(times), minMs: Math.min(...times), cpuMs: median(cpu),
    mainThreadCpuMs: perStep('main'), otherThreadsCpuMs: perStep('others'), commHook: hook !== undefined && hook !== '-' ? hook : null, zero: zeroStage === 0 ? null : zeroStage, steps: Number(st), overlap: ddp ? ddp.overlap : null,
    commWaitMs: ddp ? median(waits) : null, commOverlapMs: ddp ? median(overlaps) : null, launchedFromRows: ddp ? median(fromRows) : null, buckets: ddp ? ddp.bucketSizes : null,
    ...(psgd ? { powerSgd: psgd.stats() } : {}), ...(ddp && (hook === 'bf16' || hook === 'fp16') ? { halfPath: ddp.group.lastHalfPath } : {}), machine: machineInfo() }));
}
if (world > 1) await destroyProcessGroup();
