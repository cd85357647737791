// IDX files (the MNIST / Fashion-MNIST format), raw or gzip-compressed (detected by magic bytes).
// Layout: 2 zero bytes, a type code, the number of dimensions d, then d big-endian uint32 sizes,
// then the values in row-major order, big-endian. Every header field and the exact file length are
// checked; corrupt or truncated files are refused with an error naming the file and what is wrong.

import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { constants as zlibConstants, gunzipSync } from 'node:zlib';
import { constants as bufferConstants } from 'node:buffer';

const MAX_LENGTH = bufferConstants.MAX_LENGTH;
import { fmtShape } from '../backend/shape.js';
import { TensorslimError } from '../core/errors.js';
import { Tensor } from '../core/tensor.js';
import { TensorDataset } from './dataset.js';

export type IdxDType = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';
export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

/** A decoded IDX array: its element type, shape and values (row-major). */
export interface IdxArray {
  readonly dtype: IdxDType;
  readonly shape: readonly number[];
  readonly data: IdxData;
}

const TYPES: Record<number, { dtype: IdxDType; size: number }> = {
  0x08: { dtype: 'uint8', size: 1 },
  0x09: { dtype: 'int8', size: 1 },
  0x0b: { dtype: 'int16', size: 2 },
  0x0c: { dtype: 'int32', size: 4 },
  0x0d: { dtype: 'float32', size: 4 },
  0x0e: { dtype: 'float64', size: 8 },
};

/** Whether the bytes start with the gzip magic number 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

function fail(source: string, message: string): never {
  throw new TensorslimError('idx', `${source}: ${message}`);
}

/**
 * Total bytes (header + data) an IDX header declares, read by decompressing growing prefixes of a
 * gzip file until the header is out (a prefix of k bytes inflates to at most about 1,032 k bytes).
 * Null when the header cannot be read this way (parseIdx then reports what is wrong).
 */
function declaredIdxBytes(gz: Uint8Array): number | null {
  for (let k = 64; ; k *= 4) {
    let head: Uint8Array;
    try { head = gunzipSync(gz.subarray(0, Math.min(k, gz.length)), { finishFlush: zlibConstants.Z_SYNC_FLUSH }); } catch { return null; }
    if (head.length >= 4) {
      const ndim = head[3]!;
      const headerLen = 4 + 4 * ndim;
      if (head.length >= headerLen) {
        const { size } = TYPES[head[2]!] ?? { size: 1 };
        let count = 1;
        const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
        for (let i = 0; i < ndim; i++) count *= dv.getUint32(4 + 4 * i, false);
        return headerLen + count * size;
      }
    }
    if (k >= gz.length) return null;
  }
}

/**
 * Decode IDX bytes, gunzipping first when they start with the gzip magic. uint8 data is returned
 * as a view of the (decompressed) bytes, without a copy.
 * @example const { shape, data } = parseIdx(readFileSync('train-labels-idx1-ubyte.gz')); // [60000]
 */
export function parseIdx(bytes: Uint8Array, source = 'IDX data'): IdxArray {
  let raw = bytes;
  if (isGzip(bytes)) {
    // Decompress no more than the header declares (a small file must not inflate to gigabytes first).
    const limit = declaredIdxBytes(bytes);
    try {
      raw = gunzipSync(bytes, limit === null ? {} : { maxOutputLength: Math.min(Math.max(1, limit + 1), MAX_LENGTH) });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' && limit !== null) {
        fail(source, `has trailing bytes: the decompressed data goes beyond the ${limit} bytes its header declares; the file is damaged`);
      }
      fail(source, `corrupt or truncated gzip data (${(e as Error).message}); download or install the file again`);
    }
  }
  if (raw.length < 4) fail(source, `too short to be an IDX file (${raw.length} bytes; the header alone is at least 8)`);
  if (raw[0] !== 0 || raw[1] !== 0 || TYPES[raw[2]!] === undefined || raw[3] === 0) {
    const magic = Array.from(raw.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    fail(source, `not an IDX file: magic bytes ${magic} (expected 00 00, a type code 08/09/0b/0c/0d/0e and a number of dimensions >= 1)`);
  }
  const { dtype, size } = TYPES[raw[2]!]!;
  const ndim = raw[3]!;
  const headerLen = 4 + 4 * ndim;
  if (raw.length < headerLen) fail(source, `truncated header: ${ndim} dimensions need ${headerLen} header bytes, the file has ${raw.length}`);
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const shape: number[] = [];
  let count = 1;
  for (let i = 0; i < ndim; i++) {
    const d = dv.getUint32(4 + 4 * i, false);
    shape.push(d);
    count *= d;
  }
  const expected = headerLen + count * size;
  if (raw.length !== expected) {
    const what = raw.length < expected ? 'truncated' : 'has trailing bytes';
    fail(source, `${what}: the header says ${fmtShape(shape)} ${dtype} = ${expected} bytes in all, but the ${isGzip(bytes) ? 'decompressed ' : ''}file has ${raw.length}`);
  }
  let data: IdxData;
  switch (dtype) {
    case 'uint8': data = raw.subarray(headerLen, expected); break;
    case 'int8': data = new Int8Array(raw.buffer, raw.byteOffset + headerLen, count); break;
    default: {
      data = dtype === 'int16' ? new Int16Array(count) : dtype === 'int32' ? new Int32Array(count) : dtype === 'float32' ? new Float32Array(count) : new Float64Array(count);
      for (let i = 0, p = headerLen; i < count; i++, p += size) {
        data[i] = dtype === 'int16' ? dv.getInt16(p, false) : dtype === 'int32' ? dv.getInt32(p, false) : dtype === 'float32' ? dv.getFloat32(p, false) : dv.getFloat64(p, false);
      }
    }
  }
  return { dtype, shape, data };
}

/**
 * Read and decode an IDX file (raw or .gz).
 * @example const labels = readIdxFile('/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz');
 */
export function readIdxFile(path: string): IdxArray {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new TensorslimError('idx', `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseIdx(bytes, path);
}

export interface IdxImageOptions {
  /** (N, H*W) instead of (N, 1, H, W). Default false. */
  flat?: boolean;
}

/**
 * uint8 images (N, H, W) -> float32 tensor in [0, 1] (value / 255), shaped (N, 1, H, W) or (N, H*W).
 * @example idxImagesToTensor(readIdxFile(p), { flat: true }) // (60000, 784)
 */
export function idxImagesToTensor(images: IdxArray, opts: IdxImageOptions = {}, source = 'images'): Tensor {
  if (images.dtype !== 'uint8' || images.shape.length !== 3) {
    fail(source, `expected uint8 images of shape (N, H, W), got ${images.dtype} ${fmtShape(images.shape)}`);
  }
  const [n, h, w] = images.shape as [number, number, number];
  const src = images.data;
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = src[i]! / 255;
  return new Tensor(out, 'float32', opts.flat ? [n, h * w] : [n, 1, h, w]);
}

/**
 * uint8 (or int32) labels (N,) -> int32 tensor (N,). With `numClasses`, every label must be below it.
 * @example idxLabelsToTensor(readIdxFile(p), 10)
 */
export function idxLabelsToTensor(labels: IdxArray, numClasses?: number, source = 'labels'): Tensor {
  if ((labels.dtype !== 'uint8' && labels.dtype !== 'int32') || labels.shape.length !== 1) {
    fail(source, `expected uint8 labels of shape (N,), got ${labels.dtype} ${fmtShape(labels.shape)}`);
  }
  const out = Int32Array.from(labels.data);
  if (numClasses !== undefined) {
    for (let i = 0; i < out.length; i++) {
      if (out[i]! < 0 || out[i]! >= numClasses) fail(source, `label ${out[i]} at index ${i} is outside 0..${numClasses - 1}`);
    }
  }
  return new Tensor(out, 'int32', [out.length]);
}

/**
 * An image/label pair of IDX files as a TensorDataset of (images float32, labels int32).
 * @example const test = loadIdxPair('t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz', { numClasses: 10 });
 */
export function loadIdxPair(imagesPath: string, labelsPath: string, opts: IdxImageOptions & { numClasses?: number } = {}): TensorDataset {
  return readPair(imagesPath, labelsPath, opts).dataset;
}

function readPair(imagesPath: string, labelsPath: string, opts: IdxImageOptions & { numClasses?: number }): { dataset: TensorDataset; hw: [number, number] } {
  const images = readIdxFile(imagesPath);
  const labels = readIdxFile(labelsPath);
  const x = idxImagesToTensor(images, opts, imagesPath);
  const y = idxLabelsToTensor(labels, opts.numClasses, labelsPath);
  if (images.shape[0] !== labels.shape[0]) {
    fail(imagesPath, `has ${images.shape[0]} images but ${labelsPath} has ${labels.shape[0]} labels; the files do not belong together`);
  }
  return { dataset: new TensorDataset(x, y), hw: [images.shape[1]!, images.shape[2]!] };
}

/** File names looked for in an IDX directory, per split and kind, in order of preference. @example idxCandidates('t10k', 'labels')[0] // 't10k-labels-idx1-ubyte.gz' */
export function idxCandidates(split: 'train' | 't10k', kind: 'images' | 'labels'): string[] {
  const dims = kind === 'images' ? 'idx3' : 'idx1';
  const names = [`${split}-${kind}-${dims}-ubyte`, `${split}-${kind}.${dims}-ubyte`];
  return names.flatMap((n) => [`${n}.gz`, n]);
}

/** The path of one IDX file of an MNIST-layout directory, or null when none of the usual names exists. @example findIdxFile(dir, 'train', 'images') */
export function findIdxFile(dir: string, split: 'train' | 't10k', kind: 'images' | 'labels'): string | null {
  for (const name of idxCandidates(split, kind)) {
    const p = join(dir, name);
    if (existsSync(p) && statSync(p).isFile()) return p;
  }
  return null;
}

export interface IdxDirectory {
  readonly train: TensorDataset;
  readonly test: TensorDataset;
  /** Given, or the largest label + 1 over both splits. */
  readonly numClasses: number;
  /** (H, W) of the images. */
  readonly imageShape: readonly [number, number];
  readonly files: { readonly trainImages: string; readonly trainLabels: string; readonly testImages: string; readonly testLabels: string };
}

/**
 * A directory in the MNIST layout: {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] (also the
 * `train-images.idx3-ubyte` spelling).
 * @example const { train, test } = loadIdxDirectory('/usr/share/datasets/fashion-mnist');
 */
export function loadIdxDirectory(dir: string, opts: IdxImageOptions & { numClasses?: number } = {}): IdxDirectory {
  const missing: string[] = [];
  const find = (split: 'train' | 't10k', kind: 'images' | 'labels'): string => {
    const p = findIdxFile(dir, split, kind);
    if (p === null) missing.push(idxCandidates(split, kind)[0]!);
    return p ?? '';
  };
  const files = { trainImages: find('train', 'images'), trainLabels: find('train', 'labels'), testImages: find('t10k', 'images'), testLabels: find('t10k', 'labels') };
  if (missing.length > 0) {
    throw new TensorslimError('idx', `${dir}: missing ${missing.join(', ')} (an IDX dataset directory holds {train,t10k}-{images-idx3,labels-idx1}-ubyte, raw or .gz)`);
  }
  const train = readPair(files.trainImages, files.trainLabels, opts);
  const test = readPair(files.testImages, files.testLabels, opts);
  if (train.hw[0] !== test.hw[0] || train.hw[1] !== test.hw[1]) {
    fail(dir, `train images are ${train.hw.join('x')} but test images are ${test.hw.join('x')}`);
  }
  let numClasses = opts.numClasses;
  if (numClasses === undefined) {
    let maxLabel = -1;
    for (const ds of [train.dataset, test.dataset]) for (const v of ds.tensors[1]!.data) maxLabel = Math.max(maxLabel, v);
    numClasses = maxLabel + 1;
  }
  return { train: train.dataset, test: test.dataset, numClasses, imageShape: train.hw, files };
}
