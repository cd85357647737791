// Our side of the depthwise-convolution benchmark (run by bench/run_depthwise_conv.ts): MobileNet-
// shaped depthwise 3x3 layers (groups = channels) through ops.conv2d on the native kernel, one
// thread, forward under noGrad and forward + backward (dx, dW, db); per case 5 rounds of `calls`
// calls, the median round's wall and CPU milliseconds per call.
//   usage: npx tsx bench/depthwise_conv.ts [calls=20]
import { machineInfo, median, applyThreads } from '../src/bench/machine.js';
import { noGrad } from '../src/core/engine.js';
import { Generator } from '../src/core/random.js';
import * as ops from '../src/ops/index.js';
import '../src/autograd/index.js';

/** (name, N, C, H, W, stride, train) — the same list as bench/peer_depthwise_conv.py. */
export const CASES: readonly [string, number, number, number, number, number, boolean][] = [
  ['dw3x3 s1 C32 112x112 N1 forward', 1, 32, 112, 112, 1, false],
  ['dw3x3 s2 C144 56x56 N1 forward', 1, 144, 56, 56, 2, false],
  ['dw3x3 s1 C192 28x28 N8 forward', 8, 192, 28, 28, 1, false],
  ['dw3x3 s1 C96 28x28 N8 forward+backward', 8, 96, 28, 28, 1, true],
];

const calls = Number(process.argv[2] ?? 20);
applyThreads(1);
const g = new Generator(0);
const rows = CASES.map(([name, n, c, h, w, stride, train]) => {
  const x = ops.randn([n, c, h, w], { generator: g, requiresGrad: train });
  const wt = ops.randn([c, 1, 3, 3], { generator: g, requiresGrad: train });
  const b = ops.randn([c], { generator: g, requiresGrad: train });
  const f = train
    ? (): void => { ops.sum(ops.conv2d(x, wt, b, { stride, padding: 1, groups: c })).backward(); }
    : (): void => { noGrad(() => ops.conv2d(x, wt, b, { stride, padding: 1, groups: c })); };
  for (let k = 0; k < 3; k++) f();   // warm-up
  const wall: number[] = [], cpu: number[] = [];
  for (let r = 0; r < 5; r++) {
    const c0 = process.cpuUsage(), t0 = process.hrtime.bigint();
    for (let k = 0; k < calls; k++) f();
    wall.push(Number(process.hrtime.bigint() - t0) / 1e6 / calls);
    const dc = process.cpuUsage(c0);
    cpu.push((dc.user + dc.system) / 1e3 / calls);
  }
  return { case: name, wallMs: median(wall), cpuMs: median(cpu) };
});
process.stdout.write(`${JSON.stringify({ bench: 'depthwise-conv', calls, threads: 1, rows, machine: machineInfo() })}\n`);
