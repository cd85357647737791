#!/usr/bin/python3
# PyTorch peer of bench/small_ops.ts (run by bench/run_small_ops.ts): the same small-tensor ops in a
# tight loop, each call allocating its result, 5 rounds, the median round's microseconds per call.
# Run with /usr/bin/python3 (Debian python3-torch), OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset.
#   usage: peer_small_ops.py CALLS THREADS
import json, sys, time
import torch
from peer_common import median

calls, threads = int(sys.argv[1]), int(sys.argv[2])
torch.set_num_threads(threads)
g = torch.Generator().manual_seed(0)
a, b = torch.randn(1, 10, generator=g), torch.randn(1, 10, generator=g)
a100, b100 = torch.randn(1, 100, generator=g), torch.randn(1, 100, generator=g)
w, bias = torch.randn(10, 10, generator=g, requires_grad=True), torch.zeros(10, requires_grad=True)


def linear():
    with torch.no_grad():
        return torch.nn.functional.linear(a, w, bias)


cases = [('add 1x10', lambda: torch.add(a, b)), ('mul 1x10', lambda: torch.mul(a, b)), ('add scalar 1x10', lambda: torch.add(a, 1.5)),
         ('relu 1x10', lambda: torch.relu(a)), ('add 1x100', lambda: torch.add(a100, b100)), ('linear 1x10 -> 10 (fused, noGrad)', linear)]
times = [[] for _ in cases]
for r in range(5):
    for i, (_, f) in enumerate(cases):
        for _ in range(1000):
            f()
        t = time.perf_counter()
        for _ in range(calls):
            f()
        times[i].append((time.perf_counter() - t) / calls * 1e6)
print(json.dumps({'bench': 'small-ops', 'calls': calls, 'ops': [{'op': op, 'usPerCall': median(times[i])} for i, (op, _) in enumerate(cases)],
                  'peer': {'library': 'PyTorch', 'version': torch.__version__, 'threads': threads,
                           'note': 'each call in a Python loop (interpreter dispatch included, as ours includes the JS loop)'}}))
