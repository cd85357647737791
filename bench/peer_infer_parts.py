#!/usr/bin/python3
# PyTorch's share of a batch-1 mlp forward (784-300-100-10, ReLU), per op: process CPU microseconds
# per call of the whole model and of each op alone (F.linear of each layer, relu, an empty op), median
# of rounds, so the per-op fixed cost can be compared with ours (bench/infer_parts.ts).
#   usage: /usr/bin/python3 bench/peer_infer_parts.py [threads=1] [reps=2000] [rounds=15]
import json, sys, time
import torch
import torch.nn.functional as F
from peer_common import median

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
reps = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 15
torch.set_num_threads(threads)
torch.manual_seed(0)
nn = torch.nn
model = nn.Sequential(nn.Flatten(), nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(), nn.Linear(100, 10)).eval()
l1, l2, l3 = model[1], model[3], model[5]
x = torch.rand(1, 784)
h1 = torch.relu(l1(x)); h2 = torch.relu(l2(h1))
one = torch.rand(1, 1)
cases = [
    ('model(x)', lambda: model(x)),
    ('3 linears + 2 relus', lambda: l3(torch.relu(l2(torch.relu(l1(x)))))),
    ('linear 784->300', lambda: l1(x)),
    ('linear 300->100', lambda: l2(h1)),
    ('linear 100->10', lambda: l3(h2)),
    ('relu (1, 300)', lambda: torch.relu(h1)),
    ('add (1, 1)', lambda: one + one),
]
res = {}
with torch.inference_mode():
    for _, f in cases:
        for _ in range(200): f()
    for _ in range(rounds):
        for n, f in cases:
            c0 = time.process_time(); t0 = time.perf_counter()
            for _ in range(reps): f()
            res.setdefault(n, []).append((time.process_time() - c0) * 1e6 / reps)
            res.setdefault(n + ' wall', []).append((time.perf_counter() - t0) * 1e6 / reps)
for n, _ in cases:
    print(f'{n:28s} cpu us {median(res[n]):7.2f}  wall us {median(res[n + " wall"]):7.2f}')
print(json.dumps({'bench': 'infer-parts-torch', 'threads': threads, 'cpuUs': {n: median(res[n]) for n, _ in cases}}))
