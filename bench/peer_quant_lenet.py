#!/usr/bin/python3
# PyTorch peer of the LeNet-5 rows of `tensorslim bench quant` (run by bench/run_quant.ts): the
# `lenet5` preset's architecture (Conv2d(1, 6, 5, padding=2), ReLU, MaxPool2d(2), Conv2d(6, 16, 5),
# ReLU, MaxPool2d(2), Flatten, Linear(400, 120), ReLU, Linear(120, 84), ReLU, Linear(84, 10)) in
# float32 and statically quantized the way torch users do it (eager mode: QuantStub / DeQuantStub,
# fuse_modules for Conv2d+ReLU and Linear+ReLU, prepare with the engine's default qconfig, calibrate
# on 4 random batches, convert): int8 tensors flow between the layers, max pooling and flatten run
# on quantized tensors. Debian's torch 1.13 has the onednn and qnnpack engines (no FBGEMM); each is
# timed with torch.set_num_threads(1) and (2), the fastest int8 and the fastest float32 are kept and
# every measurement is printed. Random weights and inputs (rand in [0, 1), as ours). Run with
# /usr/bin/python3, OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (bench/common.ts peerEnv).
#   usage: peer_quant_lenet.py BATCH [BATCH ...]
import copy, json, os, sys, time
os.environ.setdefault('GLOG_minloglevel', '2')
import torch
import torch.nn as nn
from peer_common import median, openblas_config


def time_ms(fn, budget=0.4):
    # wall-clock and CPU (time.process_time: every thread of the process) medians, in ms
    fn(); fn()
    t = time.perf_counter(); fn(); once = max(time.perf_counter() - t, 1e-6)
    reps = int(min(200, max(5, budget / once)))
    ts, cs = [], []
    for _ in range(reps):
        t, c = time.perf_counter(), time.process_time(); fn(); ts.append(time.perf_counter() - t); cs.append(time.process_time() - c)
    return median(ts) * 1e3, reps, median(cs) * 1e3


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.quant = torch.ao.quantization.QuantStub()
        self.c1, self.r1, self.p1 = nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2)
        self.c2, self.r2, self.p2 = nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2)
        self.flat = nn.Flatten()
        self.f1, self.r3 = nn.Linear(400, 120), nn.ReLU()
        self.f2, self.r4 = nn.Linear(120, 84), nn.ReLU()
        self.f3 = nn.Linear(84, 10)
        self.dequant = torch.ao.quantization.DeQuantStub()

    def forward(self, x):
        x = self.quant(x)
        x = self.p1(self.r1(self.c1(x)))
        x = self.p2(self.r2(self.c2(x)))
        x = self.r4(self.f2(self.r3(self.f1(self.flat(x)))))
        return self.dequant(self.f3(x))


def quantized(model, engine, batch):
    torch.backends.quantized.engine = engine
    q = copy.deepcopy(model).eval()
    q.qconfig = torch.ao.quantization.get_default_qconfig(engine)
    torch.ao.quantization.fuse_modules(q, [['c1', 'r1'], ['c2', 'r2'], ['f1', 'r3'], ['f2', 'r4']], inplace=True)
    torch.ao.quantization.prepare(q, inplace=True)
    with torch.no_grad():
        for _ in range(4):
            q(torch.rand(batch, 1, 28, 28))
    torch.ao.quantization.convert(q, inplace=True)
    return q


def main(batches):
    torch.manual_seed(0)
    model = LeNet5().eval()
    out = []
    for b in batches:
        x = torch.rand(b, 1, 28, 28)
        runs = []
        for threads in (1, 2):
            torch.set_num_threads(threads)
            with torch.no_grad():
                ms, reps, cpu = time_ms(lambda: model(x))
            runs.append({'variant': 'float32', 'threads': threads, 'ms': ms, 'cpuMs': cpu, 'repeats': reps})
            for engine in ('onednn', 'qnnpack'):
                if engine not in torch.backends.quantized.supported_engines:
                    continue
                q = quantized(model, engine, b)
                with torch.no_grad():
                    err = (q(x) - model(x)).abs().max().item()
                    ms, reps, cpu = time_ms(lambda: q(x))
                runs.append({'variant': 'int8', 'engine': engine, 'threads': threads, 'ms': ms, 'cpuMs': cpu, 'repeats': reps, 'maxAbsDiff': err})
        best = lambda v: min((r for r in runs if r['variant'] == v), key=lambda r: r['ms'])
        f, i = best('float32'), best('int8')
        one = lambda v: min((r for r in runs if r['variant'] == v and r['threads'] == 1), key=lambda r: r['cpuMs'])
        f1, i1 = one('float32'), one('int8')
        out.append({'batch': b, 'float32Ms': f['ms'], 'float32Threads': f['threads'], 'int8Ms': i['ms'], 'int8Engine': i['engine'],
                    'int8Threads': i['threads'], 'speedup': f['ms'] / i['ms'],
                    'float32CpuMs': f1['cpuMs'], 'int8CpuMs': i1['cpuMs'], 'int8CpuEngine': i1['engine'], 'runs': runs})
    return out


if __name__ == '__main__':
    rows = main([int(a) for a in sys.argv[1:]] or [32])
    print(json.dumps({'bench': 'quant-lenet5-peer', 'rows': rows,
                      'peer': {'torch': torch.__version__, 'engines': torch.backends.quantized.supported_engines, 'openblas': openblas_config(),
                               'OPENBLAS_CORETYPE': os.environ.get('OPENBLAS_CORETYPE'), 'OPENBLAS_L2_SIZE': os.environ.get('OPENBLAS_L2_SIZE')}}))
