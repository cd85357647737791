// Seedable random numbers so that runs repeat exactly. xoshiro128** (32-bit state words, fast in JS)
// seeded through splitmix32; normals by Box-Muller. Independent of the backend, so the same seed
// gives the same numbers on every backend and machine.

export interface GeneratorState { readonly s: readonly [number, number, number, number]; readonly spare: number | null }

export class Generator {
  private s = new Uint32Array(4);
  private spare: number | null = null;

  constructor(seed = 0) { this.manualSeed(seed); }

  /** Reset the stream from an integer seed. */
  manualSeed(seed: number): this {
    let x = (Math.trunc(seed) >>> 0) ^ Math.trunc(seed / 4294967296);
    for (let i = 0; i < 4; i++) {
      // splitmix32
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
    if ((this.s[0]! | this.s[1]! | this.s[2]! | this.s[3]!) === 0) this.s[0] = 1;
    this.spare = null;
    return this;
  }

  /** Next uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1]! << 9) >>> 0;
    s[2]! ^= s[0]!; s[3]! ^= s[1]!; s[1]! ^= s[2]!; s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextUint32() >>> 5, lo = this.nextUint32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Standard normal (Box-Muller, caching the second value). */
  normal(): number {
    if (this.spare !== null) { const v = this.spare; this.spare = null; return v; }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Uniform integer in [low, high). */
  randint(low: number, high: number): number {
    return low + Math.floor(this.uniform() * (high - low));
  }

  getState(): GeneratorState {
    return { s: [this.s[0]!, this.s[1]!, this.s[2]!, this.s[3]!], spare: this.spare };
  }

  setState(state: GeneratorState): void {
    if (!state || !Array.isArray(state.s) || state.s.length !== 4) throw new Error('Generator.setState: expected {s: [4 uint32], spare}');
    this.s.set(state.s);
    this.spare = state.spare;
  }
}

function rotl(x: number, k: number): number { return ((x << k) | (x >>> (32 - k))) >>> 0; }

/** The default generator used by rand, randn, randint, dropout and initializers. */
export const defaultGenerator = new Generator(0x5eed);

/** Seed the default generator, like torch.manual_seed. */
export function manualSeed(seed: number): void { defaultGenerator.manualSeed(seed); }
