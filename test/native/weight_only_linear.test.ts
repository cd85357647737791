// Fuzz the native weightOnlyLinear (native/src/weight_only_linear.cc) on every CPU path this machine
// has (avx512, avx2, generic: setCpuPath, as TENSORSLIM_CPU forces one at start-up) with 1 and 2
// threads, against the TypeScript twin weightOnlyLinearReference (double sums) and against the
// portable path: int8 and int4, symmetric and affine, group sizes the SIMD paths take (multiples of
// 16 / 8 columns) and ones they hand to the portable loop (2, 6, 10, odd K), 1..9 input rows (the
// 1-4 row blocks and their remainders), weights at the ends of the integer range and zero points at
// the ends of theirs. Sums run in float32 in another order than the twin's: a tolerance from the
// size of the products.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { weightOnlyLinearReference, type WeightOnlyWeight } from '../../src/backend/weight_only.js';
import { getNativeBackend, getNumThreads, cpuPath, setCpuPath, setNumThreads, supportedCpuPaths } from '../../src/backends/native/index.js';
import { nativeSkip as skip, rng } from './helpers.js';

const nat = getNativeBackend();
const PATHS = (nat ? supportedCpuPaths() : []) as ('avx512' | 'avx2' | 'generic')[];

function randomWeight(r: () => number, bits: 4 | 8, N: number, K: number, G: number, affine: boolean, extreme: boolean): WeightOnlyWeight {
  const [qmin, qmax] = bits === 8 ? [-128, 127] : [0, 15];
  const q = Int32Array.from({ length: N * K }, () => (extreme ? (r() < 0.5 ? qmin : qmax) : qmin + Math.floor(r() * (qmax - qmin + 1))));
  const nG = N * (K / G);
  const scales = Float32Array.from({ length: nG }, () => 0.001 + r() * 0.05);
  const zeroPoints = Int32Array.from({ length: nG }, (_, i) => (!affine ? (bits === 8 ? 0 : 8) : extreme ? (i % 2 === 0 ? qmin : qmax) : qmin + Math.floor(r() * (qmax - qmin + 1))));
  let data: Int8Array | Uint8Array;
  if (bits === 8) data = Int8Array.from(q);
  else {
    data = new Uint8Array((N * K) / 2);
    for (let i = 0; i < data.length; i++) data[i] = q[2 * i]! | (q[2 * i + 1]! << 4);
  }
  return { bits, rows: N, cols: K, groupSize: G, data, scales, zeroPoints };
}

describe('native weightOnlyLinear on every CPU path', { skip }, () => {
  test('matches the TypeScript twin and the portable path (int8 / int4, symmetric / affine, SIMD and fallback groups, 1..9 rows)', () => {
    const r = rng(20);
    const prevThreads = getNumThreads(), prevPath = cpuPath();
    const cases: [number, number, number, 4 | 8, number, boolean, boolean][] = [
      // M, K, N, bits, G, affine, extreme values
      [1, 64, 5, 8, 64, false, false], [1, 128, 7, 4, 32, true, false], [2, 96, 9, 4, 16, false, true], [3, 48, 4, 8, 48, true, true],
      [4, 256, 3, 4, 128, true, false], [5, 64, 6, 8, 8, false, false], [6, 40, 5, 4, 8, true, false], [7, 32, 33, 8, 32, true, true],
      [8, 16, 3, 4, 16, false, false], [9, 80, 4, 8, 16, true, false], [1, 66, 3, 8, 66, false, false], [2, 130, 5, 4, 2, true, true],
      [3, 60, 4, 4, 6, false, false], [1, 30, 2, 8, 10, true, false], [1, 768, 17, 4, 64, false, false], [1, 1024, 2, 8, 1024, true, true],
    ];
    try {
      for (const [M, K, N, bits, G, affine, extreme] of cases) {
        const w = randomWeight(r, bits, N, K, G, affine, extreme);
        const x = Float32Array.from({ length: M * K }, () => (r() - 0.5) * 4);
        const bias = r() < 0.5 ? null : Float32Array.from({ length: N }, () => r() - 0.5);
        const ref = weightOnlyLinearReference(x, M, w, bias);
        // float32 sums of K products: error within K * eps * sum |x w|
        let bound = 0;
        for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
          let s = 0;
          for (let k = 0; k < K; k++) {
            const q = bits === 8 ? (w.data as Int8Array)[n * K + k]! : ((w.data as Uint8Array)[(n * K + k) >> 1]! >> ((k & 1) * 4)) & 15;
            const g = n * (K / G) + Math.floor(k / G);
            s += Math.abs(x[m * K + k]! * w.scales[g]! * (q - w.zeroPoints[g]!));
          }
          bound = Math.max(bound, 2 * K * 2 ** -24 * s + 1e-6);
        }
        let portable: Float32Array | null = null;
        for (const path of [...PATHS].reverse()) for (const threads of [1, 2]) {   // generic first
          setCpuPath(path);
          setNumThreads(threads);
          const got = nat!.weightOnlyLinear!(x, M, w, bias);
          const what = `${path}, ${threads} thread(s): M${M} K${K} N${N} int${bits} g${G} ${affine ? 'affine' : 'symmetric'}${extreme ? ' extreme' : ''}`;
          assert.equal(got.length, M * N, what);
          for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i]! - ref[i]!) <= bound, `${what}: [${i}] ${got[i]} vs twin ${ref[i]} (bound ${bound})`);
          if (path === 'generic') portable ??= got;
          else for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i]! - portable![i]!) <= 2 * bound, `${what}: [${i}] ${got[i]} vs portable ${portable![i]}`);
        }
      }
    } finally {
      setCpuPath(prevPath as 'avx512' | 'avx2' | 'generic');
      setNumThreads(prevThreads);
    }
  });
});
