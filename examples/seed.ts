// The seed program (shared/seed, section 4.1), ported line for line from PyTorch to tensorslim:
// a two-layer BigModel trained with MSELoss and Adam(lr=0.001) on seeded random data.
//
//   npx tsx examples/seed.ts              # 20 epochs, loss printed every 5
//   npx tsx examples/seed.ts --epochs 100 # or: EPOCHS=100 npx tsx examples/seed.ts
//
// The seed trains for 1000 epochs; on the pure-TypeScript reference backend one epoch of this
// 4M-parameter model (batch 64) takes about a second, so the default here is 20.
// The seed never defines x and y; we use a fixed random batch: x (64, 1000), y (64, 1000).

import { Adam, Linear, Module, MSELoss, manualSeed, randn, type Tensor } from '../src/index.js';

// PyTorch:                                         tensorslim:
// class BigModel(nn.Module):
//     def __init__(self):
//         super(BigModel, self).__init__()
//         self.layer1 = nn.Linear(1000, 2000)
//         self.layer2 = nn.Linear(2000, 1000)
//     def forward(self, x):
//         x = self.layer1(x)
//         x = self.layer2(x)
//         return x
class BigModel extends Module {
  layer1 = new Linear(1000, 2000);
  layer2 = new Linear(2000, 1000);

  forward(x: Tensor): Tensor {
    x = this.layer1.call(x);
    x = this.layer2.call(x);
    return x;
  }
}

function epochsFromArgs(): number {
  const i = process.argv.indexOf('--epochs');
  const raw = i >= 0 ? process.argv[i + 1] : process.env['EPOCHS'];
  const n = raw === undefined ? 20 : Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`seed: --epochs / EPOCHS must be a positive integer, got ${raw}`);
  return n;
}

const epochs = epochsFromArgs();
const printEvery = 5;

manualSeed(0);
const x = randn([64, 1000]);
const y = randn([64, 1000]);

// model = BigModel()
const model = new BigModel();
// criterion = nn.MSELoss()
const criterion = new MSELoss();
// optimizer = optim.Adam(model.parameters(), lr=0.001)
const optimizer = new Adam(model.parameters(), { lr: 0.001 });

const start = performance.now();
// for epoch in range(1000):
for (let epoch = 0; epoch < epochs; epoch++) {
  // y_pred = model(x)
  const yPred = model.call(x);
  // loss = criterion(y_pred, y)
  const loss = criterion.call(yPred, y);
  // loss.backward()
  loss.backward();
  // optimizer.step()
  optimizer.step();
  // optimizer.zero_grad()
  optimizer.zeroGrad();

  if (epoch % printEvery === 0 || epoch === epochs - 1) {
    console.log(`epoch ${String(epoch).padStart(4)}  loss ${loss.item().toFixed(6)}`);
  }
}
const seconds = (performance.now() - start) / 1000;
console.log(`${epochs} epochs in ${seconds.toFixed(1)} s (${(seconds / epochs).toFixed(2)} s/epoch)`);

// 4.2.1 Pruning (comes in its own issue, compress/prune). The seed's version:
//   def prune_weights(model, prune_ratio):
//       for name, param in model.named_parameters():
//           if name.startswith('weight'):
//               nn.utils.prune.l1_unstructured(param, amount=prune_ratio)
// Seed bug 1: named_parameters() yields dotted names ('layer1.weight', 'layer1.bias', ...), so
// name.startswith('weight') never matches and nothing is pruned; and l1_unstructured takes a
// module and a parameter name (l1_unstructured(module, 'weight', amount)), not a tensor. The
// intended loop walks modules: for each Linear m, l1Unstructured(m, 'weight', { amount: 0.5 }).
//
// 4.2.2 Knowledge distillation (comes in its own issue, compress/distill). The seed's version:
//   teacher_output = teacher_model(data)
//   distillation_loss = criterion(teacher_output, target)
//   distillation_loss.backward(); optimizer.step(); optimizer.zero_grad()
// Seed bug 2: the student is never called: the loss compares the teacher's output with the
// labels, so backward() reaches only the teacher (which should be frozen, under noGrad in eval
// mode) and the student never learns. The intended step runs the teacher under noGrad, the
// student normally, and mixes a softened teacher-vs-student loss (temperature T, scaled by T^2)
// with the hard-label loss on the student's output, stepping the student's optimizer.
