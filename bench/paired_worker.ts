// Our side of a paired comparison (bench/paired.ts): a long-lived worker that builds the workloads of
// `tensorslim bench gemm|cnn|gpt|mlp` once (the same builders src/bench uses: gemmWorkload,
// cnnWorkload, gptWorkload, mlpTrainer) and answers timing requests on stdin/stdout
// (src/bench/worker.ts's protocol).
//   usage: node --import tsx bench/paired_worker.ts [--threads N] WORKLOAD...
// WORKLOAD: gemm:<N> (one N^3 float32 product), cnn (lenet5 Adam step, batch 128), cnn-forward
// (its forward without gradients), gpt (GPT L4 d256 AdamW step, batch 16), mlp:modules, mlp:fused
// (the MLP 784-1200-1200-10 Adam step). Workload names are the specs themselves.
import { applyThreads, cnnWorkload, gemmWorkload, gptWorkload, machineInfo, mlpTrainer, serveWorkloads } from '../src/bench/index.js';

const argv = process.argv.slice(2);
const ti = argv.indexOf('--threads');
const threads = ti >= 0 ? Number(argv[ti + 1]) : undefined;
const specs = argv.filter((a, i) => a !== '--threads' && (ti < 0 || i !== ti + 1));
if (specs.length === 0) throw new Error('paired_worker: name at least one workload: gemm:<N>, cnn, cnn-forward, gpt, mlp:modules or mlp:fused');
applyThreads(threads);

let cnn: ReturnType<typeof cnnWorkload> | undefined;  // cnn and cnn-forward share one model
function build(spec: string): () => unknown {
  const [kind, arg] = spec.split(':');
  if (kind === 'gemm') return gemmWorkload({ size: Number(arg), threads }).run;
  if (kind === 'cnn') return (cnn ??= cnnWorkload({ threads })).step;
  if (kind === 'cnn-forward') return (cnn ??= cnnWorkload({ threads })).forward;
  if (kind === 'gpt') return gptWorkload({ threads }).step;
  if (kind === 'mlp' && (arg === 'modules' || arg === 'fused')) return mlpTrainer({ threads, variant: arg }).step;
  throw new Error(`paired_worker: unknown workload '${spec}'; expected gemm:<N>, cnn, cnn-forward, gpt, mlp:modules or mlp:fused`);
}

const workloads = Object.fromEntries(specs.map((s) => [s, build(s)]));
await serveWorkloads({
  workloads,
  info: () => ({ ...machineInfo(), side: 'tensorslim', workloads: specs, pid: process.pid, peakRssBytes: process.resourceUsage().maxRSS * 1024 }),
  setThreads: (n) => { applyThreads(n); },
});
