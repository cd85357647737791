// Shape and stride arithmetic shared by the core and every backend. Pure functions on number arrays.

export type Shape = readonly number[];

/**
 * The geometry of a 2-D convolution or pooling window: input (n, c, h, w), kernel, strides, paddings,
 * dilations and output size (ops.conv2dGeometry computes it; float and int8 kernels take it).
 */
export interface Conv2dGeometry {
  readonly n: number; readonly c: number; readonly h: number; readonly w: number;
  readonly kh: number; readonly kw: number;
  readonly strideH: number; readonly strideW: number;
  readonly padH: number; readonly padW: number;
  readonly dilationH: number; readonly dilationW: number;
  readonly oh: number; readonly ow: number;
}

export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major (C-order) strides, in elements. */
export function contiguousStrides(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

export function isContiguous(shape: Shape, strides: Shape): boolean {
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && strides[i] !== acc) return false;
    acc *= shape[i]!;
  }
  return true;
}

export function shapeEquals(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function fmtShape(shape: Shape): string {
  return `(${shape.join(', ')}${shape.length === 1 ? ',' : ''})`;
}

/** NumPy/PyTorch broadcasting of two shapes; returns null when they do not broadcast. */
export function broadcastShapes(a: Shape, b: Shape): number[] | null {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da === db || db === 1) out[i] = da;
    else if (da === 1) out[i] = db;
    else return null;
  }
  return out;
}

/**
 * Strides that read a tensor of `shape`/`strides` as if it had `target` shape (broadcast view):
 * new leading axes and size-1 axes that grow get stride 0. Caller checks compatibility.
 */
export function broadcastStrides(shape: Shape, strides: Shape, target: Shape): number[] {
  const out = new Array<number>(target.length).fill(0);
  const off = target.length - shape.length;
  for (let i = 0; i < shape.length; i++) {
    out[off + i] = shape[i] === target[off + i] ? strides[i]! : 0;
  }
  return out;
}

/**
 * Iterate all multi-indices of `shape` in row-major order, calling `fn` with the flat
 * element offsets for each of the given stride sets. The workhorse of strided kernels.
 * Innermost axis is a tight loop; outer axes advance with a carry.
 */
export function forEachOffset(
  shape: Shape,
  stridesList: readonly Shape[],
  offsets: readonly number[],
  fn: (offs: number[], flat: number) => void,
): void {
  const rank = shape.length;
  const k = stridesList.length;
  const total = numel(shape);
  if (total === 0) return;
  const offs = offsets.slice();
  if (rank === 0) { fn(offs, 0); return; }
  const idx = new Array<number>(rank).fill(0);
  const inner = shape[rank - 1]!;
  const innerStr = stridesList.map((s) => s[rank - 1]!);
  const base = offsets.slice();
  let flat = 0;
  for (;;) {
    for (let j = 0; j < k; j++) offs[j] = base[j]!;
    for (let i = 0; i < inner; i++) {
      fn(offs, flat++);
      for (let j = 0; j < k; j++) offs[j]! += innerStr[j]!;
    }
    // carry into outer axes
    let ax = rank - 2;
    for (; ax >= 0; ax--) {
      idx[ax]!++;
      for (let j = 0; j < k; j++) base[j]! += stridesList[j]![ax]!;
      if (idx[ax]! < shape[ax]!) break;
      for (let j = 0; j < k; j++) base[j]! -= stridesList[j]![ax]! * shape[ax]!;
      idx[ax] = 0;
    }
    if (ax < 0) return;
  }
}
