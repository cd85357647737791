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
#   usage: peer_gpt.py [steps] [warmup] [threads]
import json, math, os, resource, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F
from peer_common import median

steps = int(sys.argv[1]) if len(sys.argv) > 1 else 20
warmup = int(sys.argv[2]) if len(sys.argv) > 2 else 3
torch.set_num_threads(int(sys.argv[3]) if len(sys.argv) > 3 else 1)

N_LAYER, N_EMBD, N_HEAD, BLOCK, VOCAB, BATCH = 4, 256, 4, 128, 256, 16


class CausalSelfAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.c_attn = nn.Linear(N_EMBD, 3 * N_EMBD)
        self.c_proj = nn.Linear(N_EMBD, N_EMBD)
        self.register_buffer('mask', torch.tril(torch.ones(BLOCK, BLOCK)).view(1, 1, BLOCK, BLOCK), persistent=False)

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(N_EMBD, dim=2)
        q = q.view(B, T, N_HEAD, C // N_HEAD).transpose(1, 2)
        k = k.view(B, T, N_HEAD, C // N_HEAD).transpose(1, 2)
        v = v.view(B, T, N_HEAD, C // N_HEAD).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = att.masked_fill(self.mask[:, :, :T, :T] == 0, float('-inf'))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.c_proj(y)


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
            x = block(x)
        logits = self.lm_head(self.transformer.ln_f(x))
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


def main():
    torch.manual_seed(7)
    model = GPT()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4)
    x = torch.randint(0, VOCAB, (BATCH, BLOCK)); y = torch.randint(0, VOCAB, (BATCH, BLOCK))
    ts = []
    loss = None
    for i in range(warmup + steps):
        t = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = model(x, y)
        loss.backward()
        opt.step()
        if i >= warmup:
            ts.append(time.perf_counter() - t)
    step = median(ts)
    params = sum(p.numel() for p in model.parameters())
    print(json.dumps({
        'bench': 'gpt', 'impl': 'pytorch', 'stepMs': step * 1e3, 'minMs': min(ts) * 1e3, 'tokensPerSecond': BATCH * BLOCK / step,
        'steps': steps, 'params': params, 'finalLoss': loss.item(),
        'peakRssBytes': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        'config': {'nLayer': N_LAYER, 'nEmbd': N_EMBD, 'nHead': N_HEAD, 'blockSize': BLOCK, 'vocabSize': VOCAB, 'batch': BATCH},
        'peer': {'torch': torch.__version__, 'torchThreads': torch.get_num_threads(),
                 'OPENBLAS_CORETYPE': os.environ.get('OPENBLAS_CORETYPE'), 'OPENBLAS_L2_SIZE': os.environ.get('OPENBLAS_L2_SIZE')},
    }))


if __name__ == '__main__':
    main()
