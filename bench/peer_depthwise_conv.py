#!/usr/bin/python3
# PyTorch peer of bench/depthwise_conv.ts (run by bench/run_depthwise_conv.ts): the same depthwise 3x3
# convolutions (torch.nn.functional.conv2d with groups = channels), one thread, forward under
# no_grad and forward + backward; per case 5 rounds of CALLS calls, the median round's wall and CPU
# milliseconds per call. Run with /usr/bin/python3 (Debian python3-torch), OPENBLAS_CORETYPE and
# OPENBLAS_L2_SIZE unset.
#   usage: peer_depthwise_conv.py CALLS
import json, sys, time
import torch
from peer_common import median

CASES = [  # (name, N, C, H, W, stride, train): the same list as bench/depthwise_conv.ts
    ('dw3x3 s1 C32 112x112 N1 forward', 1, 32, 112, 112, 1, False),
    ('dw3x3 s2 C144 56x56 N1 forward', 1, 144, 56, 56, 2, False),
    ('dw3x3 s1 C192 28x28 N8 forward', 8, 192, 28, 28, 1, False),
    ('dw3x3 s1 C96 28x28 N8 forward+backward', 8, 96, 28, 28, 1, True),
]
calls = int(sys.argv[1])
torch.set_num_threads(1)
g = torch.Generator().manual_seed(0)
rows = []
for name, n, c, h, w, stride, train in CASES:
    x = torch.randn(n, c, h, w, generator=g, requires_grad=train)
    wt = torch.randn(c, 1, 3, 3, generator=g, requires_grad=train)
    b = torch.randn(c, generator=g, requires_grad=train)

    def f():
        if train:
            torch.nn.functional.conv2d(x, wt, b, stride=stride, padding=1, groups=c).sum().backward()
        else:
            with torch.no_grad():
                torch.nn.functional.conv2d(x, wt, b, stride=stride, padding=1, groups=c)
    for _ in range(3):
        f()
    wall, cpu = [], []
    for _ in range(5):
        t, p = time.perf_counter(), time.process_time()
        for _ in range(calls):
            f()
        wall.append((time.perf_counter() - t) / calls * 1e3)
        cpu.append((time.process_time() - p) / calls * 1e3)
    rows.append({'case': name, 'wallMs': median(wall), 'cpuMs': median(cpu)})
print(json.dumps({'bench': 'depthwise-conv', 'calls': calls, 'rows': rows,
                  'peer': {'library': 'PyTorch', 'version': torch.__version__, 'threads': 1,
                           'mkldnn': torch.backends.mkldnn.is_available(), 'note': 'torch.nn.functional.conv2d, groups = channels'}}))
