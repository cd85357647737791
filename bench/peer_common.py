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
