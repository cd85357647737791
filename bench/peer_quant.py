#!/usr/bin/python3
# PyTorch peer of `tensorslim bench quant` (run by bench/run_quant.ts): Linear(N, N) at batch B in
# float32 (torch.nn.Linear on OpenBLAS) and dynamically quantized to int8
# (torch.ao.quantization.quantize_dynamic with per_channel_dynamic_qconfig: per-channel qint8 weights
# as ours, activations quantized per batch), on each quantized engine Debian's torch has (onednn,
# qnnpack; no FBGEMM), each with torch.set_num_threads(1) and (2); the fastest
# int8 and the fastest float32 are kept, and every measurement is printed. Run with /usr/bin/python3,
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (bench/common.ts peerEnv), as the other peers.
#   usage: peer_quant.py N B
import json, os, sys, time
os.environ.setdefault('GLOG_minloglevel', '2')  # qnnpack warns on every call that it ignores reduce_range
import torch
from peer_common import median, openblas_config


def time_ms(fn, budget=0.4):
    fn(); fn()
    t = time.perf_counter(); fn(); once = max(time.perf_counter() - t, 1e-6)
    reps = int(min(300, max(10, budget / once)))
    ts = []
    for _ in range(reps):
        t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
    return median(ts) * 1e3, reps


def main(n, b):
    torch.manual_seed(0)
    lin = torch.nn.Linear(n, n).eval()
    x = torch.rand(b, n) - 0.5
    runs = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        with torch.no_grad():
            ms, reps = time_ms(lambda: lin(x))
        runs.append({'variant': 'float32', 'threads': threads, 'ms': ms, 'repeats': reps})
        for engine in ('onednn', 'qnnpack'):
            if engine not in torch.backends.quantized.supported_engines:
                continue
            torch.backends.quantized.engine = engine
            q = torch.ao.quantization.quantize_dynamic(torch.nn.Sequential(lin), {torch.nn.Linear: torch.ao.quantization.per_channel_dynamic_qconfig}, dtype=torch.qint8).eval()
            with torch.no_grad():
                err = (q(x) - lin(x)).abs().max().item()
                ms, reps = time_ms(lambda: q(x))
            runs.append({'variant': 'int8', 'engine': engine, 'threads': threads, 'ms': ms, 'repeats': reps, 'maxAbsError': err})
    best = lambda v: min((r for r in runs if r['variant'] == v), key=lambda r: r['ms'])
    f, i = best('float32'), best('int8')
    return {'bench': 'quant-peer', 'size': n, 'batch': b, 'float32Ms': f['ms'], 'float32Threads': f['threads'],
            'int8Ms': i['ms'], 'int8Engine': i['engine'], 'int8Threads': i['threads'], 'speedup': f['ms'] / i['ms'], 'runs': runs}


if __name__ == '__main__':
    r = main(int(sys.argv[1]), int(sys.argv[2]))
    r['peer'] = {'torch': torch.__version__, 'engines': torch.backends.quantized.supported_engines,
                 'openblas': openblas_config(), 'OPENBLAS_CORETYPE': os.environ.get('OPENBLAS_CORETYPE'),
                 'OPENBLAS_L2_SIZE': os.environ.get('OPENBLAS_L2_SIZE')}
    print(json.dumps(r))
