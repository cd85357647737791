#!/usr/bin/python3
# PyTorch peer of `tensorslim bench infer` (run by bench/run_infer.ts): the forward pass of the same
# preset architecture (mlp 784-300-100-10, mlp-large 784-1200-1200-10, lenet5) in eval mode under
# torch.inference_mode(), on random inputs of the same shape, median / p10 / p90 milliseconds per
# call. Run with /usr/bin/python3 (Debian python3-torch) with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE
# unset; torch threads from the command line (the runner tries 1 and 2 and keeps the faster).
#   usage: peer_infer.py MODEL BATCH THREADS [ITERS]
import json, sys, time
import torch
from peer_common import median, openblas_config

name, batch, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
iters_arg = int(sys.argv[4]) if len(sys.argv) > 4 else 0
torch.set_num_threads(threads)
torch.manual_seed(0)
nn = torch.nn


def mlp(hidden):
    layers, width = [nn.Flatten()], 784
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    return nn.Sequential(*layers, nn.Linear(width, 10)), (batch, 784)


def lenet5():
    # as src/models/presets.ts: conv 5x5 padding 2 (28 -> 28), pool 2, conv 5x5 (14 -> 10), pool 2, fc 400-120-84-10
    m = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
    return m, (batch, 1, 28, 28)


models = {'mlp': lambda: mlp([300, 100]), 'mlp-large': lambda: mlp([1200, 1200]), 'mlp-small': lambda: mlp([800, 800]),
          'mlp-tiny': lambda: mlp([64]), 'lenet5': lenet5}
if name not in models:
    sys.exit(f'peer_infer.py: unknown model {name}; expected one of {", ".join(models)}')
model, shape = models[name]()
model.eval()
x = torch.rand(*shape)
with torch.inference_mode():
    for _ in range(10):
        model(x)
    probe = []
    for _ in range(5):
        t = time.perf_counter(); model(x); probe.append(time.perf_counter() - t)
    iters = iters_arg or max(20, min(2000, round(2.0 / max(1e-6, median(probe)))))
    ts = []
    c0 = time.process_time()  # CPU time of every thread of the process
    for _ in range(iters):
        t = time.perf_counter(); model(x); ts.append((time.perf_counter() - t) * 1000)
    cpu_ms = (time.process_time() - c0) * 1000 / iters
s = sorted(ts)
pct = lambda q: s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]
print(json.dumps({'bench': 'infer', 'model': name, 'batch': batch, 'medianMs': median(ts), 'p10Ms': pct(0.1), 'p90Ms': pct(0.9), 'iters': iters, 'cpuMsPerCall': cpu_ms,
                  'params': sum(p.numel() for p in model.parameters()),
                  'peer': {'library': 'PyTorch', 'version': torch.__version__, 'threads': threads, 'mode': 'eval, torch.inference_mode()',
                           'openblas': openblas_config()}}))
