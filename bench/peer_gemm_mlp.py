#!/usr/bin/python3
# PyTorch / numpy (OpenBLAS) peer of `tensorslim bench gemm` and `bench mlp` (run by
# bench/run_gemm_mlp.ts): the same two workloads, printed as one JSON line. Run with /usr/bin/python3
# (Debian python3-torch 1.13, libopenblas0-pthread), with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE
# unset so OpenBLAS picks its AVX-512 kernel, and torch.set_num_threads(1) (OpenBLAS threads
# itself; two pools on two cores fight).
#   usage: peer_gemm_mlp.py gemm N | mlp
import json, os, sys, time
import numpy as np
import torch
from peer_common import median, openblas_config

torch.set_num_threads(1)


def gemm(n):
    a = np.random.rand(n, n).astype(np.float32); b = np.random.rand(n, n).astype(np.float32)
    a @ b
    reps = min(50, max(5, round(5e10 / (2 * n ** 3))))
    ts = []
    c0 = time.process_time()  # CPU time of the whole process (all OpenBLAS threads)
    for _ in range(reps):
        t = time.perf_counter(); a @ b; ts.append(time.perf_counter() - t)
    cpu = time.process_time() - c0
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    tt = []
    for _ in range(reps):
        t = time.perf_counter(); ta @ tb; tt.append(time.perf_counter() - t)
    return {'bench': 'gemm', 'size': n, 'numpyGflops': 2 * n ** 3 / median(ts) / 1e9, 'torchGflops': 2 * n ** 3 / median(tt) / 1e9, 'repeats': reps,
            'numpyCpuGflops': 2 * n ** 3 * reps / cpu / 1e9}

def mlp(steps=30, warmup=5):
    torch.manual_seed(7)
    m = torch.nn.Sequential(torch.nn.Linear(784, 1200), torch.nn.ReLU(), torch.nn.Linear(1200, 1200), torch.nn.ReLU(), torch.nn.Linear(1200, 10))
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    x = torch.randn(128, 784); y = torch.randint(0, 10, (128,))
    ts = []
    for i in range(warmup + steps):
        t = time.perf_counter()
        opt.zero_grad(); loss = torch.nn.functional.cross_entropy(m(x), y); loss.backward(); opt.step()
        if i >= warmup: ts.append(time.perf_counter() - t)
    return {'bench': 'mlp', 'stepMs': median(ts) * 1e3, 'minMs': min(ts) * 1e3, 'steps': steps}

if __name__ == '__main__':
    what = sys.argv[1]
    r = gemm(int(sys.argv[2])) if what == 'gemm' else mlp()
    r['peer'] = {'torch': torch.__version__, 'numpy': np.__version__, 'torchThreads': torch.get_num_threads(),
                 'openblas': openblas_config(), 'OPENBLAS_CORETYPE': os.environ.get('OPENBLAS_CORETYPE'),
                 'OPENBLAS_L2_SIZE': os.environ.get('OPENBLAS_L2_SIZE')}
    print(json.dumps(r))
