#!/usr/bin/python3
# PyTorch peer of `tensorslim bench cnn` (run by bench/run_cnn.ts): one Adam training step of lenet5
# (the nn.Sequential that src/models/presets.ts mirrors: conv 1->6 k5 pad 2, ReLU, max-pool 2,
# conv 6->16 k5, ReLU, max-pool 2, FC 400-120-84-10), batch 128, float32 on random images, and the
# forward alone under torch.no_grad(). Median times after warm-up, printed as one JSON line.
# Run with /usr/bin/python3 (Debian python3-torch 1.13) with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE
# unset; the thread count is the third argument (run_cnn.ts runs 1 and 2 and keeps the faster).
#   usage: peer_cnn.py [steps] [warmup] [threads] [batch]
#          peer_cnn.py --serve [batch]   a long-lived worker for bench/paired.ts (workloads step, forward)
import json, os, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F
from peer_common import median, openblas_config, peak_rss_bytes, serve


def lenet5_workload(batch):
    """The lenet5 Adam step (returns the loss) and the no-grad forward at `batch`, as functions."""
    torch.manual_seed(7)
    m = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    x = torch.randn(batch, 1, 28, 28); y = torch.randint(0, 10, (batch,))

    def step():
        opt.zero_grad(); loss = F.cross_entropy(m(x), y); loss.backward(); opt.step(); return loss.item()

    def forward():
        with torch.no_grad():
            m(x)
    return step, forward


def peer_info():
    return {'torch': torch.__version__, 'torchThreads': torch.get_num_threads(), 'mkldnn': torch.backends.mkldnn.is_available(),
            'openblas': openblas_config(), 'OPENBLAS_CORETYPE': os.environ.get('OPENBLAS_CORETYPE'),
            'OPENBLAS_L2_SIZE': os.environ.get('OPENBLAS_L2_SIZE')}


if len(sys.argv) > 1 and sys.argv[1] == '--serve':
    # a long-lived worker for bench/paired.ts: workloads 'step' and 'forward'; threads set per request
    torch.set_num_threads(1)
    step, forward = lenet5_workload(int(sys.argv[2]) if len(sys.argv) > 2 else 128)
    serve({'step': step, 'forward': forward}, lambda: {'side': 'peer', 'pid': os.getpid(), 'peakRssBytes': peak_rss_bytes(), 'peer': peer_info()},
          torch.set_num_threads)
    sys.exit(0)

steps = int(sys.argv[1]) if len(sys.argv) > 1 else 30
warmup = int(sys.argv[2]) if len(sys.argv) > 2 else 5
torch.set_num_threads(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
batch = int(sys.argv[4]) if len(sys.argv) > 4 else 128

step, forward = lenet5_workload(batch)
ts = []
for i in range(warmup + steps):
    if i == warmup: c0 = time.process_time()  # CPU time of the process, all threads
    t = time.perf_counter()
    last = step()
    if i >= warmup: ts.append(time.perf_counter() - t)
cpu = time.process_time() - c0
fw = []
for i in range(warmup + steps):
    t = time.perf_counter(); forward()
    if i >= warmup: fw.append(time.perf_counter() - t)
print(json.dumps({'bench': 'cnn', 'model': 'lenet5', 'stepMs': median(ts) * 1e3, 'minMs': min(ts) * 1e3, 'forwardMs': median(fw) * 1e3,
                  'cpuMsPerStep': cpu / steps * 1e3,
                  'steps': steps, 'batch': batch, 'finalLoss': last, 'peer': peer_info()}))
