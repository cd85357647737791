// `tensorslim generate`: sample text from a GPT checkpoint, streaming it as it is produced. The work
// is GPT.generate (src/models/gpt.ts, key/value cache, temperature, top-k); this file parses flags,
// encodes the prompt with the checkpoint's tokenizer and prints.

import { existsSync } from 'node:fs';
import { getTokenizer } from '../../data/index.js';
import { Generator } from '../../core/random.js';
import { Tensor } from '../../core/tensor.js';
import { loadGptCheckpoint } from '../../train/lm.js';
import { loadCheckpoint } from '../../io/index.js';
import { quant } from '../../compress/index.js';
import { formatFlags, JSON_FLAG, parseArgs, type FlagSpecs } from '../args.js';
import { UsageError, type CliContext, type Command } from '../command.js';
import { emitJson, fmtInt } from '../output.js';
import { applyRuntimeFlags, loadCheckpointOrHfGpt2 } from '../runtime.js';

const FLAGS = {
  model: { type: 'string', help: 'GPT checkpoint (written by tensorslim train --model gpt-* --out, or quantize --mode weight-only --out), or a Hugging Face GPT-2 model.safetensors (config.json beside it)', metavar: 'FILE' },
  tokenizer: { type: 'string', help: "byte or gpt2 (BPE); default: the checkpoint's, gpt2 for a Hugging Face GPT-2 file", choices: ['byte', 'gpt2'] },
  prompt: { type: 'string', help: 'text to continue (default: a newline)', metavar: 'TEXT' },
  tokens: { type: 'int', help: 'tokens to generate', min: 1, default: 200, metavar: 'N' },
  temperature: { type: 'number', help: 'sampling temperature; 0 = always the most likely token', min: 0, default: 0.8, metavar: 'X' },
  'top-k': { type: 'int', help: 'sample among the k most likely tokens only', min: 1, metavar: 'K' },
  seed: { type: 'int', help: 'seed of the sampler', min: 0, default: 0, metavar: 'N' },
  'no-cache': { type: 'boolean', help: 'recompute the whole context for every token (no key/value cache)' },
  threads: { type: 'int', help: 'kernel threads (native backend)', min: 1, metavar: 'N' },
  ...JSON_FLAG,
} as const satisfies FlagSpecs;

const USAGE = `Usage: tensorslim generate --model <checkpoint> [--prompt "..."] [options]

Continue a prompt with a GPT trained by tensorslim train (or a Hugging Face GPT-2 safetensors file,
read with its config.json), printing the text as it is generated.
A key/value cache makes each new token cost one position of attention, not the whole context;
once the context (the model's blockSize) is full it restarts from the last half of it.

Options:
${formatFlags(FLAGS)}

Examples:
  tensorslim generate --model gpt.safetensors --prompt "Fellow-Citizens of the Senate" --tokens 300
  tensorslim generate --model gpt.safetensors --prompt "The" --temperature 0.7 --top-k 40 --json
  tensorslim generate --model gpt2/model.safetensors --prompt "Hello, I'm a language model," --tokens 40`;

/**
 * Turns a growing list of token ids into text chunks, holding back an incomplete UTF-8 sequence
 * (decoded as U+FFFD) until the tokens that complete it arrive.
 */
class TextStream {
  private readonly ids: number[] = [];
  private emitted = 0;
  constructor(private readonly decode: (ids: number[]) => string) {}
  /** Add tokens; returns the new text that is final. */
  push(tokens: readonly number[]): string {
    this.ids.push(...tokens);
    const text = this.decode(this.ids);
    let end = text.length;
    while (end > this.emitted && text.charCodeAt(end - 1) === 0xfffd) end--;
    const chunk = text.slice(this.emitted, end);
    this.emitted = end;
    return chunk;
  }
  /** Whatever is left (an invalid tail decodes as U+FFFD). */
  flush(): string { const text = this.decode(this.ids); const rest = text.slice(this.emitted); this.emitted = text.length; return rest; }
}

/** Writes text as it comes: raw when the context can (an `outRaw` member), else line by line. */
function textWriter(ctx: CliContext, json: boolean): { write(s: string): void; end(): void } {
  const raw = (ctx as CliContext & { outRaw?: (s: string) => void }).outRaw;
  if (!json && typeof raw === 'function') return { write: (s) => raw(s), end: () => raw('\n') };
  const line = json ? (l: string) => ctx.err(l) : (l: string) => ctx.out(l);
  let pending = '';
  return {
    write(s) {
      pending += s;
      const parts = pending.split('\n');
      pending = parts.pop()!;
      for (const p of parts) line(p);
    },
    end() { line(pending); pending = ''; },
  };
}

/** `tensorslim generate --model <checkpoint> --prompt "..."`. @example await main(['generate', '--model', 'gpt.safetensors', '--prompt', 'The', '--tokens', '50'], ctx) */
export const generateCommand: Command = {
  name: 'generate',
  summary: 'continue a prompt with a trained GPT (streaming text)',
  usage: USAGE,
  async run(argv, ctx) {
    const { flags } = parseArgs('generate', argv, FLAGS);
    if (flags.model === undefined) throw new UsageError('generate', 'missing --model <checkpoint> (train one with tensorslim train --model gpt-tiny --dataset sotu --out gpt.safetensors)');
    if (!existsSync(flags.model)) throw new UsageError('generate', `--model ${flags.model}: no such file`);
    applyRuntimeFlags('generate', { threads: flags.threads });
    const loaded = loadCheckpointOrHfGpt2(flags.model);
    const { model, config, tokenizer: stored } = loaded.hf !== null
      ? { model: loaded.hf, config: loaded.hf.config, tokenizer: 'gpt2' }
      : quant.isQuantizedCheckpoint(loaded.ckpt) ? quant.loadQuantizedGpt(flags.model) : loadGptCheckpoint(loaded.ckpt);
    const tokenizer = getTokenizer(flags.tokenizer ?? stored);
    const prompt = flags.prompt ?? '\n';
    if (prompt.length === 0) throw new UsageError('generate', '--prompt is empty; give some text, or leave --prompt out to start from a newline');
    const ids = tokenizer.encode(prompt);
    if (ids.length === 0) throw new UsageError('generate', `--prompt ${JSON.stringify(prompt)} encodes to no tokens`);
    for (const id of ids) {
      if (id >= config.vocabSize) throw new UsageError('generate', `the prompt encodes to token ${id}, outside the model's vocabulary of ${config.vocabSize}`);
    }
    const out = textWriter(ctx, flags.json);
    if (ids.length > config.blockSize) ctx.err(`note: the prompt has ${ids.length} tokens; the model sees the last ${config.blockSize}`);
    const stream = new TextStream((t) => tokenizer.decode(t));
    out.write(prompt);
    const started = performance.now();
    const result = model.generate(new Tensor(ids, 'int32', [1, ids.length]), flags.tokens, {
      temperature: flags.temperature,
      ...(flags['top-k'] !== undefined ? { topK: flags['top-k'] } : {}),
      generator: new Generator(flags.seed),
      useCache: !flags['no-cache'],
      onToken: (t) => { const s = stream.push(t); if (s) out.write(s); },
    });
    const tail = stream.flush();
    if (tail) out.write(tail);
    out.end();
    const seconds = (performance.now() - started) / 1000;
    const generated = Array.from(result.dataSync()).slice(ids.length);
    if (flags.json) {
      emitJson(ctx, {
        command: 'generate', model: flags.model, preset: config.preset ?? (loaded.hf !== null ? 'hf-gpt2' : 'gpt'), tokenizer: flags.tokenizer ?? stored, prompt, text: tokenizer.decode(generated),
        promptTokens: ids.length, tokens: generated.length, seconds, tokensPerSecond: generated.length / seconds,
        temperature: flags.temperature, topK: flags['top-k'] ?? null, seed: flags.seed, cache: !flags['no-cache'],
      });
    } else {
      ctx.err(`${fmtInt(generated.length)} tokens in ${seconds.toFixed(2)} s (${(generated.length / seconds).toFixed(1)} tokens/s, ${flags['no-cache'] ? 'no cache' : 'key/value cache'})`);
    }
    return 0;
  },
};
