#!/usr/bin/python3
# PyTorch peer of `tensorslim bench gpt`: one AdamW training step of a nanoGPT-style GPT (4 layers,
# d_model 256, 4 heads, context 128, batch 16, byte vocabulary 256, tied LM head, GELU MLP 4x,
# dropout 0, biases), float32 on random tokens; median step time after warm-up, and the process's
# peak resident memory. Printed as one JSON line.
# Run with /usr/bin/python3 (Debian python3-torch 1.13, libopenblas0-pthread) with OPENBLAS_CORETYPE
# and OPENBLAS_L2_SIZE unset (OpenBLAS then picks its best kernel for this CPU) and
# torch.set_num_threads(1) (OpenBLAS threads its GEMMs itself; two pools on two cores fight).
# The model is nanoGPT's model.py written out; attention is the explicit softmax(q k^T) v, which is
# what nanoGPT runs on PyTorch 1.13 (no scaled_dot_product_attention before 2.0).
#   usage: peer_gpt.py [steps] [warmup] [threads] [--preset small|gpt2] [--checkpointing]
#                      [--generate N --prompt P] [--threads-list 1,2] [--profile]
#          peer_gpt.py --serve [--preset ...] [--checkpointing]   a long-lived worker for
#          bench/paired.ts: workload 'step' (the training step below), threads set per request
# --profile: after the warm-up, run the timed steps under torch.autograd.profiler and print (to
# stderr) the per-op table by self CPU time, per step, for the per-op comparison in docs/GPT.md.
# --preset gpt2: GPT-2 small's shape (12 layers, d_model 768, 12 heads, context 256, vocabulary
# 50257, batch 4); --checkpointing: each block under torch.utils.checkpoint (activation
# recomputation); --generate N: instead of training, greedy generation of N new tokens after a
# P-token prompt (default 32) under torch.no_grad() in eval mode, with a key/value cache kept as
# per-layer (k, v) tensors grown by torch.cat, as Hugging Face's GPT-2 does with past_key_values;
# --threads-list: time each thread count in turn in this one process (the model and its peak
# memory are the same) and report each plus the fastest.
import argparse, json, math, os, resource, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint
from peer_common import median, openblas_config, serve

ap = argparse.ArgumentParser()
ap.add_argument('steps', nargs='?', type=int, default=20)
ap.add_argument('warmup', nargs='?', type=int, default=3)
ap.add_argument('threads', nargs='?', type=int, default=1)
ap.add_argument('--preset', default='small', choices=['small', 'gpt2'])
ap.add_argument('--checkpointing', action='store_true')
ap.add_argument('--generate', type=int, default=0)
ap.add_argument('--prompt', type=int, default=32)
ap.add_argument('--threads-list', default=None)
ap.add_argument('--profile', action='store_true')
ap.add_argument('--serve', action='store_true')
args = ap.parse_args()
steps, warmup = args.steps, args.warmup
threads_list = [int(t) for t in args.threads_list.split(',')] if args.threads_list else [args.threads]
torch.set_num_threads(threads_list[0])

if args.preset == 'gpt2':
    N_LAYER, N_EMBD, N_HEAD, BLOCK, VOCAB, BATCH = 12, 768, 12, 256, 50257, 4
else:
    N_LAYER, N_EMBD, N_HEAD, BLOCK, VOCAB, BATCH = 4, 256, 4, 128, 256, 16


class CausalSelfAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.c_attn = nn.Linear(N_EMBD, 3 * N_EMBD)
        self.c_proj = nn.Linear(N_EMBD, N_EMBD)
        self.register_buffer('mask', torch.tril(torch.ones(BLOCK, BLOCK)).view(1, 1, BLOCK, BLOCK), persistent=False)

    def forward(self, x, past=None):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(N_EMBD, dim=2)
        q = q.view(B, T, N_HEAD, C // N_HEAD).transpose(1, 2)
        k = k.view(B, T, N_HEAD, C // N_HEAD).transpose(1, 2)
        v = v.view(B, T, N_HEAD, C // N_HEAD).transpose(1, 2)
        if past is not None:   # generation: (k, v) of the earlier positions, (B, H, P, D)
            if past[0] is not None:
                k = torch.cat([past[0], k], dim=2); v = torch.cat([past[1], v], dim=2)
            present = (k, v)
        S = k.size(2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = att.masked_fill(self.mask[:, :, S - T:S, :S] == 0, float('-inf'))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        y = self.c_proj(y)
        return (y, present) if past is not None else y


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1 = nn.LayerNorm(N_EMBD)
        self.attn = CausalSelfAttention()
        self.ln_2 = nn.LayerNorm(N_EMBD)
        self.mlp = nn.Sequential()
        self.mlp.c_fc = nn.Linear(N_EMBD, 4 * N_EMBD)
        self.mlp.gelu = nn.GELU()
        self.mlp.c_proj = nn.Linear(4 * N_EMBD, N_EMBD)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))

    def forward_cached(self, x, past):
        a, present = self.attn(self.ln_1(x), past)
        x = x + a
        return x + self.mlp(self.ln_2(x)), present


class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(VOCAB, N_EMBD), wpe=nn.Embedding(BLOCK, N_EMBD),
            h=nn.ModuleList([Block() for _ in range(N_LAYER)]), ln_f=nn.LayerNorm(N_EMBD)))
        self.lm_head = nn.Linear(N_EMBD, VOCAB, bias=False)
        self.transformer.wte.weight = self.lm_head.weight

    def forward(self, idx, targets):
        t = idx.size(1)
        pos = torch.arange(0, t, dtype=torch.long)
        x = self.transformer.wte(idx) + self.transformer.wpe(pos)
        for block in self.transformer.h:
            x = torch.utils.checkpoint.checkpoint(block, x) if args.checkpointing else block(x)
        logits = self.lm_head(self.transformer.ln_f(x))
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))

    def forward_cached(self, idx, past):
        """Logits of the last position (B, V) for the tokens idx after the cached ones, and the new cache."""
        p0 = 0 if past[0] is None else past[0][0].size(2)
        pos = torch.arange(p0, p0 + idx.size(1), dtype=torch.long)
        x = self.transformer.wte(idx) + self.transformer.wpe(pos)
        presents = []
        for block, p in zip(self.transformer.h, past):
            x, pr = block.forward_cached(x, p if p is not None else (None, None))
            presents.append(pr)
        return self.lm_head(self.transformer.ln_f(x[:, -1, :])), presents


def peer_info():
    return {'torch': torch.__version__, 'torchThreads': torch.get_num_threads(), 'openblas': openblas_config(),
            'OPENBLAS_CORETYPE': os.environ.get('OPENBLAS_CORETYPE'), 'OPENBLAS_L2_SIZE': os.environ.get('OPENBLAS_L2_SIZE')}


def config():
    return {'nLayer': N_LAYER, 'nEmbd': N_EMBD, 'nHead': N_HEAD, 'blockSize': BLOCK, 'vocabSize': VOCAB, 'batch': BATCH,
            'checkpointing': args.checkpointing, 'preset': args.preset}


def generate(model, prompt, n):
    """Greedy: the prompt's forward, then one cached forward per new token; returns per-token times (s from start)."""
    marks = []
    t0 = time.perf_counter()
    logits, past = model.forward_cached(prompt, [None] * N_LAYER)
    for i in range(n):
        tok = logits.argmax(dim=-1, keepdim=True)
        marks.append(time.perf_counter() - t0)
        if i + 1 == n:
            break
        logits, past = model.forward_cached(tok, past)
    return time.perf_counter() - t0, marks


def main_generate():
    torch.manual_seed(7)
    model = GPT(); model.eval()
    prompt = torch.randint(0, VOCAB, (1, args.prompt))
    n = args.generate
    per = {}
    with torch.no_grad():
        for t in threads_list:
            torch.set_num_threads(t)
            generate(model, prompt, 4)
            total, first, decode = [], [], []
            for _ in range(steps):
                tt, marks = generate(model, prompt, n)
                total.append(tt); first.append(marks[0]); decode.append((n - 1) / (marks[-1] - marks[0]))
            per[t] = {'tokensPerSecond': n / median(total), 'decodeTokensPerSecond': median(decode),
                      'firstTokenMs': median(first) * 1e3, 'generateMs': median(total) * 1e3}
    best = max(per, key=lambda t: per[t]['decodeTokensPerSecond'])
    torch.set_num_threads(best)
    print(json.dumps({
        'bench': 'gpt-generate', 'impl': 'pytorch', **per[best], 'threadsKept': best, 'perThreads': per,
        'promptTokens': args.prompt, 'newTokens': n, 'batch': 1, 'repeats': steps,
        'params': sum(p.numel() for p in model.parameters()),
        'peakRssBytes': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, 'config': config(), 'peer': peer_info(),
    }))


def profile_steps(model, opt, x, y):
    """The timed steps again under the autograd profiler: per-op self CPU ms per step, to stderr."""
    with torch.autograd.profiler.profile() as prof:
        for _ in range(steps):
            opt.zero_grad(set_to_none=True)
            model(x, y).backward()
            opt.step()
    rows = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
    total = sum(e.self_cpu_time_total for e in rows) / 1e3 / steps
    print(f'torch {torch.__version__} threads {torch.get_num_threads()}: self CPU {total:.2f} ms/step', file=sys.stderr)
    for e in rows:
        if e.self_cpu_time_total / 1e3 / steps < 0.05:
            break
        print(f'{e.self_cpu_time_total / 1e3 / steps:9.3f} ms {e.count / steps:6.1f}x  {e.key}', file=sys.stderr)


def main_serve():
    torch.manual_seed(7)
    model = GPT()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4)
    x = torch.randint(0, VOCAB, (BATCH, BLOCK)); y = torch.randint(0, VOCAB, (BATCH, BLOCK))

    def step():
        opt.zero_grad(set_to_none=True)
        loss = model(x, y)
        loss.backward()
        opt.step()
        return loss.item()
    serve({'step': step}, lambda: {'side': 'peer', 'pid': os.getpid(), 'config': config(), 'params': sum(p.numel() for p in model.parameters()),
                                   'peakRssBytes': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, 'peer': peer_info()},
          torch.set_num_threads)


def main():
    if args.serve:
        return main_serve()
    if args.generate:
        return main_generate()
    torch.manual_seed(7)
    model = GPT()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4)
    x = torch.randint(0, VOCAB, (BATCH, BLOCK)); y = torch.randint(0, VOCAB, (BATCH, BLOCK))
    loss = None
    per = {}
    for th in threads_list:
        torch.set_num_threads(th)
        ts = []
        c0 = 0.0
        for i in range(warmup + steps):
            if i == warmup:
                c0 = time.process_time()   # CPU time of the process, all threads
            t = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            loss = model(x, y)
            loss.backward()
            opt.step()
            if i >= warmup:
                ts.append(time.perf_counter() - t)
        per[th] = {'stepMs': median(ts) * 1e3, 'minMs': min(ts) * 1e3, 'cpuMsPerStep': (time.process_time() - c0) / steps * 1e3}
    if args.profile:
        profile_steps(model, opt, x, y)
    best = min(per, key=lambda t: per[t]['stepMs'])
    torch.set_num_threads(best)
    step = per[best]['stepMs'] / 1e3
    params = sum(p.numel() for p in model.parameters())
    print(json.dumps({
        'bench': 'gpt', 'impl': 'pytorch', **per[best], 'threadsKept': best, 'perThreads': per, 'tokensPerSecond': BATCH * BLOCK / step,
        'steps': steps, 'params': params, 'finalLoss': loss.item(),
        'peakRssBytes': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        'config': config(), 'peer': peer_info(),
    }))


if __name__ == '__main__':
    main()
