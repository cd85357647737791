# What the Python peers (bench/peer_*.py) share: OpenBLAS's own description of itself (core kernel,
# build config, threads), so results record the peer's configuration, and a median.
import ctypes


def openblas_config():
    try:
        lib = ctypes.CDLL('libopenblas.so.0')
        lib.openblas_get_corename.restype = ctypes.c_char_p
        lib.openblas_get_config.restype = ctypes.c_char_p
        return {'corename': lib.openblas_get_corename().decode(), 'config': lib.openblas_get_config().decode(),
                'threads': lib.openblas_get_num_threads()}
    except OSError as e:
        return {'error': str(e)}


def median(xs):
    s = sorted(xs); n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def serve(workloads, info, set_threads=None):
    """Answer bench/paired.ts's timing requests on stdin/stdout until "quit" (src/bench/worker.ts's
    protocol, one JSON object a line): "time" runs workloads[name]() iters times and replies wall
    and process CPU time (all threads) of that window; "threads" calls set_threads(n); "info" and
    "threads" reply info()."""
    import json, sys, time
    for line in iter(sys.stdin.readline, ''):
        if not line.strip():
            continue
        req = json.loads(line)
        op = req.get('op')
        try:
            if op == 'time':
                name, k = req['workload'], req['iters']
                if name not in workloads:
                    raise ValueError(f"unknown workload '{name}'; this peer serves {', '.join(workloads)}")
                if not isinstance(k, int) or k < 1:
                    raise ValueError(f'iters must be a positive integer, got {k!r}')
                fn = workloads[name]
                c0 = time.process_time(); t0 = time.perf_counter()
                for _ in range(k):
                    fn()
                wall = (time.perf_counter() - t0) * 1e3; cpu = (time.process_time() - c0) * 1e3
                reply = {'op': op, 'workload': name, 'iters': k, 'wallMs': wall, 'cpuMs': cpu, 'wallMsPerIter': wall / k, 'cpuMsPerIter': cpu / k}
            elif op == 'threads':
                if set_threads is None:
                    raise ValueError('this peer cannot change its threads; start it with the threads wanted')
                set_threads(int(req['threads']))
                reply = {'op': op, **info()}
            elif op == 'info':
                reply = {'op': op, **info()}
            elif op == 'quit':
                reply = {'op': op}
            else:
                reply = {'op': op, 'error': f"unknown op '{op}'; expected time, threads, info or quit"}
        except Exception as e:  # the driver reports it with the request
            reply = {'op': op, 'error': f'{type(e).__name__}: {e}'}
        sys.stdout.write(json.dumps(reply) + '\n'); sys.stdout.flush()
        if op == 'quit':
            break


def peak_rss_bytes():
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
