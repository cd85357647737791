#!/usr/bin/python3
# OpenBLAS peer of bench/gemm_shapes.ts: the same GEMM shapes and transpose combinations through
# numpy's @ and torch.mm (both call OpenBLAS sgemm with the transpose flags, no copies), printed as
# one JSON line. Run with /usr/bin/python3 (Debian python3-torch, libopenblas0-pthread) and
# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset (OpenBLAS then picks its AVX-512 kernel);
# torch.set_num_threads(1) because OpenBLAS threads itself (2 threads on this machine).
#   usage: peer_gemm_shapes.py '<json list of [name, M, N, K, transA, transB]>'
import json, sys, time
import numpy as np
import torch
from peer_common import median, openblas_config

torch.set_num_threads(1)


def reps_for(flops):
    return int(min(400, max(5, round(1.2e10 / flops))))


def operand(rows, cols, trans, rng):
    # a (rows x cols) operand; transposed ones are stored (cols x rows) and read through .T
    if trans:
        return rng.standard_normal((cols, rows), dtype=np.float32).T
    return rng.standard_normal((rows, cols), dtype=np.float32)


def time_it(f, reps):
    f()
    ts = []
    c0 = time.process_time()
    for _ in range(reps):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return median(ts), time.process_time() - c0


def main():
    shapes = json.loads(sys.argv[1])
    rng = np.random.default_rng(1)
    out = []
    for name, m, n, k, ta, tb in shapes:
        a = operand(m, k, ta, rng); b = operand(k, n, tb, rng)
        flops = 2.0 * m * n * k
        reps = reps_for(flops)
        med, cpu = time_it(lambda: a @ b, reps)
        A, B = torch.from_numpy(a), torch.from_numpy(b)
        tmed, tcpu = time_it(lambda: torch.mm(A, B), reps)
        out.append({'name': name, 'numpyGflops': flops / med / 1e9, 'numpyCpuGflops': flops * reps / cpu / 1e9,
                    'torchGflops': flops / tmed / 1e9, 'torchCpuGflops': flops * reps / tcpu / 1e9, 'reps': reps,
                    'numpyMs': med * 1e3, 'torchMs': tmed * 1e3})
    print(json.dumps({'peer': {'numpy': np.__version__, 'torch': torch.__version__, 'openblas': openblas_config()}, 'shapes': out}))


if __name__ == '__main__':
    main()
