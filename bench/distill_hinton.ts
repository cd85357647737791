// The Hinton et al. (2015) distillation experiment (issue 6's acceptance), run through the CLI
// in-process, so the table is exactly what these commands print:
//
//   tensorslim train --model mlp-large --dataset D --epochs TE --augment A --schedule S --batch-size 128 --seed 0 --out teacher.safetensors
//   tensorslim distill --teacher teacher.safetensors --student P --dataset D --epochs E --batch-size 128 \
//       --temperature T --alpha X --seed S --baseline --json          (S = 1, 2, 3, ...)
//
// Defaults (DEFAULTS below; results and how they were chosen in docs/DISTILLATION.md):
//   mnist:         teacher 40 epochs on images shifted by up to 2 pixels (as Hinton et al. jittered
//                  theirs); mlp-small, 10 epochs, T 20, alpha 1
//   fashion-mnist: chosen on the validation split (--validate): teacher 40 epochs, cosine schedule, no
//                  augmentation; student 784-128-10 (mlp-tiny with --student-hidden 128), 120 epochs,
//                  T 2, alpha 0.5 (before step 4 of the docs: mlp-tiny itself, 784-64-10)
// Each seed trains the same student twice with the same initial weights, data order (the
// unaugmented training split, or with --student-augment / --mixup the same augmented batches),
// optimizer (Adam), learning rate, batch size and epochs: alone on the labels (--baseline) and
// distilled. Gap closed = (distilled - alone) / (teacher - alone),
// printed per seed and from the seed-averaged accuracies.
//
// --validate: choose the recipe without the test set. The last 10,000 images of the training split
// are held out as a validation set (written as IDX files under the cache folder and passed with
// --data); teacher and students train on the first N - 10,000 and every accuracy reported is a
// validation accuracy. --student, --epochs, --temperature and --alpha then take comma-separated
// lists (a grid); the student alone is trained once per (student, epochs, seed) and shared by
// the (T, alpha) cells.
//
//   npx tsx bench/distill_hinton.ts [--dataset mnist|fashion-mnist] [--seeds 3 | --seed-list 1,2,3] [--validate]
//   options: --teacher FILE (skip training it) --teacher-epochs N --teacher-augment SPEC --teacher-schedule S
//            --student P[,P] --epochs N[,N] --temperature T[,T] --alpha X[,X] --batch-size N --lr X
//            --student-schedule constant|cosine|warmup-cosine (distill --schedule: both students; default constant)
//            --student-augment none|shift|shift:N, --mixup A (distill --augment / --mixup: both students train on the
//            same augmented batches, the teacher's soft targets are computed on them; default none, 0)
//            --student-hidden N[,N]|none (distill --student-hidden: the student preset with these hidden widths)
//            --out FILE (write the record to FILE only, not to bench/results: a part to --merge later)
//            --merge A.json,B.json (combine parts of the same settings, e.g. one seed per process, into one record)
//            --val-size N (10000) --cache DIR (teachers, validation split; default $TMPDIR/tensorslim-distill-hinton)
//
// Records benchmark 'distill-hinton-<dataset>' (with --validate, 'distill-hinton-<dataset>-validation');
// the student's augmentation, mixup and hidden widths are fields of the record (bench/README.md).

import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { captureContext, main, type CliContext } from '../src/cli/index.js';
import { getBackend } from '../src/backend/registry.js';
import { FASHION_MNIST_DIR } from '../src/data/fashion_mnist.js';
import { findIdxFile, readIdxFile, type IdxArray } from '../src/data/idx.js';
import { writeJsonAtomic, writeResult } from './common.js';

interface Recipe {
  student: string; teacherEpochs: number; teacherAugment: string; teacherSchedule: string; epochs: number; temperature: number; alpha: number;
  /** distill --augment / --mixup: both students train on these augmented batches, the teacher's targets are computed on them. */
  studentAugment: string; mixup: number;
  /** distill --student-hidden: hidden widths replacing the student preset's (null: the preset's). */
  studentHidden: string | null;
}
// Defaults per dataset (how they were chosen: docs/DISTILLATION.md).
const DEFAULTS: Record<string, Recipe> = {
  mnist: { student: 'mlp-small', teacherEpochs: 40, teacherAugment: 'shift', teacherSchedule: 'constant', epochs: 10, temperature: 20, alpha: 1, studentAugment: 'none', mixup: 0, studentHidden: null },
  // chosen on the validation split (--validate), docs/DISTILLATION.md
  // (step 4 there): mlp-tiny widened to 784-128-10 (--student-hidden 128), 120 epochs, T 2, alpha 0.5
  'fashion-mnist': { student: 'mlp-tiny', teacherEpochs: 40, teacherAugment: 'none', teacherSchedule: 'cosine', epochs: 120, temperature: 2, alpha: 0.5, studentAugment: 'none', mixup: 0, studentHidden: '128' },
};

const { values: a } = parseArgs({
  options: {
    dataset: { type: 'string', default: 'mnist' }, seeds: { type: 'string', default: '3' }, 'seed-list': { type: 'string' },
    teacher: { type: 'string' }, 'teacher-epochs': { type: 'string' }, epochs: { type: 'string' },
    temperature: { type: 'string' }, alpha: { type: 'string' }, student: { type: 'string' }, 'teacher-augment': { type: 'string' },
    'teacher-schedule': { type: 'string' }, 'student-schedule': { type: 'string', default: 'constant' },
    'student-augment': { type: 'string' }, mixup: { type: 'string' }, 'student-hidden': { type: 'string' }, validate: { type: 'boolean', default: false }, 'val-size': { type: 'string', default: '10000' },
    'batch-size': { type: 'string', default: '128' }, lr: { type: 'string', default: '0.001' },
    cache: { type: 'string', default: join(tmpdir(), 'tensorslim-distill-hinton') }, merge: { type: 'string' }, out: { type: 'string' },
  },
});
const dataset = a.dataset!;
const base = DEFAULTS[dataset] ?? DEFAULTS['mnist']!;
const num = (v: string, name: string): number => {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new Error(`distill_hinton: --${name} needs a number, got '${v}'`);
  return n;
};
const list = (v: string | undefined, fallback: number, name: string): number[] => (v === undefined ? [fallback] : v.split(',').map((x) => num(x, name)));
const teacherEpochs = a['teacher-epochs'] === undefined ? base.teacherEpochs : num(a['teacher-epochs'], 'teacher-epochs');
const teacherAugment = a['teacher-augment'] ?? base.teacherAugment;
const teacherSchedule = a['teacher-schedule'] ?? base.teacherSchedule;
const students = (a.student ?? base.student).split(',');
const epochsList = list(a.epochs, base.epochs, 'epochs');
const temperatures = list(a.temperature, base.temperature, 'temperature');
const alphas = list(a.alpha, base.alpha, 'alpha');
const seeds = a['seed-list'] !== undefined ? a['seed-list'].split(',').map((s) => num(s, 'seed-list'))
  : Array.from({ length: num(a.seeds!, 'seeds') }, (_, i) => i + 1);
const batchSize = a['batch-size']!, lr = a.lr!;
// the students' learning-rate schedule (distill --schedule; the --baseline student gets the same)
const studentSchedule = a['student-schedule']!;
if (!['constant', 'cosine', 'warmup-cosine'].includes(studentSchedule)) throw new Error(`distill_hinton: --student-schedule must be constant, cosine or warmup-cosine, got '${studentSchedule}'`);
// consistent augmentation (distill --augment / --mixup): both students see the same augmented
// batches and the teacher's soft targets are computed on them (no precomputed logits)
const studentAugment = a['student-augment'] ?? base.studentAugment;
if (!/^(none|shift|shift:\d)$/.test(studentAugment)) throw new Error(`distill_hinton: --student-augment must be none, shift or shift:N, got '${studentAugment}'`);
const mixupAlpha = a.mixup === undefined ? base.mixup : num(a.mixup, 'mixup');
if (!(mixupAlpha >= 0)) throw new Error(`distill_hinton: --mixup must be >= 0 (0 = off), got ${mixupAlpha}`);
const augmenting = studentAugment !== 'none' || mixupAlpha > 0;
const augmentArgs = augmenting ? ['--augment', studentAugment, '--mixup', String(mixupAlpha)] : [];
// distill --student-hidden: the student preset with other hidden widths (e.g. 128: 784-128-10)
const studentHidden = a['student-hidden'] === 'none' ? null : a['student-hidden'] ?? base.studentHidden;
if (studentHidden !== null && !/^\d+(,\d+)*$/.test(studentHidden)) throw new Error(`distill_hinton: --student-hidden must be widths like 128 or 256,64, got '${studentHidden}'`);
const hiddenArgs = studentHidden !== null ? ['--student-hidden', studentHidden] : [];
const validate = a.validate!;
const valSize = num(a['val-size']!, 'val-size');

// --merge a.json,b.json: combine parts (records written with --out) of the same settings run in
// separate processes (e.g. one seed each, in parallel); the flags must repeat the runs' settings,
// which are checked. The merged record lists each part's date, seeds and seconds under `parts`.
interface Row { student: string; epochs: number; temperature: number; alpha: number; seed: number; teacher: number; alone: number; distilled: number; gapClosed: number; seconds: number }
const merged = (a.merge ?? '').split(',').filter((f) => f !== '').map((f) => {
  const r = JSON.parse(readFileSync(f, 'utf8')) as Record<string, unknown>;
  // files written before --student-schedule existed were all trained at a constant rate
  if (r['studentSchedule'] === undefined) r['studentSchedule'] = 'constant';
  // and before --student-augment / --mixup, on the unaugmented split
  if (r['studentAugment'] === undefined) r['studentAugment'] = 'none';
  if (r['mixup'] === undefined) r['mixup'] = 0;
  if (r['studentHidden'] === undefined) r['studentHidden'] = null;
  const want = { dataset, validate, teacherEpochs, teacherAugment, teacherSchedule, studentSchedule, studentAugment, mixup: mixupAlpha, studentHidden, students, epochs: epochsList, temperatures, alphas, batchSize: Number(batchSize), lr: Number(lr) };
  for (const [k, v] of Object.entries(want)) {
    if (JSON.stringify(r[k]) !== JSON.stringify(v)) throw new Error(`distill_hinton --merge: ${f} has ${k} ${JSON.stringify(r[k])}, the flags say ${JSON.stringify(v)}`);
  }
  return { part: { date: r['date'] as string, seedList: r['seedList'] as number[], seconds: r['seconds'] as number }, teacherCheckpoint: r['teacherCheckpoint'] as string, commands: r['commands'] as string[], rows: r['seeds'] as Row[] };
});
if (merged.length > 0) {
  seeds.splice(0, seeds.length, ...merged.flatMap((m) => [...new Set(m.rows.map((r) => r.seed))]));
  for (const m of merged) m.rows.sort((x, y) => x.seed - y.seed);
  if (new Set(seeds).size !== seeds.length) throw new Error(`distill_hinton --merge: a seed appears in more than one file (${seeds.join(', ')})`);
  seeds.sort((x, y) => x - y);
  merged.sort((x, y) => x.rows[0]!.seed - y.rows[0]!.seed);
}

/** Run a tensorslim command in-process: progress to our stderr, returns the --json result. */
async function tensorslim(argv: string[]): Promise<Record<string, unknown>> {
  console.log(`$ tensorslim ${argv.join(' ')}`);
  const cap = captureContext();
  const ctx: CliContext = { ...cap, err: (line) => { process.stderr.write(`${line}\n`); }, errRaw: (t) => { process.stderr.write(t); } };
  const code = await main(argv, ctx);
  if (code !== 0) throw new Error(`tensorslim ${argv[0]} exited with ${code}:\n${cap.stdout.join('\n')}`);
  return JSON.parse(cap.stdout.filter((l) => l.trim() !== '').at(-1)!) as Record<string, unknown>;
}

/** Raw IDX bytes (uint8 data) of rows [from, to) of an IDX array. */
function idxSlice(arr: IdxArray, from: number, to: number): Buffer {
  const rowSize = arr.shape.slice(1).reduce((x, y) => x * y, 1);
  const shape = [to - from, ...arr.shape.slice(1)];
  const head = Buffer.alloc(4 + 4 * shape.length);
  head.writeUInt8(0x08, 2); head.writeUInt8(shape.length, 3);
  shape.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  const data = arr.data as Uint8Array;
  return Buffer.concat([head, Buffer.from(data.buffer, data.byteOffset + from * rowSize, (to - from) * rowSize)]);
}

/**
 * The validation split: the first N - valSize training images as train-*, the last valSize as
 * t10k-* (raw IDX, written atomically). The test files are never read.
 */
function validationSplit(): string {
  if (dataset !== 'fashion-mnist') throw new Error(`distill_hinton: --validate is implemented for fashion-mnist (the IDX dataset), not '${dataset}'`);
  const dir = join(a.cache!, `${dataset}-validation-last${valSize}`);
  const names = { images: 'images-idx3-ubyte', labels: 'labels-idx1-ubyte' } as const;
  if ((['train', 't10k'] as const).every((s) => existsSync(join(dir, `${s}-${names.images}`)) && existsSync(join(dir, `${s}-${names.labels}`)))) return dir;
  mkdirSync(dir, { recursive: true });
  for (const kind of ['images', 'labels'] as const) {
    const path = findIdxFile(FASHION_MNIST_DIR, 'train', kind);
    if (path === null) throw new Error(`distill_hinton: no Fashion-MNIST training ${kind} in ${FASHION_MNIST_DIR} (apt-get install -y dataset-fashion-mnist)`);
    const arr = readIdxFile(path);
    const n = arr.shape[0]!;
    if (arr.dtype !== 'uint8' || valSize <= 0 || valSize >= n) throw new Error(`distill_hinton: cannot hold out ${valSize} of ${n} ${arr.dtype} training ${kind}`);
    for (const [split, from, to] of [['train', 0, n - valSize], ['t10k', n - valSize, n]] as const) {
      const out = join(dir, `${split}-${names[kind]}`);
      writeFileSync(`${out}.tmp`, idxSlice(arr, from, to));
      renameSync(`${out}.tmp`, out);
    }
  }
  return dir;
}

const t0 = performance.now();
const commands: string[] = [];
const dataArgs = validate ? ['--data', validationSplit()] : [];
const evalSplit = validate ? `validation (last ${valSize} training images; trained on the rest)` : 'test';
let teacherPath = merged[0]?.teacherCheckpoint ?? a.teacher;
let teacherRun: Record<string, unknown> | null = null;
if (merged.length > 0) {
  if (merged.some((m) => m.teacherCheckpoint !== teacherPath)) throw new Error('distill_hinton --merge: the files use different teacher checkpoints');
  for (const m of merged) commands.push(...m.commands.filter((c) => !commands.includes(c)));
} else if (teacherPath === undefined) {
  mkdirSync(a.cache!, { recursive: true });
  teacherPath = join(a.cache!, `${dataset.replace(/[^a-z0-9-]/gi, '_')}${validate ? `-val${valSize}` : ''}-mlp-large-e${teacherEpochs}-${teacherAugment.replace(':', '')}${teacherSchedule === 'constant' ? '' : `-${teacherSchedule}`}-b128-seed0.safetensors`);
  const argv = ['train', '--model', 'mlp-large', '--dataset', dataset, ...dataArgs, '--epochs', String(teacherEpochs), '--augment', teacherAugment,
    '--schedule', teacherSchedule, '--batch-size', '128', '--seed', '0', '--out', teacherPath, '--json'];
  commands.push(`tensorslim ${argv.join(' ')}`);
  if (existsSync(teacherPath)) console.log(`teacher: reusing ${teacherPath} (written by: tensorslim ${argv.join(' ')})`);
  else teacherRun = await tensorslim(argv);
} else if (!existsSync(teacherPath)) throw new Error(`distill_hinton: --teacher ${teacherPath}: no such file`);

const rows: Row[] = merged.flatMap((m) => m.rows);
const pct = (x: number): string => `${(100 * x).toFixed(2)}%`;
for (const student of merged.length > 0 ? [] : students) {
  for (const epochs of epochsList) {
    for (const seed of seeds) {
      let alone = NaN;
      for (const temperature of temperatures) {
        for (const alpha of alphas) {
          const first = Number.isNaN(alone);
          const argv = ['distill', '--teacher', teacherPath, '--student', student, ...hiddenArgs, '--dataset', dataset, ...dataArgs, '--epochs', String(epochs),
            '--batch-size', batchSize, '--lr', lr, '--schedule', studentSchedule, ...augmentArgs, '--temperature', String(temperature), '--alpha', String(alpha), '--seed', String(seed), ...(first ? ['--baseline'] : []), '--json'];
          commands.push(`tensorslim ${argv.join(' ')}`);
          const s0 = performance.now();
          const r = await tensorslim(argv);
          const teacher = r['teacherAccuracy'] as number, distilled = r['distilledAccuracy'] as number;
          if (first) alone = r['studentAloneAccuracy'] as number;
          rows.push({ student, epochs, temperature, alpha, seed, teacher, alone, distilled, gapClosed: (distilled - alone) / (teacher - alone), seconds: (performance.now() - s0) / 1000 });
          console.log(`${student} ${epochs} ep, T ${temperature}, alpha ${alpha}, seed ${seed}: teacher ${pct(teacher)}  alone ${pct(alone)}  distilled ${pct(distilled)}  (${evalSplit})`);
        }
      }
    }
  }
}

type Mean = { teacher: number; alone: number; distilled: number; gapClosed: number; gapClosedPerSeed: number };
const meanOf = (rs: Row[]): Mean => {
  const mean = (f: (r: Row) => number): number => rs.reduce((s, r) => s + f(r), 0) / rs.length;
  const m = { teacher: mean((r) => r.teacher), alone: mean((r) => r.alone), distilled: mean((r) => r.distilled), gapClosedPerSeed: mean((r) => r.gapClosed) };
  return { ...m, gapClosed: (m.distilled - m.alone) / (m.teacher - m.alone) };
};
const cells: Array<{ student: string; epochs: number; temperature: number; alpha: number; seeds: Row[]; mean: Mean }> = [];
for (const student of students) for (const epochs of epochsList) for (const temperature of temperatures) for (const alpha of alphas) {
  const rs = rows.filter((r) => r.student === student && r.epochs === epochs && r.temperature === temperature && r.alpha === alpha);
  cells.push({ student, epochs, temperature, alpha, seeds: rs, mean: meanOf(rs) });
}

console.log('');
console.log(`${dataset}, accuracies on the ${evalSplit}: teacher mlp-large (${teacherEpochs} epochs, augment ${teacherAugment}, ${teacherSchedule} schedule); students batch ${batchSize}, adam lr ${lr} (${studentSchedule} schedule${augmenting ? `, augment ${studentAugment}, mixup ${mixupAlpha}, teacher targets on the augmented batches` : ''}${studentHidden !== null ? `; student hidden widths ${studentHidden}` : ''}), seeds ${seeds.join(', ')}`);
const gc = (x: number): string => `${(100 * x).toFixed(0)}%`;
console.log(`${'student'.padEnd(10)}${'epochs'.padStart(7)}${'T'.padStart(5)}${'alpha'.padStart(7)}${'seed'.padStart(6)}${'teacher'.padStart(9)}${'alone'.padStart(9)}${'distilled'.padStart(11)}${'gap closed'.padStart(12)}`);
for (const c of cells) {
  const line = (seed: string, r: { teacher: number; alone: number; distilled: number }, g: string): string =>
    `${c.student.padEnd(10)}${String(c.epochs).padStart(7)}${String(c.temperature).padStart(5)}${String(c.alpha).padStart(7)}${seed.padStart(6)}${pct(r.teacher).padStart(9)}${pct(r.alone).padStart(9)}${pct(r.distilled).padStart(11)}${g.padStart(12)}`;
  for (const r of c.seeds) console.log(line(String(r.seed), r, gc(r.gapClosed)));
  console.log(`${line('mean', c.mean, gc(c.mean.gapClosed))}   (mean of the per-seed ratios: ${gc(c.mean.gapClosedPerSeed)})`);
}
const single = cells.length === 1 ? cells[0]! : null;
if (single !== null && !validate) {
  console.log(single.mean.gapClosed >= 0.5 ? 'PASS: the distilled student closes at least half of the gap (from the seed-averaged accuracies)' : 'FAIL: the distilled student closes less than half of the gap');
}

const bench = `distill-hinton-${dataset.toLowerCase().replace(/[^a-z0-9-]/g, '-')}${validate ? '-validation' : ''}`;
const teacherHistory = teacherRun !== null && Array.isArray(teacherRun['history'])
  ? (teacherRun['history'] as Array<Record<string, unknown>>).map((h) => ({ epoch: h['epoch'], trainLoss: h['trainLoss'], trainAccuracy: h['trainAccuracy'], accuracy: h['testAccuracy'], lr: h['lr'] }))
  : null;
const result = {
  experiment: 'distill-hinton', date: new Date().toISOString(), dataset, evaluatedOn: evalSplit, validate,
  ...(validate ? { validationSplit: { dir: dataArgs[1], trainImages: `the first N - ${valSize} of the training split`, validationImages: `the last ${valSize} of the training split` } } : {}),
  teacherModel: 'mlp-large', teacherEpochs, teacherAugment, teacherSchedule, teacherHistory,
  transferSet: augmenting ? `the training split, augmented per batch (${studentAugment}, mixup ${mixupAlpha}), the same batches for both students; teacher targets computed on them` : 'the unaugmented training split (both students)',
  studentAugment, mixup: mixupAlpha, studentHidden, backend: getBackend().name,
  students, epochs: epochsList, temperatures, alphas, seedList: seeds,
  batchSize: Number(batchSize), lr: Number(lr), studentSchedule, optimizer: 'adam', teacherCheckpoint: teacherPath,
  ...(merged.length > 0 ? { parts: merged.map((m) => m.part) } : {}),
  commands, cells: cells.map((c) => ({ student: c.student, epochs: c.epochs, temperature: c.temperature, alpha: c.alpha, mean: c.mean })), seeds: rows,
  ...(single !== null ? { mean: single.mean, pass: validate ? null : single.mean.gapClosed >= 0.5 } : {}),
  seconds: (performance.now() - t0) / 1000,
};
if (a.out !== undefined) {
  writeJsonAtomic(a.out, { bench, ...result });
  console.log(`wrote ${a.out} (a part: combine the parts with --merge)`);
} else {
  const files = writeResult(bench, result);
  console.log(`wrote ${files.history} and ${files.current}`);
}
