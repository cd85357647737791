// The engine: grad mode, and the tape hook through which ops report what they computed.
// The core knows nothing of gradient rules; autograd installs a recorder here.

import type { Tensor } from './tensor.js';

/** What an op tells the tape: the kernel's name, its inputs, its output and its attributes. */
export type Recorder = (kernel: string, inputs: readonly Tensor[], output: Tensor, attrs: Readonly<Record<string, unknown>>) => void;

let recorder: Recorder | null = null;
let gradEnabled = true;

/** Installed once by autograd. */
export function setRecorder(r: Recorder | null): void { recorder = r; }

export function isGradEnabled(): boolean { return gradEnabled; }

/** Run `fn` with gradient recording off (like torch.no_grad). Restores the previous mode even on throw. */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try { return fn(); } finally { gradEnabled = prev; }
}

/** Run `fn` with gradient recording on (like torch.enable_grad). */
export function enableGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = true;
  try { return fn(); } finally { gradEnabled = prev; }
}

/** Called by every differentiable op after computing `output`. Records only when needed. */
export function record(kernel: string, inputs: readonly Tensor[], output: Tensor, attrs: Readonly<Record<string, unknown>> = {}): Tensor {
  if (!gradEnabled || recorder === null) return output;
  let any = false;
  for (const t of inputs) if (t.requiresGrad) { any = true; break; }
  if (any) recorder(kernel, inputs, output, attrs);
  return output;
}
