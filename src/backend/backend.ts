// The Backend interface: the whole contract between the library and a backend. It holds the
// small closed set of primitive kernels every backend implements, the optional fused kernels
// (FusedKernels: ops/<kernel>.ts composes the same math from primitives when one is missing; see
// ops/fused_or.ts) and optional runtime information (BackendInfo). No caller re-declares a method:
// every kernel any layer calls is typed here.
// Kernels do math only. They see typed arrays with shape/strides/offset (a View), never a
// Tensor, autograd or modules. A kernel returns a contiguous row-major buffer: a fresh one, or the
// caller-owned one it was given (`out` of unary/binary, `into` of the attention kernels).
// Everything else (softmax, losses, layers, conv2d, ...) is composed from these in ops/.

import type { DType, TypedArray } from './dtype.js';
import type { QuantizedKernels } from './quantized.js';
import type { WeightOnlyKernels } from './weight_only.js';
import type { Conv2dGeometry, Shape } from './shape.js';

/** A strided window onto a typed array. */
export interface View {
  readonly data: TypedArray;
  readonly shape: Shape;
  readonly strides: Shape;
  readonly offset: number;
}

export type UnaryOp =
  | 'neg' | 'exp' | 'log' | 'sqrt' | 'abs' | 'tanh' | 'sigmoid' | 'relu' | 'erf' | 'sign'
  | 'sin' | 'cos' | 'floor' | 'logicalNot';

export type BinaryOp =
  | 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'maximum' | 'minimum'
  | 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge' | 'logicalAnd' | 'logicalOr';

export type ReduceOp = 'sum' | 'max' | 'min' | 'argmax' | 'argmin';

export interface Backend extends FusedKernels, QuantizedKernels, WeightOnlyKernels, BackendInfo {
  readonly name: string;
  /**
   * out[i] = op(x[i]); out has x's shape and dtype `outDtype`. With `out` (a contiguous array of
   * exactly that many elements and dtype; it may be x's own storage when x is that same contiguous
   * window, never a partial overlap) the result is written there and `out` returned.
   */
  unary(op: UnaryOp, x: View, outDtype: DType, out?: TypedArray): TypedArray;
  /** a and b are already broadcast to `a.shape` (stride 0 on broadcast axes). `out` as for unary. */
  binary(op: BinaryOp, a: View, b: View, outDtype: DType, out?: TypedArray): TypedArray;
  /** out = cond ? a : b, all three views broadcast to cond.shape. */
  where(cond: View, a: View, b: View, outDtype: DType): TypedArray;
  /**
   * Reduce over `axes` (sorted, distinct). Output shape = input shape with those axes set to 1.
   * argmax/argmin take exactly one axis and return int32 indices (first occurrence).
   */
  reduce(op: ReduceOp, x: View, axes: readonly number[], outDtype: DType): TypedArray;
  /** Batched product: a (B, M, K) @ b (B, K, N) -> (B, M, N); any strides. */
  matmul(a: View, b: View, outDtype: DType): TypedArray;
  /** Materialize a view contiguously, converting to `outDtype`. */
  copy(x: View, outDtype: DType): TypedArray;
  /** Write `src` (already broadcast to dst.shape) into the strided window `dst`, in place. */
  assign(dst: View, src: View): void;
  /** out[..., i, ...] = x[..., index[..., i, ...], ...] along `axis`; out has index's shape. */
  gather(x: View, axis: number, index: View): TypedArray;
  /** Zeros of `shape`, then out[..., index[...], ...] += src[...] along `axis` (the adjoint of gather). */
  scatterAdd(shape: Shape, axis: number, index: View, src: View, outDtype: DType): TypedArray;
  /**
   * im2col for 2-D convolution and pooling: x (N, C, H, W) -> (N, C, kh, kw, OH, OW), reading
   * `padValue` outside the image.
   */
  unfold2d(x: View, p: Conv2dGeometry, padValue: number, outDtype: DType): TypedArray;
  /** col2im, the adjoint of unfold2d: cols (N, C, kh, kw, OH, OW) summed back into (N, C, H, W). */
  fold2d(cols: View, p: Conv2dGeometry, outDtype: DType): TypedArray;
}

export type { Conv2dGeometry } from './shape.js';

/** Hyper-parameters of one Adam/AdamW step (see src/optim/adam.ts adamUpdate for the math). */
export interface AdamHyper {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly amsgrad: boolean;
  readonly maximize: boolean;
  /** AdamW: p *= 1 - lr * weightDecay instead of adding weightDecay * p to the gradient. */
  readonly decoupled: boolean;
  /** This parameter's step count after incrementing (1 on the first step). */
  readonly step: number;
}

/**
 * What a backend may report about itself (the native one does; read by `tensorslim info` and the
 * benchmarks' machine line). All optional: the reference backend has none of them.
 */
export interface BackendInfo {
  /** Threads its kernels use. */
  readonly threads?: number;
  /** The SIMD path in use, e.g. 'avx512', 'avx2' or 'generic'. */
  readonly cpuPath?: string;
  /** One line on what it runs natively. */
  readonly description?: string;
  /** Set the number of kernel threads. */
  setThreads?(n: number): void;
  /**
   * Measure the roofs of the active CPU path: peak float32 GFLOP/s from a multiply-add loop on every
   * kernel thread, and copy bandwidth (GB/s, read + write) over `copyBytes` (src/report/roofline.ts).
   */
  rooflineProbe?(seconds: number, copyBytes: number): { fmaGflops: number; copyGbps: number };
  /** Start or stop recording each kernel's work per pool thread (the profiler does). */
  poolTrace?(on: boolean): void;
  /** Take the recorded spans: [thread, job, startUs, endUs, ...] and the recording clock's now, in microseconds. */
  poolTraceDrain?(): { spans: Float64Array; nowUs: number };
  /**
   * Give the C heap's free pages back to the operating system (glibc `malloc_trim`) when its free
   * bytes are at least `minFreeBytes` (backend/heap.ts `trimFreeHeap` decides when).
   */
  trimHeap?(minFreeBytes: number): HeapTrimInfo;
}

/** What BackendInfo.trimHeap saw and did (bytes of the C heap, all arenas). */
export interface HeapTrimInfo {
  /** Whether the C library reports its heap (glibc 2.33 and later); false: nothing was measured or trimmed. */
  readonly available: boolean;
  /** Bytes the allocator holds from the system (resident or not). */
  readonly heapBytes: number;
  /** Free bytes inside it before the call (some may already be returned by an earlier trim). */
  readonly freeBytes: number;
  /** Whether malloc_trim ran. */
  readonly trimmed: boolean;
  /** Its wall time in microseconds (0 when it did not run). */
  readonly trimUs: number;
}

/** A (rows, cols) matrix in CSR form (as compress/prune/csr.ts CsrMatrix, structurally). */
export interface CsrArrays {
  readonly rows: number;
  readonly cols: number;
  readonly crowIndices: Int32Array;
  readonly colIndices: Int32Array;
  readonly values: Float32Array | Float64Array;
}

/** One layer of FusedKernels.linearChain: weight (N, K), bias (N,) or null, ReLU after it or not. */
export interface LinearChainLayer {
  w: View;
  bias: View | null;
  relu: boolean;
}

/**
 * Optional fused kernels, each named after the op (the tape kernel) it serves; `<op>Forward` /
 * `<op>Backward` where the backward is a kernel too. A backend may provide any of them; the op
 * in src/ops/<op>.ts (snake_case file) composes the same math from primitives when one is missing
 * (through fusedOr, ops/fused_or.ts), and that composition is the reference the fused kernel is
 * tested against. Each op has one gradient rule (autograd/grads/<op>.ts), written with ops, which
 * calls the backward kernel when present and not recording.
 */
export interface FusedKernels {
  /**
   * y = x (M, K) @ w^T (w: (N, K)) + bias (N,), then ReLU when `relu`; w is read transposed in place.
   * Returns (M, N) contiguous of x's dtype.
   */
  linear?(x: View, w: View, bias: View | null, relu: boolean): TypedArray;
  /**
   * A chain of linear layers for inference (no graph): y_0 = x (M, K), y_{i+1} = linear(y_i, w_i,
   * bias_i, relu_i); returns y_L (M, N_last) contiguous of x's dtype, the same values as calling
   * `linear` layer by layer, in one call (the intermediates never reach JavaScript). Each w_i is
   * (N_i, N_{i-1}); one float dtype throughout. The inference plan (nn/inference.ts) uses it.
   */
  linearChain?(x: View, layers: readonly LinearChainLayer[]): TypedArray;
  /**
   * Row-wise cross-entropy of logits (N, C) against int32 class indices (N,):
   * loss[i] = logsumexp(logits[i]) - logits[i, target[i]], as float64. No gradient here.
   */
  softmaxCrossEntropy?(logits: View, target: View): Float64Array;
  /**
   * Gradient of the mean softmax cross-entropy w.r.t. logits (N, C) in one pass:
   * (softmax(logits) - onehot(target)) * scale (the rule passes scale = dy / N). Contiguous, logits' dtype.
   */
  softmaxCrossEntropyBackward?(logits: View, target: View, scale: number): TypedArray;
  /**
   * A linear layer without bias (an LM head) and its mean softmax cross-entropy in one kernel, by
   * chunks of rows, so the (N, V) logits never exist whole: z = x (N, C) @ w^T (w: (V, C)),
   * loss[i] = logsumexp(z[i]) - z[i, target[i]] as float64, and, where `needs` ([x, w]) asks, the
   * gradients of mean_i loss[i]: dx (N, C) and dw (V, C), contiguous, of x's dtype (else null).
   * x and w any strides, one float dtype; target int32 (N,), each in [0, V) (the op checks).
   * `chunkElements` bounds the scratch of logits: max(1, floor(chunkElements / V)) rows at a time.
   */
  linearCrossEntropy?(x: View, w: View, target: View, needs: readonly [boolean, boolean], chunkElements: number):
    { loss: Float64Array; dx: TypedArray | null; dw: TypedArray | null };
  /**
   * Backward of linear (+ReLU when `y`, the forward output, is given) in one call: [dx, dw, db] for
   * dy (M, N), x (M, K), w (N, K), each only where `needs` asks (else null); null when this
   * backend cannot handle these arrays (the rule then composes).
   */
  linearBackward?(dy: View, y: View | null, x: View, w: View, needs: readonly boolean[]): (TypedArray | null)[] | null;
  /**
   * out (batch, rows) = x (batch, cols) @ W^T + bias (rows,) with W (rows, cols) in CSR form; all
   * contiguous, one float dtype. The reference is compress/prune/csr.ts csrLinearReference.
   */
  csrLinear?(x: Float32Array | Float64Array, batch: number, w: CsrArrays, bias: Float32Array | Float64Array | null,
    out: Float32Array | Float64Array): void;
  /**
   * One Adam/AdamW step over a whole parameter, in place on `param`, `expAvg`, `expAvgSq` (and
   * `maxExpAvgSq` with amsgrad). All arrays contiguous, one float dtype, one length. Returns false
   * (having changed nothing) when it cannot handle these arrays; the caller then runs its own loop.
   */
  adamUpdate?(param: TypedArray, grad: TypedArray, expAvg: TypedArray, expAvgSq: TypedArray,
    maxExpAvgSq: TypedArray | null, h: AdamHyper): boolean;
  /**
   * Scaled-dot-product attention, flash style (see ops/attention.ts for the math): q (B, H, Tq, D),
   * k (B, H, Tk, D), v (B, H, Tk, Dv), any strides, one float dtype. Returns out (B, H, Tq, Dv)
   * contiguous and the row log-sum-exp of the scaled, masked scores, lse (B, H, Tq), both of q's dtype.
   */
  attentionForward?(q: View, k: View, v: View, p: AttentionParams, into?: View): { out: TypedArray; lse: TypedArray };
  /**
   * Gradients of attentionForward given dOut (B, H, Tq, Dv): dq, dk, dv contiguous in q/k/v's shapes.
   * With `into` (attentionForward too), the results are written into those strided views of
   * caller-owned arrays instead (e.g. one packed (B, T, 3, H, D) gradient), and their arrays returned.
   */
  attentionBackward?(q: View, k: View, v: View, out: View, dOut: View, lse: View, p: AttentionParams,
    into?: readonly [View, View, View]): { dq: TypedArray; dk: TypedArray; dv: TypedArray };
  /**
   * Layer normalization over the last dimension of x (R, D), any strides, with optional weight and
   * bias (D,): y = (x - mean) * rstd * weight + bias, rstd = 1 / sqrt(var + eps) with the biased
   * variance. Returns y (R, D), mean (R,) and rstd (R,), contiguous, of x's dtype.
   */
  layerNormForward?(x: View, weight: View | null, bias: View | null, eps: number): { y: TypedArray; mean: TypedArray; rstd: TypedArray };
  /**
   * Gradients of layerNormForward given dy (R, D) and the forward's mean and rstd, in one pass:
   * dx (R, D), dweight (D,), dbias (D,), each only where `needs` ([x, weight, bias]) asks, else null.
   */
  layerNormBackward?(dy: View, x: View, weight: View | null, mean: View, rstd: View,
    needs: readonly [boolean, boolean, boolean]): { dx: TypedArray | null; dweight: TypedArray | null; dbias: TypedArray | null };
  /** GELU of x (any strides), 'none' (erf) or 'tanh' form; returns x's shape, contiguous, of x's dtype. */
  geluForward?(x: View, approximate: 'none' | 'tanh'): TypedArray;
  /** dx = dy * gelu'(x), dy and x of one shape and dtype (any strides); contiguous. */
  geluBackward?(dy: View, x: View, approximate: 'none' | 'tanh'): TypedArray;
  /**
   * ReLU's gradient in one pass (threshold backward): dx = 0 where y <= 0, else dy, for y the
   * ReLU's output (a NaN compares false: the gradient passes, as PyTorch); dy and y of one shape
   * and one float dtype (any strides); returns y's shape, contiguous. The same values as the
   * composed `where(le(y, 0), 0, dy)` (`reluGradReference`, src/autograd/grads/unary.ts).
   */
  reluBackward?(dy: View, y: View): TypedArray;
  /**
   * Embedding lookup: out[i, :] = weight[indices[i], :] for weight (V, D) (any strides) and int32
   * indices (N,) (any stride, each in [0, V): the caller checks). Returns (N, D) contiguous of
   * weight's dtype. The same as gather along axis 0 with the index broadcast over columns.
   */
  embeddingForward?(weight: View, indices: View): TypedArray;
  /**
   * The adjoint of embeddingForward: dW (rows, D) = zeros, then dW[indices[i], :] += dy[i, :] for
   * i = 0 .. N-1 in that order (so results equal a sequential scatterAdd bit for bit); dy (N, D)
   * any strides. Returns (rows, D) contiguous of dy's dtype.
   */
  embeddingBackward?(dy: View, indices: View, rows: number): TypedArray;
  /**
   * 2-D max pooling of x (N, C, H, W) (any strides, float) in one pass, padding never read (the
   * caller keeps it at most half the kernel): y (N, C, OH, OW) contiguous of x's dtype and, per
   * output, argmax, the position y * W + x in its (n, c) plane of the window's first maximum (the
   * first NaN when there is one, as torch).
   */
  maxPool2dForward?(x: View, p: Conv2dGeometry): { y: TypedArray; argmax: Int32Array };
  /** The adjoint of maxPool2dForward: dx (N, C, H, W) = 0, then dx[n, c, argmax] += dy for every output. */
  maxPool2dBackward?(dy: View, argmax: Int32Array, p: Conv2dGeometry): TypedArray;
  /**
   * 2-D convolution (cross-correlation) in `groups` groups (default 1; C and O divisible by it):
   * x (N, C, H, W) any strides, weight (O, C/groups, kh, kw) and bias (O,) contiguous, one float
   * dtype; output channels [g O/G, (g+1) O/G) see input channels [g C/G, (g+1) C/G). Returns
   * y (N, O, OH, OW) contiguous. Null when this backend cannot take these arrays (the op then
   * composes unfold2d and matmul).
   */
  conv2dForward?(x: View, weight: View, bias: View | null, p: Conv2dGeometry, groups?: number): TypedArray | null;
  /**
   * Gradients of conv2dForward given dy (N, O, OH, OW) contiguous: dx, dweight, dbias, each only
   * where `needs` ([x, weight, bias]) asks, else null. Null when it cannot take these arrays.
   */
  conv2dBackward?(dy: View, x: View, weight: View, p: Conv2dGeometry,
    needs: readonly [boolean, boolean, boolean], groups?: number): { dx: TypedArray | null; dweight: TypedArray | null; dbias: TypedArray | null } | null;
}

/** Settings of the fused attention kernels (ops/attention.ts). */
export interface AttentionParams {
  /** Multiplies q k^T (usually 1 / sqrt(D)). */
  readonly scale: number;
  /** Query i (of Tq) sees keys j <= i + Tk - Tq (the mask aligned to the last key, as a KV cache needs). */
  readonly causal: boolean;
  /** Dropout probability on the attention weights (0 = none); the mask is attentionKeep(seed, ...). */
  readonly dropout: number;
  /** Seed of the dropout mask, a uint32. */
  readonly seed: number;
}
