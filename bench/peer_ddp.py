#!/usr/bin/python3
# PyTorch peer of bench/run_ddp.ts: DistributedDataParallel on Gloo, one rank per process, training
# `mlp` (784-300-100-10, ReLU, Adam) or `gpt-tiny` (bench/peer_gpt.py's nanoGPT GPT with gpt-tiny's
# sizes: 4 layers, width 128, 4 heads, context 128, bytes; AdamW) on random data; every rank takes
# global-batch / world samples. Prints rank 0's median step time (zero_grad, forward, backward with
# DDP's all-reduce, step) as one JSON line.
# Run by run_ddp.ts as WORLD_SIZE processes with RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT set
# (torch.distributed's env:// rendezvous), /usr/bin/python3 (Debian python3-torch 1.13) with
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset.
#   usage: peer_ddp.py mlp|gpt-tiny GLOBAL_BATCH STEPS WARMUP THREADS
import json, os, sys, time
saved, sys.argv = sys.argv, sys.argv[:1]
import peer_gpt  # noqa: E402  (reads sys.argv at import)
sys.argv = saved
import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.nn.parallel import DistributedDataParallel as DDP  # noqa: E402
from peer_common import median  # noqa: E402

model_name, global_batch, steps, warmup, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
torch.set_num_threads(threads)
dist.init_process_group('gloo')
rank, world = dist.get_rank(), dist.get_world_size()
batch = global_batch // world
torch.manual_seed(7)
if model_name == 'mlp':
    model = torch.nn.Sequential(torch.nn.Linear(784, 300), torch.nn.ReLU(), torch.nn.Linear(300, 100), torch.nn.ReLU(), torch.nn.Linear(100, 10))
    x, y = torch.randn(batch, 784), torch.randint(0, 10, (batch,))
    loss_of = lambda m: F.cross_entropy(m(x), y)  # noqa: E731
    opt_of = lambda ps: torch.optim.Adam(ps, lr=1e-3)  # noqa: E731
else:
    peer_gpt.N_LAYER, peer_gpt.N_EMBD, peer_gpt.N_HEAD, peer_gpt.BLOCK, peer_gpt.VOCAB = 4, 128, 4, 128, 256
    model = peer_gpt.GPT()
    x, y = torch.randint(0, 256, (batch, 128)), torch.randint(0, 256, (batch, 128))
    loss_of = lambda m: m(x, y)  # noqa: E731
    opt_of = lambda ps: torch.optim.AdamW(ps, lr=1e-3, betas=(0.9, 0.95))  # noqa: E731
ddp = DDP(model) if world > 1 else model
opt = opt_of(ddp.parameters())
ts = []
for i in range(warmup + steps):
    t = time.perf_counter()
    opt.zero_grad(set_to_none=True)
    loss_of(ddp).backward()
    opt.step()
    if i >= warmup:
        ts.append(time.perf_counter() - t)
if world > 1:
    dist.barrier()
if rank == 0:
    print(json.dumps({'impl': 'pytorch-ddp-gloo', 'model': model_name, 'worldSize': world, 'perRankBatch': batch, 'globalBatch': global_batch,
                      'stepMs': median(ts) * 1e3, 'minMs': min(ts) * 1e3, 'steps': steps,
                      'peer': {'torch': torch.__version__, 'torchThreads': torch.get_num_threads(), 'backend': 'gloo',
                               'OPENBLAS_CORETYPE': os.environ.get('OPENBLAS_CORETYPE'), 'OPENBLAS_L2_SIZE': os.environ.get('OPENBLAS_L2_SIZE')}}))
dist.destroy_process_group()
