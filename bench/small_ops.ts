// Our side of bench/run_small_ops.ts: the per-op cost of small tensors (issue #17: "two 1x10 tensors
// added, <= 2.5 us"). Each case runs `calls` times in a tight loop per round, 5 rounds, and the
// median round's microseconds per call is printed, with the machine, as one JSON line. Every call
// allocates its result (the results are dropped, as in user code), so the allocation and the
// garbage collection it causes are part of the cost, as they are of PyTorch's.
//   usage: npx tsx bench/small_ops.ts [calls=50000]
import { machineInfo, median } from '../src/bench/machine.js';
import { noGrad } from '../src/core/engine.js';
import { Generator } from '../src/core/random.js';
import * as ops from '../src/ops/index.js';

const calls = Number(process.argv[2] ?? 50000);
const gen = new Generator(0);
const a = ops.randn([1, 10], { generator: gen }), b = ops.randn([1, 10], { generator: gen });
const a100 = ops.randn([1, 100], { generator: gen }), b100 = ops.randn([1, 100], { generator: gen });
const w = ops.randn([10, 10], { generator: gen }).requiresGrad_(), bias = ops.zeros([10]).requiresGrad_();
const cases: [string, () => unknown][] = [
  ['add 1x10', () => ops.add(a, b)],
  ['mul 1x10', () => ops.mul(a, b)],
  ['add scalar 1x10', () => ops.add(a, 1.5)],
  ['relu 1x10', () => ops.relu(a)],
  ['add 1x100', () => ops.add(a100, b100)],
  ['linear 1x10 -> 10 (fused, noGrad)', () => noGrad(() => ops.fusedLinear(a, w, bias))],
];
const times: number[][] = cases.map(() => []);
for (let r = 0; r < 5; r++) {
  cases.forEach(([, f], i) => {
    for (let k = 0; k < 1000; k++) f(); // warm-up
    const t0 = process.hrtime.bigint();
    for (let k = 0; k < calls; k++) f();
    times[i]!.push(Number(process.hrtime.bigint() - t0) / 1e3 / calls);
  });
}
process.stdout.write(`${JSON.stringify({ bench: 'small-ops', calls, ops: cases.map(([op], i) => ({ op, usPerCall: median(times[i]!) })), machine: machineInfo() })}\n`);
