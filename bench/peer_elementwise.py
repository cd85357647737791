#!/usr/bin/python3
# numpy / PyTorch peer of `tensorslim bench elementwise`: the same ops on the same sizes, bytes
# counted the same way (read + written per call: copy 8n, add/mul 12n, relu/exp/scalar add 8n,
# sum 4n), each op's GB/s as a share of a copy. Three forms, as in tensorslim: allocating (a + b),
# into an existing array (np.add(a, b, out=c), torch.add(a, b, out=c): names ending '(out)') and in
# place (c += b, torch's c.add_(b): names ending '_'). The roof is np.copyto / tc.copy_ into an
# existing array ("assign").
# numpy's elementwise loops are single-threaded; torch runs with torch.set_num_threads(threads).
# Copy and ops alternate round by round, medians reported. Prints one JSON line.
#   usage: peer_elementwise.py SIZE [THREADS]
import json, sys, time
import numpy as np
import torch
from peer_common import median


def time_ms(f, repeats):
    f()
    ts = []
    for _ in range(repeats):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return median(ts) * 1e3


def run(lib, n, copy, assign, cases, rounds, per):
    ct, at, ot = [], [], [[] for _ in cases]
    for _ in range(rounds):
        ct.append(time_ms(copy, per)); at.append(time_ms(assign, per))
        for i, (_, _, f) in enumerate(cases):
            ot[i].append(time_ms(f, per))
    copy_ms = median(ct)
    copy_gbs = 8 * n / (copy_ms * 1e6)
    ops = []
    for i, (name, nbytes, _) in enumerate(cases):
        ms = median(ot[i]); gbs = nbytes / (ms * 1e6)
        form = 'out' if name.endswith('(out)') else 'inplace' if name.endswith('_') else 'alloc'
        ops.append({'op': name, 'form': form, 'bytes': nbytes, 'medianMs': ms, 'GBs': gbs, 'ofCopy': gbs / copy_gbs})
    assign_gbs = 8 * n / (median(at) * 1e6)
    for o in ops:
        o['ofRoof'] = o['GBs'] / assign_gbs
    return {'lib': lib, 'copyGBs': copy_gbs, 'copyMs': copy_ms, 'assignGBs': assign_gbs, 'ops': ops}


def bench(n, threads):
    np.seterr(over='ignore')  # exp_ overflows to inf after a few in-place calls, as in tensorslim's bench
    rng = np.random.default_rng(3)
    a = rng.standard_normal(n, dtype=np.float32); b = rng.standard_normal(n, dtype=np.float32)
    c = np.empty_like(a)
    o = np.zeros_like(a)  # out= target
    w = rng.standard_normal(n, dtype=np.float32)  # written in place
    one = np.ones_like(a)
    repeats = min(200, max(25, round(1e9 / (8 * n))))
    rounds = 5; per = max(1, -(-repeats // rounds))
    B = 4 * n
    np_cases = [('add', 3 * B, lambda: a + b), ('mul', 3 * B, lambda: a * b), ('relu', 2 * B, lambda: np.maximum(a, 0)),
                ('exp', 2 * B, lambda: np.exp(a)), ('addScalar', 2 * B, lambda: a + np.float32(1.5)), ('sum', B, lambda: a.sum()),
                ('add(out)', 3 * B, lambda: np.add(a, b, out=o)), ('mul(out)', 3 * B, lambda: np.multiply(a, b, out=o)),
                ('relu(out)', 2 * B, lambda: np.maximum(a, 0, out=o)), ('exp(out)', 2 * B, lambda: np.exp(a, out=o)),
                ('addScalar(out)', 2 * B, lambda: np.add(a, np.float32(1.5), out=o)),
                ('add_', 3 * B, lambda: np.add(w, b, out=w)), ('mul_', 3 * B, lambda: np.multiply(w, one, out=w)),
                ('relu_', 2 * B, lambda: np.maximum(w, 0, out=w)), ('exp_', 2 * B, lambda: np.exp(w, out=w)),
                ('addScalar_', 2 * B, lambda: np.add(w, np.float32(1.5), out=w))]
    out = [run('numpy', n, lambda: a.copy(), lambda: np.copyto(c, a), np_cases, rounds, per)]
    torch.set_num_threads(threads)
    ta, tb, tc = torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(c)
    to, tw, tone = torch.from_numpy(o), torch.from_numpy(w), torch.from_numpy(one)
    t_cases = [('add', 3 * B, lambda: ta + tb), ('mul', 3 * B, lambda: ta * tb), ('relu', 2 * B, lambda: torch.relu(ta)),
               ('exp', 2 * B, lambda: torch.exp(ta)), ('addScalar', 2 * B, lambda: ta + 1.5), ('sum', B, lambda: ta.sum()),
               ('add(out)', 3 * B, lambda: torch.add(ta, tb, out=to)), ('mul(out)', 3 * B, lambda: torch.mul(ta, tb, out=to)),
               ('relu(out)', 2 * B, lambda: torch.clamp(ta, min=0, out=to)), ('exp(out)', 2 * B, lambda: torch.exp(ta, out=to)),
               ('addScalar(out)', 2 * B, lambda: torch.add(ta, 1.5, out=to)),
               ('add_', 3 * B, lambda: tw.add_(tb)), ('mul_', 3 * B, lambda: tw.mul_(tone)), ('relu_', 2 * B, lambda: tw.relu_()),
               ('exp_', 2 * B, lambda: tw.exp_()), ('addScalar_', 2 * B, lambda: tw.add_(1.5))]
    out.append(run('torch', n, lambda: ta.clone(), lambda: tc.copy_(ta), t_cases, rounds, per))
    return {'bench': 'elementwise', 'size': n, 'threads': threads, 'repeats': per * rounds, 'peers': out,
            'peer': {'numpy': np.__version__, 'torch': torch.__version__, 'torchThreads': torch.get_num_threads(),
                     'numpyThreads': 1}}


if __name__ == '__main__':
    print(json.dumps(bench(int(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 2)))
