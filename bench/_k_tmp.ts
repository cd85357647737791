import '../src/index.js';
import { getBackend } from '../src/backend/registry.js';
const be = getBackend() as any;
function t(fn: () => unknown, n = 30): number { fn(); fn(); const ts: number[] = []; for (let i = 0; i < n; i++) { const c = process.cpuUsage(); fn(); const d = process.cpuUsage(c); ts.push((d.user + d.system) / 1000); } ts.sort((a, b) => a - b); return ts[n >> 1]!; }
const B = Number(process.argv[2] ?? 32);
for (const [C, H, O, pad] of [[1, 28, 6, 2], [6, 14, 16, 0]]) {
  const oh = H + 2 * pad - 4;
  const g = { n: B, c: C, h: H, w: H, kh: 5, kw: 5, strideH: 1, strideW: 1, padH: pad, padW: pad, dilationH: 1, dilationW: 1, oh, ow: oh };
  const x = { data: new Uint8Array(B * C * H * H).map(() => Math.random() * 255), rows: B, cols: C * H * H, scale: 0.01, zeroPoint: 3 };
  const K = C * 25;
  const w = { data: new Int8Array(O * K).map(() => Math.random() * 255 - 128), rows: O, cols: K, scales: new Float32Array(O).fill(0.01), zeroPoints: new Int32Array(O) };
  const ms = t(() => be.int8Conv2d(x, w, new Float32Array(O), g, { kind: 'requantize', dtype: 'uint8', scale: 0.05, zeroPoint: 0, relu: true }));
  console.log(be.int8Path, `conv C${C} O${O}`, ms.toFixed(3));
}
