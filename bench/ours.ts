// One tensorslim measurement as a JSON line, for bench/run.mjs: `ours.ts gemm N` or `ours.ts mlp modules|fused`.
import '../src/backends/native/index.js';
import '../src/index.js';
import { benchGemm } from '../src/bench/gemm.js';
import { benchMlp } from '../src/bench/mlp.js';

const [what, arg] = process.argv.slice(2);
const threads = Number(process.env['BENCH_THREADS'] ?? 2);
const r = what === 'gemm' ? benchGemm({ size: Number(arg), threads }) : benchMlp({ threads, variant: arg === 'fused' ? 'fused' : 'modules' });
process.stdout.write(`${JSON.stringify(r)}\n`);
