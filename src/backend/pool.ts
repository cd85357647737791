// The caching storage allocator: free lists of tensor buffers by size class, so storage that is
// provably dead is reused instead of handed to the garbage collector (docs/DESIGN.md "Storage
// pool"). The backend layer owns it; it decides nothing about liveness. A buffer enters a free list
// only through release(), which the autograd tape calls, during and at the end of a backward pass,
// for the temporaries allocated inside it that nothing outside the pass received (autograd/tape.ts), the
// one place where death is provable without reference counts.
//
// Release during a pass: after each gradient rule the tape also releases, at once, the temporaries
// of the pass that none of its gradient maps holds any more and that it handed out to nobody
// (releaseDead), so a backward's working set is about one layer's gradients, not the whole pass's.
//
// Step scopes (autograd/tidy.ts) release more: when a training step ends, the storage of the
// activations it recorded and nothing kept, and (zeroGrad) the gradients it drops. They tell a
// buffer's lifetimes apart by bufferLife() (a number each acquire() bumps), and while one is open
// (ownScope) a miss gets a recyclable class-size buffer, as inside a tracking scope.
//
// Which allocations it serves: allocateUninit (dtype.ts: outputs a kernel overwrites completely)
// asks acquire() first. A request is served from the free list of its size class when one is
// there; otherwise, inside a tracking scope (a backward pass) it gets a fresh buffer of the class's
// size, which the scope can later release; outside a scope it gets null and the caller allocates
// the exact size, as before (no rounding-up, so forward activations, which are never provably
// dead, cost no extra memory).
//
// Size classes: 256 bytes and up, eight per power of two (at most 12.5% rounding-up; only buffers
// made inside a scope are rounded, and of those only the escaping ones, leaf gradients, keep it).
// Giving memory back (issue 17): a buffer the pool does not keep (a release beyond the cap, the
// free buffers of a size class no request asked for during a whole step: trimIdle()) is freed at
// once when a freer is registered (the native addon's freeArrayBuffer detaches it, so glibc reuses
// its bytes for requests of any size); without one it is left to the garbage collector, as before.
// Class-size free lists cannot serve other classes; the C heap can, and a freed buffer waits for
// no collection.
//
// Settings: TENSORSLIM_POOL_MB (free bytes kept, default 512; 0 turns the pool off);
// TENSORSLIM_POOL_FREE=0 leaves the buffers the pool does not keep to the garbage collector;
// TENSORSLIM_POOL_CHECK=1 poisons every released buffer with 0xff bytes (NaN as floats) and checks,
// when it is handed out again, that nobody wrote to it meanwhile (a write means a live tensor still
// used released storage: an error naming the size), the test suite's guard for the release rule.

interface BufferCtor { allocUnsafeSlow(size: number): Uint8Array }
const NodeBuffer: BufferCtor | undefined = (globalThis as { Buffer?: BufferCtor }).Buffer;

const MIN_BYTES = 256;
const envNum = (name: string, dflt: number): number => {
  const e = typeof process !== 'undefined' ? process.env[name] : undefined;
  const v = e === undefined || e === '' ? dflt : Number(e);
  return Number.isFinite(v) && v >= 0 ? v : dflt;
};
let capBytes = envNum('TENSORSLIM_POOL_MB', 512) * 2 ** 20;
let check = envNum('TENSORSLIM_POOL_CHECK', 0) > 0;
let freeNow = envNum('TENSORSLIM_POOL_FREE', 1) > 0;
// detaches a buffer so its memory goes back to the C heap now (setBufferFreer; the native backend)
let freer: ((buf: ArrayBuffer) => boolean) | null = null;
// trimIdle(): the number of its calls so far, and per class the last call number before which a
// request of the class came (a class asked for since the last call has askedAt === trims)
let trims = 0;
const askedAt = new Map<number, number>();

// free buffers by class size in bytes; every buffer of a list has exactly that byteLength
const free = new Map<number, ArrayBuffer[]>();
let freeBytes = 0;
// the buffers this pool made (only those may be released into it), whether each is free now, and
// the serial number of its current lifetime (bumped each time acquire() hands it out)
// (and, while free, the trimIdle() count when it was released)
const ours = new WeakMap<ArrayBuffer, { free: boolean; life: number; freedAt: number }>();
let lives = 0;
// open tracking scopes, innermost last: the buffers each handed out
const scopes: ArrayBuffer[][] = [];
let paused = 0;
// open owning scopes (autograd/tidy.ts): misses get fresh class-size buffers, as in a tracking scope
let owning = 0;

/** Counters since the process started (or resetPoolStats()). */
export interface PoolStats {
  /** Requests served from a free list. */
  reused: number;
  /** Fresh class-size buffers made inside a scope, and their bytes. */
  fresh: number;
  freshBytes: number;
  /** Buffers released into the free lists, and those dropped because the lists were full. */
  released: number;
  dropped: number;
  /** Buffers (and bytes) the pool did not keep that were freed at once (the registered freer). */
  freed: number;
  freedBytes: number;
  /** Bytes in the free lists now. */
  freeBytes: number;
}
const stats: PoolStats = { reused: 0, fresh: 0, freshBytes: 0, released: 0, dropped: 0, freed: 0, freedBytes: 0, freeBytes: 0 };

/** The size class (bytes) of a request of `bytes`: 256 and up, eight classes per power of two. @example sizeClass(1000) // 1024 */
export function sizeClass(bytes: number): number {
  if (bytes <= MIN_BYTES) return MIN_BYTES;
  const p = 2 ** Math.floor(Math.log2(bytes));
  const q = p / 8;
  return Math.ceil(bytes / q) * q;
}

function freshBuffer(bytes: number): ArrayBuffer {
  // uninitialized when Node's Buffer is there (its own ArrayBuffer: allocUnsafeSlow never pools)
  return NodeBuffer ? NodeBuffer.allocUnsafeSlow(bytes).buffer as ArrayBuffer : new ArrayBuffer(bytes);
}

/**
 * A buffer of at least `bytes` bytes for uninitialized storage, or null when the caller should
 * allocate exactly `bytes` itself (pool off, nothing free in the class and no scope open).
 * @example const buf = acquire(4 * n); const out = buf ? new Float32Array(buf, 0, n) : new Float32Array(n);
 */
export function acquire(bytes: number): ArrayBuffer | null {
  if (capBytes === 0 || bytes === 0) return null;
  const cls = sizeClass(bytes);
  askedAt.set(cls, trims);
  const list = free.get(cls);
  let buf: ArrayBuffer | undefined;
  if (list !== undefined && list.length > 0) {
    buf = list.pop()!;
    freeBytes -= cls;
    const rec = ours.get(buf)!;
    rec.free = false;
    rec.life = ++lives;
    if (check) verifyPoison(buf);
    stats.reused++;
  } else if ((scopes.length > 0 && paused === 0) || owning > 0) {
    buf = freshBuffer(cls);
    ours.set(buf, { free: false, life: ++lives, freedAt: 0 });
    stats.fresh++;
    stats.freshBytes += cls;
  } else {
    return null;
  }
  if (scopes.length > 0 && paused === 0) scopes[scopes.length - 1]!.push(buf);
  return buf;
}

function verifyPoison(buf: ArrayBuffer): void {
  const u = new Uint8Array(buf);
  for (let i = 0; i < u.length; i++) {
    if (u[i] !== 0xff) {
      throw new Error(`storage pool: a released buffer of ${buf.byteLength} bytes was written after its release (byte ${i}): a live tensor still used it; this is a bug in the release rule (autograd/tape.ts), please report it with TENSORSLIM_POOL_MB=0 as the workaround`);
    }
  }
}

// Whether `buf` sits in a free list now: a kernel that releases its own scratch at once
// (linear_cross_entropy.ts) leaves it listed in the scope, whose sweep must not release it again.
function isFree(buf: ArrayBufferLike): boolean { return ours.get(buf as ArrayBuffer)?.free === true; }

/**
 * Put `buf` (one this pool made) back in its free list: the caller proves nothing uses it any more.
 * A buffer the pool did not make is ignored; releasing a free one is an error (a double release).
 * @example release(t.data.buffer)
 */
export function release(buf: ArrayBufferLike): void {
  const rec = ours.get(buf as ArrayBuffer);
  if (rec === undefined) return;
  if (rec.free) throw new Error(`storage pool: a buffer of ${buf.byteLength} bytes was released twice`);
  const cls = buf.byteLength;
  if (freeBytes + cls > capBytes) { stats.dropped++; giveBack(buf as ArrayBuffer); return; }
  if (check) new Uint8Array(buf).fill(0xff);
  rec.free = true;
  rec.freedAt = trims;
  let list = free.get(cls);
  if (list === undefined) { list = []; free.set(cls, list); }
  list.push(buf as ArrayBuffer);
  freeBytes += cls;
  stats.released++;
}

// a buffer the pool does not keep: freed now when a freer is registered (and allowed), else left to
// the garbage collector; either way the pool forgets it
function giveBack(buf: ArrayBuffer): void {
  ours.delete(buf);
  if (freer === null || !freeNow) return;
  const bytes = buf.byteLength;
  if (freer(buf)) { stats.freed++; stats.freedBytes += bytes; }
}

/**
 * Free the buffers of every size class that no request asked for since the previous call, when
 * they were already free then (a step scope calls it when a step ends: a class the whole step did
 * not use holds memory the next step probably will not use either). Returns the bytes given back.
 * @example trimIdle()
 */
export function trimIdle(): number {
  let bytes = 0;
  for (const [cls, list] of free) {
    if ((askedAt.get(cls) ?? -1) >= trims) continue;
    let kept = 0;
    for (const buf of list) {
      if (ours.get(buf)!.freedAt < trims) { bytes += cls; giveBack(buf); } else list[kept++] = buf;
    }
    list.length = kept;
    if (kept === 0) { free.delete(cls); askedAt.delete(cls); }
  }
  freeBytes -= bytes;
  trims++;
  return bytes;
}

/**
 * Register the function that frees a buffer the pool does not keep at once (it must detach it:
 * the native addon's freeArrayBuffer), or null to leave such buffers to the garbage collector.
 * Returns the previous one. The native backend registers its addon's when it loads.
 * @example setBufferFreer((b) => addon.freeArrayBuffer(b))
 */
export function setBufferFreer(fn: ((buf: ArrayBuffer) => boolean) | null): ((buf: ArrayBuffer) => boolean) | null {
  const prev = freer;
  freer = fn;
  return prev;
}

/**
 * Open a tracking scope: the buffers acquire() hands out until the matching endScope() are listed
 * for it (scopes nest: a buffer belongs to the innermost open one).
 * @example beginScope(); try { ... } finally { endScope(keep) }
 */
export function beginScope(): void { scopes.push([]); }

/**
 * Close the innermost scope. With `keep` (the buffers that escaped: results handed out), every
 * other buffer acquired in the scope is released; without it (an error, or a pass that may have
 * kept them), nothing is released and the buffers are simply forgotten (the garbage collector
 * frees them as usual).
 * @example endScope(new Set([grad.data.buffer]))
 */
export function endScope(keep?: ReadonlySet<ArrayBufferLike>): void {
  const list = scopes.pop();
  if (list === undefined) throw new Error('storage pool: endScope without beginScope');
  if (keep === undefined) return;
  for (const buf of list) if (!keep.has(buf) && !isFree(buf)) release(buf);
}

/**
 * Release, in the middle of a scope, every buffer the innermost open scope handed out (and has not
 * released yet) for which `live(buf)` is false; the others stay listed, for a later sweep or
 * endScope(). The autograd tape calls it after each gradient rule, with the buffers its own maps
 * still hold and the results it handed out as live, so a backward pass reuses its dead
 * temporaries at once instead of holding them all to its end (docs/DESIGN.md "Storage pool").
 * @example releaseDead((buf) => liveBuffers.has(buf))
 */
export function releaseDead(live: (buf: ArrayBufferLike) => boolean): void {
  const list = scopes[scopes.length - 1];
  if (list === undefined) throw new Error('storage pool: releaseDead outside a scope');
  let kept = 0;
  for (const buf of list) {
    if (live(buf)) list[kept++] = buf;
    else if (!isFree(buf)) release(buf);   // a kernel may have released its own scratch already
  }
  list.length = kept;
}

/**
 * Run `fn` with tracking paused: what it allocates belongs to no scope (used around code that may
 * keep what it makes: gradient hooks, the recomputed forward of checkpoint()).
 * @example withoutTracking(() => hook(grad))
 */
export function withoutTracking<T>(fn: () => T): T {
  paused++;
  try { return fn(); } finally { paused--; }
}

/**
 * The serial number of `buf`'s current lifetime when the pool made it and it is in use (not in a
 * free list), else undefined. Every acquire() starts a new lifetime with a larger number, so a
 * caller that noted it can tell later whether the buffer was released and handed out again since.
 * @example const life = bufferLife(t.data.buffer); ...; if (bufferLife(t.data.buffer) === life) release(t.data.buffer);
 */
export function bufferLife(buf: ArrayBufferLike): number | undefined {
  const rec = ours.get(buf as ArrayBuffer);
  return rec === undefined || rec.free ? undefined : rec.life;
}

/** The largest lifetime number handed out so far (bufferLife of later acquisitions is larger). @example const since = lastLife(); */
export function lastLife(): number { return lives; }

/**
 * Open (`delta` 1) or close (-1) an owning scope: while one is open, a request that no free list
 * can serve gets a fresh buffer of the class size (which a later release() can recycle) instead of
 * null, outside tracking scopes too. The step scopes of autograd/tidy.ts use it for the forward.
 * @example ownScope(1); try { ... } finally { ownScope(-1); }
 */
export function ownScope(delta: 1 | -1): void { owning = Math.max(0, owning + delta); }

/** Whether a tracking scope is collecting what acquire() hands out now (one open, not paused). @example if (!tracking()) ... */
export function tracking(): boolean { return scopes.length > 0 && paused === 0; }

/** A copy of the counters (and the free bytes now). @example poolStats().reused */
export function poolStats(): PoolStats { return { ...stats, freeBytes }; }

/**
 * The free bytes the pool holds now, by size class (class bytes -> free bytes), for reports.
 * @example for (const [cls, bytes] of poolFreeByClass()) console.log(cls, bytes)
 */
export function poolFreeByClass(): Map<number, number> {
  const r = new Map<number, number>();
  for (const [cls, list] of free) if (list.length > 0) r.set(cls, cls * list.length);
  return r;
}

/** Zero the counters. @example resetPoolStats() */
export function resetPoolStats(): void { stats.reused = stats.fresh = stats.freshBytes = stats.released = stats.dropped = stats.freed = stats.freedBytes = 0; }

/**
 * Change the settings at run time (tests, benchmarks): `capMB` as TENSORSLIM_POOL_MB (0 empties the
 * lists and turns the pool off), `check` as TENSORSLIM_POOL_CHECK, `freeNow` as TENSORSLIM_POOL_FREE.
 * Returns the previous settings.
 * @example const prev = configurePool({ check: true }); ...; configurePool(prev);
 */
export function configurePool(opts: { capMB?: number; check?: boolean; freeNow?: boolean }): { capMB: number; check: boolean; freeNow: boolean } {
  const prev = { capMB: capBytes / 2 ** 20, check, freeNow };
  if (opts.freeNow !== undefined) freeNow = opts.freeNow;
  if (opts.capMB !== undefined) {
    capBytes = opts.capMB * 2 ** 20;
    if (capBytes === 0) { for (const l of free.values()) for (const b of l) giveBack(b); free.clear(); freeBytes = 0; }
  }
  if (opts.check !== undefined) {
    if (opts.check && !check) for (const l of free.values()) for (const b of l) new Uint8Array(b).fill(0xff);
    check = opts.check;
  }
  return prev;
}
