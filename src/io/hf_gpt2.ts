// Hugging Face GPT-2 checkpoints: read and write GPT-2's safetensors layout (transformers'
// GPT2LMHeadModel / GPT2Model names) as our GPT. The names are the same as ours (nanoGPT took them
// from GPT-2) up to two differences: GPT-2's projections are Conv1D layers, whose weight is stored
// (in, out), the transpose of nn.Linear's (out, in); and GPT-2 files may carry the attention's
// causal-mask buffers (attn.bias, attn.masked_bias), which our attention computes instead.
//
//   transformer.wte.weight (V, C)          token embedding; also the LM head (tied)
//   transformer.wpe.weight (P, C)          learned positions: blockSize = P
//   transformer.h.N.ln_1 / ln_2            LayerNorm (eps 1e-5)
//   transformer.h.N.attn.c_attn.weight     (C, 3C) Conv1D   -> our Linear (3C, C)
//   transformer.h.N.attn.c_proj.weight     (C, C)  Conv1D
//   transformer.h.N.mlp.c_fc.weight        (C, 4C) Conv1D
//   transformer.h.N.mlp.c_proj.weight      (4C, C) Conv1D
//   transformer.ln_f                       final LayerNorm
//   lm_head.weight (V, C)                  absent when tied (save_pretrained leaves it out)
//
// GPT2Model files (e.g. the original `gpt2` upload) have the same names without `transformer.`.
// The MLP's GELU is GPT-2's tanh form (activation_function 'gelu_new'), kept in GptConfig.gelu.
// The number of heads is not in the tensors: it comes from the options, the file's metadata
// (n_head, as exportHfGpt2 writes it) or a config.json beside the file (as Hugging Face stores it).

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Tensor } from '../core/tensor.js';
import { TensorslimError } from '../core/errors.js';
import { noGrad } from '../core/engine.js';
import { defaultGenerator } from '../core/random.js';
import * as ops from '../ops/index.js';
import { GPT, validateGptConfig, type GptConfig } from '../models/gpt.js';
import { parseSafetensors, serializeSafetensors, type SafetensorsMetadata } from './safetensors.js';
import { readFileBytes, writeFileAtomic } from './files.js';

const OP = 'importHfGpt2';

/** The Conv1D projections of a block, relative to `h.N.`: stored (in, out) by GPT-2, (out, in) by us. */
const CONV1D = ['attn.c_attn.weight', 'attn.c_proj.weight', 'mlp.c_fc.weight', 'mlp.c_proj.weight'] as const;
/** Per-block tensors GPT-2 files may carry that our attention computes instead (causal masks). */
const MASK_BUFFERS = ['attn.bias', 'attn.masked_bias'] as const;

/** Options of importHfGpt2. */
export interface ImportHfGpt2Options {
  /** Attention heads (not stored in the tensors); default: the file's metadata n_head, or config.json beside the file. */
  nHead?: number;
  /** The MLP's GELU; default from activation_function ('gelu_new' / 'gelu_pytorch_tanh' -> 'tanh', 'gelu' -> 'none'), else 'tanh' (GPT-2's). */
  gelu?: 'none' | 'tanh';
}

/** What importHfGpt2 read. */
export interface ImportedHfGpt2 {
  /** Our GPT (eval mode) with the file's weights: Conv1D weights transposed, the head tied when the file ties it. */
  readonly model: GPT;
  readonly config: GptConfig;
  /** 'transformer.' (GPT2LMHeadModel) or '' (GPT2Model). */
  readonly prefix: string;
  /** Tensors read and not used: the causal-mask buffers (attn.bias, attn.masked_bias). */
  readonly ignored: readonly string[];
  /** Where n_head came from: 'option', 'metadata' or the config.json path. */
  readonly nHeadFrom: string;
}

type HfConfigJson = Readonly<Record<string, unknown>>;

function sameValues(a: Tensor, b: Tensor): boolean {
  if (a.shape.join() !== b.shape.join()) return false;
  const x = a.dataSync(), y = b.dataSync();
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/**
 * Whether safetensors tensor names and shapes are a Hugging Face GPT-2 checkpoint (Conv1D layout:
 * `h.0.attn.c_attn.weight` stored (C, 3C)), as opposed to our own GPT checkpoints ((3C, C)).
 * @example isHfGpt2(parseSafetensors(bytes).tensors)   // true for a transformers GPT-2 file
 */
export function isHfGpt2(tensors: ReadonlyMap<string, { readonly shape: readonly number[] }>): boolean {
  for (const prefix of ['transformer.', '']) {
    const w = tensors.get(`${prefix}h.0.attn.c_attn.weight`);
    if (w !== undefined && w.shape.length === 2 && w.shape[1] === 3 * w.shape[0]! && tensors.has(`${prefix}wte.weight`)) return true;
  }
  return false;
}

function readConfigJson(path: string): HfConfigJson | null {
  const f = join(dirname(path), 'config.json');
  if (!existsSync(f)) return null;
  let j: unknown;
  try { j = JSON.parse(new TextDecoder().decode(readFileBytes(f, OP))); } catch (e) {
    throw new TensorslimError(OP, `${f} is not valid JSON (${(e as Error).message}); fix it, or pass { nHead } and remove it`);
  }
  if (j === null || typeof j !== 'object' || Array.isArray(j)) throw new TensorslimError(OP, `${f} is not a JSON object (a Hugging Face config.json); fix it, or pass { nHead }`);
  return j as HfConfigJson;
}

function geluOf(act: unknown, where: string): 'none' | 'tanh' {
  if (act === undefined) return 'tanh';
  if (act === 'gelu_new' || act === 'gelu_pytorch_tanh' || act === 'gelu_fast') return 'tanh';
  if (act === 'gelu') return 'none';
  throw new TensorslimError(OP, `${where} activation_function ${JSON.stringify(act)} is not supported; GPT-2 checkpoints use gelu_new (tanh form) or gelu (erf)`);
}

/**
 * Read a Hugging Face GPT-2 checkpoint (safetensors, GPT2LMHeadModel or GPT2Model names) into our
 * GPT: vocabulary, width, layers and context from the tensor shapes, heads from `opts.nHead`, the
 * file's metadata or the config.json beside it; Conv1D weights transposed to Linear's layout; the
 * head tied to wte unless the file stores a different lm_head.weight; the causal-mask buffers
 * ignored. Anything else (missing or extra tensors, a wrong shape, another LayerNorm epsilon) is
 * refused naming it.
 *
 * @example
 * const { model } = importHfGpt2('gpt2/model.safetensors');   // config.json beside it gives n_head
 * const logits = noGrad(() => model.call(ops.tensor([[15496, 11, 995]], { dtype: 'int32' })));
 */
export function importHfGpt2(source: string | Uint8Array, opts: ImportHfGpt2Options = {}): ImportedHfGpt2 {
  const op = typeof source === 'string' ? `${OP}('${source}')` : OP;
  const bytes = typeof source === 'string' ? readFileBytes(source, op) : source;
  const { tensors, metadata } = parseSafetensors(bytes, { op });
  const prefix = tensors.has('transformer.wte.weight') ? 'transformer.' : tensors.has('wte.weight') ? '' : null;
  if (prefix === null) throw new TensorslimError(op, `no token embedding (transformer.wte.weight or wte.weight) among ${tensors.size} tensors (${[...tensors.keys()].slice(0, 5).join(', ')}...): not a GPT-2 checkpoint`);
  if (!isHfGpt2(tensors)) {
    throw new TensorslimError(op, `${prefix}h.0.attn.c_attn.weight is missing or not GPT-2's Conv1D layout (C, 3C)${tensors.has(`${prefix}h.0.attn.c_attn.weight`) ? ` (got ${tensors.get(`${prefix}h.0.attn.c_attn.weight`)!.shape.join('x')}: a tensorslim/nanoGPT checkpoint? load it with loadCheckpoint)` : ''}`);
  }
  const json = typeof source === 'string' ? readConfigJson(source) : null;
  const wte = tensors.get(`${prefix}wte.weight`)!, wpe = tensors.get(`${prefix}wpe.weight`);
  if (wte.ndim !== 2) throw new TensorslimError(op, `${prefix}wte.weight must be (vocab, width), got ${wte.shape.join('x')}`);
  if (wpe === undefined || wpe.ndim !== 2 || wpe.shape[1] !== wte.shape[1]) {
    throw new TensorslimError(op, `${prefix}wpe.weight (learned positions, (context, ${wte.shape[1]})) is ${wpe === undefined ? 'missing' : `${wpe.shape.join('x')}`}`);
  }
  let nLayer = 0;
  while (tensors.has(`${prefix}h.${nLayer}.ln_1.weight`)) nLayer++;
  if (nLayer === 0) throw new TensorslimError(op, `no transformer blocks (${prefix}h.0.ln_1.weight is missing)`);

  let nHead: number, nHeadFrom: string;
  if (opts.nHead !== undefined) { nHead = opts.nHead; nHeadFrom = 'option'; }
  else if (metadata['n_head'] !== undefined) { nHead = Number(metadata['n_head']); nHeadFrom = 'metadata'; }
  else if (json !== null && json['n_head'] !== undefined) { nHead = Number(json['n_head']); nHeadFrom = join(dirname(source as string), 'config.json'); }
  else {
    throw new TensorslimError(op, 'the number of attention heads is not in the tensors, the file has no n_head metadata and there is no config.json beside it; '
      + 'pass { nHead } (GPT-2 small: 12, medium: 16, large: 20, xl: 25), or put the model\'s config.json next to the file');
  }
  const eps = json?.['layer_norm_epsilon'] ?? metadata['layer_norm_epsilon'];
  if (eps !== undefined && Math.abs(Number(eps) - 1e-5) > 1e-12) throw new TensorslimError(op, `layer_norm_epsilon ${String(eps)}: our LayerNorm uses 1e-5 (GPT-2's); other values are not supported`);
  const gelu = opts.gelu ?? geluOf(metadata['activation_function'] ?? json?.['activation_function'], nHeadFrom === 'metadata' || json === null ? 'the file\'s' : 'config.json\'s');
  const lmHead = tensors.get('lm_head.weight');
  const tied = lmHead === undefined || sameValues(lmHead, wte);
  const config: GptConfig = {
    arch: 'gpt', nLayer, nEmbd: wte.shape[1]!, nHead, blockSize: wpe.shape[0]!, vocabSize: wte.shape[0]!,
    dropout: 0, bias: true, tieWeights: tied, gelu,
  };
  try { validateGptConfig(config); } catch (e) { throw new TensorslimError(op, `the checkpoint's shapes give an invalid GPT: ${(e as Error).message}`); }

  const state = new Map<string, Tensor>();
  const ignored: string[] = [];
  for (const [name, t] of tensors) {
    if (name === 'lm_head.weight') { if (!tied) state.set(name, t); continue; }
    if (!name.startsWith(prefix)) throw new TensorslimError(op, `unexpected tensor '${name}' (not under '${prefix}'): a GPT-2 with another head? Only the language-model head (lm_head.weight) is read`);
    const rest = name.slice(prefix.length);
    const m = /^h\.(\d+)\.(.+)$/.exec(rest);
    if (m !== null && (MASK_BUFFERS as readonly string[]).includes(m[2]!)) { ignored.push(name); continue; }
    const ours = `transformer.${rest}`;
    if (m !== null && (CONV1D as readonly string[]).includes(m[2]!)) {
      if (t.ndim !== 2) throw new TensorslimError(op, `${name} must be a 2-D Conv1D weight (in, out), got ${t.shape.join('x')}`);
      state.set(ours, ops.contiguous(ops.transpose(t, 0, 1)));
    } else state.set(ours, t);
  }
  if (tied) state.set('lm_head.weight', state.get('transformer.wte.weight')!);
  const rng = defaultGenerator.getState();   // building the GPT draws its init; the caller's stream is put back
  let model: GPT;
  try { model = new GPT(config); } finally { defaultGenerator.setState(rng); }
  try { noGrad(() => model.loadStateDict(state)); } catch (e) {
    throw new TensorslimError(op, `the tensors do not fit GPT-2 with ${nLayer} layers, width ${config.nEmbd}, ${nHead} heads (names shown after conversion to ours, Conv1D weights transposed): ${(e as Error).message}`);
  }
  model.eval();
  return { model, config, prefix, ignored, nHeadFrom };
}

/**
 * A GPT's weights under Hugging Face GPT-2 names (GPT2LMHeadModel: `transformer.` prefix), the
 * Conv1D weights transposed to (in, out); lm_head.weight only when the head is not tied.
 * @example hfGpt2StateDict(model).get('transformer.h.0.attn.c_attn.weight')!.shape   // [C, 3C]
 */
export function hfGpt2StateDict(model: GPT): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [name, t] of model.stateDict()) {
    if (name === 'lm_head.weight') { if (!model.config.tieWeights) out.set(name, t); continue; }
    const m = /^transformer\.h\.\d+\.(.+)$/.exec(name);
    out.set(name, m !== null && (CONV1D as readonly string[]).includes(m[1]!) ? ops.contiguous(ops.transpose(t, 0, 1)) : t);
  }
  return out;
}

/**
 * The config.json Hugging Face's GPT2LMHeadModel expects for `config` (write it beside the
 * safetensors file to load the pair with transformers' from_pretrained).
 * @example writeFileSync('out/config.json', JSON.stringify(hfGpt2Config(model.config), null, 2));
 */
export function hfGpt2Config(config: GptConfig): Record<string, string | number | boolean | string[]> {
  return {
    model_type: 'gpt2', architectures: ['GPT2LMHeadModel'], vocab_size: config.vocabSize, n_positions: config.blockSize,
    n_embd: config.nEmbd, n_layer: config.nLayer, n_head: config.nHead, activation_function: config.gelu === 'tanh' ? 'gelu_new' : 'gelu',
    layer_norm_epsilon: 1e-5, tie_word_embeddings: config.tieWeights, resid_pdrop: config.dropout, embd_pdrop: config.dropout, attn_pdrop: config.dropout,
  };
}

/**
 * The bytes of `model` as a Hugging Face GPT-2 safetensors file (see exportHfGpt2).
 * @example const bytes = serializeHfGpt2(model);
 */
export function serializeHfGpt2(model: GPT): Uint8Array {
  const c = model.config;
  if (!c.bias) throw new TensorslimError('exportHfGpt2', 'GPT-2 has biases in every Linear and LayerNorm; this GPT was built with bias: false');
  const metadata: SafetensorsMetadata = {
    format: 'pt', n_head: String(c.nHead), n_layer: String(c.nLayer), n_embd: String(c.nEmbd), n_positions: String(c.blockSize),
    vocab_size: String(c.vocabSize), activation_function: c.gelu === 'tanh' ? 'gelu_new' : 'gelu', layer_norm_epsilon: '1e-05',
  };
  return serializeSafetensors(hfGpt2StateDict(model), metadata);
}

/**
 * Write `model` as a Hugging Face GPT-2 checkpoint (atomically): GPT2LMHeadModel's names, Conv1D
 * weights (in, out), no lm_head.weight when tied, metadata {format: 'pt'} plus the hyperparameters
 * (n_head, ..., so importHfGpt2 reads the file back alone). Returns the bytes written. An erf-GELU
 * model is written with activation_function 'gelu' (Hugging Face's exact GELU).
 * @example exportHfGpt2(importHfGpt2('gpt2.safetensors').model, 'gpt2-copy.safetensors');
 */
export function exportHfGpt2(model: GPT, path: string): number {
  const bytes = serializeHfGpt2(model);
  writeFileAtomic(path, bytes, 'exportHfGpt2');
  return bytes.length;
}
