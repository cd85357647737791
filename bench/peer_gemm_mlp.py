#!/usr/bin/python3
# PyTorch / numpy (OpenBLAS) peer of `tensorslim bench gemm` and `bench mlp` (run by
# bench/run_gemm_mlp.ts): the same two workloads, printed as one JSON line. Run with /usr/bin/python3
# (Debian python3-torch 1.13, libopenblas0-pthread), with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE
# unset so OpenBLAS picks its AVX-512 kernel, and torch.set_num_threads(1) (OpenBLAS threads
# itself; two pools on two cores fight).
#   usage: peer_gemm_mlp.py gemm N | mlp
#          peer_gemm_mlp.py --serve gemm:N|mlp ...   a long-lived worker for bench/paired.ts: builds
#          the named workloads once (the same operands / model as above) and answers its timing
#          requests (peer_common.serve); OpenBLAS threads from OPENBLAS_NUM_THREADS as above.
import json, os, sys, time
import numpy as np
import torch
from peer_common import median, openblas_config, peak_rss_bytes, serve

torch.set_num_threads(1)


def gemm_operands(n):
    return np.random.rand(n, n).astype(np.float32), np.random.rand(n, n).astype(np.float32)


def gemm(n):
    a, b = gemm_operands(n)
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

def mlp_step():
    """The MLP 784-1200-1200-10 Adam step at batch 128, as a function of no arguments."""
    torch.manual_seed(7)
    m = torch.nn.Sequential(torch.nn.Linear(784, 1200), torch.nn.ReLU(), torch.nn.Linear(1200, 1200), torch.nn.ReLU(), torch.nn.Linear(1200, 10))
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    x = torch.randn(128, 784); y = torch.randint(0, 10, (128,))

    def step():
        opt.zero_grad(); loss = torch.nn.functional.cross_entropy(m(x), y); loss.backward(); opt.step()
    return step


def mlp(steps=30, warmup=5):
    step = mlp_step()
    ts = []
    for i in range(warmup + steps):
        t = time.perf_counter()
        step()
        if i >= warmup: ts.append(time.perf_counter() - t)
    return {'bench': 'mlp', 'stepMs': median(ts) * 1e3, 'minMs': min(ts) * 1e3, 'steps': steps}

def peer_info():
    return {'torch': torch.__version__, 'numpy': np.__version__, 'torchThreads': torch.get_num_threads(),
            'openblas': openblas_config(), 'OPENBLAS_CORETYPE': os.environ.get('OPENBLAS_CORETYPE'),
            'OPENBLAS_L2_SIZE': os.environ.get('OPENBLAS_L2_SIZE'), 'OPENBLAS_NUM_THREADS': os.environ.get('OPENBLAS_NUM_THREADS')}


def serve_workloads(specs):
    workloads = {}
    for spec in specs:
        if spec.startswith('gemm:'):
            a, b = gemm_operands(int(spec[5:]))
            workloads[spec] = (lambda a, b: lambda: a @ b)(a, b)
        elif spec == 'mlp':
            workloads[spec] = mlp_step()
        else:
            raise SystemExit(f"peer_gemm_mlp.py --serve: unknown workload '{spec}'; expected gemm:N or mlp")
    serve(workloads, lambda: {'side': 'peer', 'workloads': specs, 'pid': os.getpid(), 'peakRssBytes': peak_rss_bytes(), 'peer': peer_info()})


if __name__ == '__main__':
    what = sys.argv[1]
    if what == '--serve':
        serve_workloads(sys.argv[2:])
        sys.exit(0)
    r = gemm(int(sys.argv[2])) if what == 'gemm' else mlp()
    r['peer'] = peer_info()
    print(json.dumps(r))
