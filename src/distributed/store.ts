// The rendezvous key-value store: rank 0 hosts a server on its event loop (node:net) at
// MASTER_ADDR:MASTER_PORT; every rank's Gloo context reaches it through the C++ client in
// native/src/distributed/store_client.cc, and the TypeScript client below does the join (every rank present,
// world sizes agree) and keeps a presence connection so a failed collective can name the rank that left.
// It is our own protocol, never PyTorch's TCPStore wire format (internal to PyTorch, changed between
// versions). It carries no tensors: collectives go through Gloo's own TCP pairs.
//
// Why TypeScript for the server: it runs on rank 0's event loop, which is idle while rank 0's own
// communication thread connects, it needs no second server thread in C++, and the join / presence
// logic (naming missing or departed ranks) is easier to get right and to test here.
//
// Wire format. Frame: u32 LE payload length (1..maxFrame), payload. Request payload: u8 op, fields.
// Reply payload: u8 status (0 ok, 1 error), body (value, or a UTF-8 message). The server also pushes
// notices (status 2, body as the reply to DEAD: departed ranks, then ranks that reported a failure)
// to every joined rank whenever either list changes, so a rank still knows who left or failed after
// rank 0 itself has exited. The first frame of a
// connection must be HELLO with the shared token; anything else, a wrong token, an oversized frame
// or a silent client (helloTimeoutMs) closes the connection.

import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';

/** Op codes: keep equal to native/src/distributed/store_client.h. */
export const StoreOp = { hello: 1, set: 2, get: 3, wait: 4, add: 5, join: 6, dead: 7, leave: 8, failed: 9 } as const;
/** Largest accepted frame: Gloo's addresses are a few hundred bytes; values are small. */
export const MAX_FRAME = 16 << 20;

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

function frame(payload: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32LE(payload.length, 0);
  return Buffer.concat([head, payload]);
}

/** Splits a byte stream into frames; throws on a length of 0 or over the cap. */
class FrameReader {
  private buf: Buffer = Buffer.alloc(0);
  constructor(private readonly maxFrame: number) {}
  push(chunk: Buffer): Buffer[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: Buffer[] = [];
    while (this.buf.length >= 4) {
      const n = this.buf.readUInt32LE(0);
      if (n === 0 || n > this.maxFrame) throw new Error(`frame of ${n} bytes refused (limit ${this.maxFrame})`);
      if (this.buf.length < 4 + n) break;
      out.push(this.buf.subarray(4, 4 + n));
      this.buf = this.buf.subarray(4 + n);
    }
    return out;
  }
}

/** Cursor over a request payload; every read is bounds-checked. */
class Fields {
  private at = 1;
  constructor(private readonly p: Buffer) {}
  u32(): number {
    if (this.at + 4 > this.p.length) throw new Error('truncated request');
    const v = this.p.readUInt32LE(this.at);
    this.at += 4;
    return v;
  }
  i64(): bigint {
    if (this.at + 8 > this.p.length) throw new Error('truncated request');
    const v = this.p.readBigInt64LE(this.at);
    this.at += 8;
    return v;
  }
  str(): string {
    const n = this.u32();
    if (this.at + n > this.p.length) throw new Error('truncated request');
    const s = this.p.toString('utf8', this.at, this.at + n);
    this.at += n;
    return s;
  }
  rest(): Buffer { return Buffer.from(this.p.subarray(this.at)); }
}

function u32(v: number): Buffer { const b = Buffer.alloc(4); b.writeUInt32LE(v >>> 0, 0); return b; }
function str(s: string): Buffer { const b = Buffer.from(s, 'utf8'); return Buffer.concat([u32(b.length), b]); }
const ok = (body: Buffer = Buffer.alloc(0)): Buffer => Buffer.concat([Buffer.from([0]), body]);
const fail = (msg: string): Buffer => Buffer.concat([Buffer.from([1]), Buffer.from(msg, 'utf8')]);

/** Formats a rank list for messages: "rank 2", "ranks 1, 3". */
export function rankList(ranks: readonly number[]): string {
  const s = [...ranks].sort((a, b) => a - b);
  return `${s.length === 1 ? 'rank' : 'ranks'} ${s.join(', ')}`;
}

export interface StoreServerOptions {
  /** Address to bind: loopback unless one is given. */
  host: string;
  /** Port; 0 picks a free one (see `port` after listen). */
  port: number;
  token: string;
  worldSize: number;
  maxFrame?: number;
  /** A connection that has not authenticated within this time is closed. Default 10 s. */
  helloTimeoutMs?: number;
}

interface Waiter { keys: string[]; done: () => void }
interface Conn { sock: Socket; rank: number; cleanLeave: boolean }

/** What the store knows about ranks after a failure. */
export interface RankHealth {
  /** Ranks whose connection closed without a clean leave and without reporting a failure first. */
  departed: number[];
  /** Ranks that reported a failed collective (victims, not culprits). */
  failed: number[];
}
interface PendingJoin { reply: (b: Buffer) => void; timer: NodeJS.Timeout }

/**
 * The store server rank 0 hosts. Holds keys in memory for the life of the group.
 * @example const s = await StoreServer.listen({ host: '127.0.0.1', port: 0, token: 't', worldSize: 2 }); s.port; await s.close();
 */
export class StoreServer {
  private readonly data = new Map<string, Buffer>();
  private readonly waiters = new Set<Waiter>();
  private readonly joined = new Map<number, Socket>();
  private readonly pendingJoins = new Set<PendingJoin>();
  private readonly left = new Set<number>();
  private readonly failed = new Set<number>();
  private readonly sockets = new Set<Socket>();
  private joinError: string | null = null;
  private readonly tokenDigest: Buffer;

  private constructor(private readonly server: Server, private readonly opts: Required<StoreServerOptions>) {
    this.tokenDigest = digest(opts.token);
  }

  /** The bound port. */
  get port(): number {
    const a = this.server.address();
    return typeof a === 'object' && a !== null ? a.port : 0;
  }

  /** Starts listening; rejects with a clear message when the port is taken or the address is not local. */
  static listen(options: StoreServerOptions): Promise<StoreServer> {
    const opts: Required<StoreServerOptions> = { maxFrame: MAX_FRAME, helloTimeoutMs: 10_000, ...options };
    return new Promise((resolve, reject) => {
      const server = createServer();
      const store = new StoreServer(server, opts);
      server.on('connection', (s) => { s.unref(); store.accept(s); });
      server.unref(); // the store never keeps rank 0 alive by itself; pending collectives do
      server.once('error', (e: NodeJS.ErrnoException) => {
        const where = `${opts.host}:${opts.port}`;
        if (e.code === 'EADDRINUSE') reject(new Error(`initProcessGroup: rank 0 cannot host the rendezvous store: port ${where} is in use; pick another MASTER_PORT (or --master-port)`));
        else if (e.code === 'EADDRNOTAVAIL') reject(new Error(`initProcessGroup: rank 0 cannot bind ${where}: that address is not on this machine; set MASTER_ADDR to rank 0's address (or TENSORSLIM_STORE_BIND=0.0.0.0)`));
        else reject(new Error(`initProcessGroup: rank 0 cannot host the rendezvous store at ${where}: ${e.message}`));
      });
      server.listen(opts.port, opts.host, () => resolve(store));
    });
  }

  /** Ranks whose presence connection closed without a clean leave. */
  departed(): number[] { return [...this.left].sort((a, b) => a - b); }

  /** Stops the server and drops every connection. */
  close(): Promise<void> {
    for (const j of this.pendingJoins) clearTimeout(j.timer);
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private accept(sock: Socket): void {
    this.sockets.add(sock);
    sock.setNoDelay(true);
    const reader = new FrameReader(this.opts.maxFrame);
    let authed = false;
    const conn: Conn = { sock, rank: -1, cleanLeave: false }; // rank: set by a join on this connection
    let chain: Promise<void> = Promise.resolve();
    const helloTimer = setTimeout(() => { if (!authed) sock.destroy(); }, this.opts.helloTimeoutMs);
    const send = (b: Buffer): void => { if (!sock.destroyed) sock.write(frame(b)); };
    sock.on('data', (chunk: Buffer) => {
      let frames: Buffer[];
      try {
        frames = reader.push(chunk);
      } catch (e) {
        send(fail((e as Error).message));
        sock.end();
        sock.destroy();
        return;
      }
      for (const f of frames) {
        if (!authed) {
          const given = digest(f.subarray(1).toString('utf8'));
          if (f[0] !== StoreOp.hello || !timingSafeEqual(given, this.tokenDigest)) {
            send(fail('authentication failed: wrong or missing TENSORSLIM_DIST_TOKEN (every rank must share one token)'));
            sock.end();
            setTimeout(() => sock.destroy(), 100).unref();
            return;
          }
          authed = true;
          clearTimeout(helloTimer);
          send(ok());
          continue;
        }
        // Requests of one connection are answered in order, even when one of them waits.
        chain = chain.then(() => this.handle(f, conn)).then(send, (e: Error) => send(fail(e.message)));
      }
    });
    sock.on('error', () => { /* reported through close */ });
    sock.on('close', () => {
      clearTimeout(helloTimer);
      this.sockets.delete(sock);
      if (conn.rank >= 0 && this.joined.get(conn.rank) === sock) {
        this.joined.delete(conn.rank);
        if (!conn.cleanLeave && !this.failed.has(conn.rank)) {
          this.left.add(conn.rank);
          this.notify();
        }
      }
    });
  }

  private healthBody(): Buffer {
    const d = this.departed();
    const f = [...this.failed].sort((a, b) => a - b);
    return Buffer.concat([u32(d.length), ...d.map(u32), u32(f.length), ...f.map(u32)]);
  }

  private notify(): void {
    const notice = frame(Buffer.concat([Buffer.from([2]), this.healthBody()]));
    for (const s of this.joined.values()) if (!s.destroyed) s.write(notice);
  }

  private waitKeys(keys: string[], timeoutMs: number, what: string): Promise<void> {
    const missing = (): string[] => keys.filter((k) => !this.data.has(k));
    if (missing().length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const w: Waiter = { keys, done: () => { clearTimeout(timer); this.waiters.delete(w); resolve(); } };
      const timer = setTimeout(() => {
        this.waiters.delete(w);
        reject(new Error(`${what}: timed out after ${timeoutMs} ms waiting for key(s) ${missing().join(', ')}`));
      }, timeoutMs);
      this.waiters.add(w);
    });
  }

  private async handle(p: Buffer, conn: Conn): Promise<Buffer> {
    const f = new Fields(p);
    switch (p[0]) {
      case StoreOp.set: {
        const key = f.str();
        this.data.set(key, f.rest());
        for (const w of [...this.waiters]) if (w.keys.every((k) => this.data.has(k))) w.done();
        return ok();
      }
      case StoreOp.get: {
        const timeoutMs = f.u32();
        const key = f.str();
        await this.waitKeys([key], timeoutMs, 'get');
        return ok(this.data.get(key) ?? Buffer.alloc(0));
      }
      case StoreOp.wait: {
        const timeoutMs = f.u32();
        const n = f.u32();
        if (n > 1 << 20) throw new Error(`wait: ${n} keys is too many`);
        const keys: string[] = [];
        for (let i = 0; i < n; i++) keys.push(f.str());
        await this.waitKeys(keys, timeoutMs, 'wait');
        return ok();
      }
      case StoreOp.add: {
        const key = f.str();
        const delta = f.i64();
        const cur = this.data.get(key);
        const next = (cur !== undefined && cur.length === 8 ? cur.readBigInt64LE(0) : 0n) + delta;
        const b = Buffer.alloc(8);
        b.writeBigInt64LE(next, 0);
        this.data.set(key, b);
        for (const w of [...this.waiters]) if (w.keys.every((k) => this.data.has(k))) w.done();
        return ok(b);
      }
      case StoreOp.join: {
        const rank = f.u32();
        const worldSize = f.u32();
        const timeoutMs = f.u32();
        return this.join(rank, worldSize, timeoutMs, conn);
      }
      case StoreOp.dead:
        return ok(this.healthBody());
      case StoreOp.failed:
        if (conn.rank >= 0 && !this.failed.has(conn.rank)) { this.failed.add(conn.rank); this.notify(); }
        return ok();
      case StoreOp.leave:
        conn.cleanLeave = true;
        return ok();
      default:
        throw new Error(`unknown store op ${String(p[0])}`);
    }
  }

  // Every rank joins once with the same world size; all joins are answered together, or all fail
  // with one message naming the ranks at fault, so every rank reports the same error.
  private join(rank: number, worldSize: number, timeoutMs: number, conn: Conn): Promise<Buffer> {
    const world = this.opts.worldSize;
    const failAll = (msg: string): void => {
      this.joinError ??= msg;
      for (const j of this.pendingJoins) { clearTimeout(j.timer); j.reply(fail(this.joinError)); }
      this.pendingJoins.clear();
    };
    if (this.joinError !== null) return Promise.resolve(fail(this.joinError));
    if (worldSize !== world) {
      failAll(`rank ${rank} was started with world size ${worldSize} but rank 0 with ${world}; every rank must be given the same WORLD_SIZE`);
      return Promise.resolve(fail(this.joinError ?? ''));
    }
    if (rank >= world) {
      failAll(`rank ${rank} is out of range for world size ${world} (ranks are 0..${world - 1})`);
      return Promise.resolve(fail(this.joinError ?? ''));
    }
    if (this.joined.has(rank)) {
      failAll(`rank ${rank} joined twice; every process needs its own RANK`);
      return Promise.resolve(fail(this.joinError ?? ''));
    }
    return new Promise((resolve) => {
      const entry: PendingJoin = {
        reply: resolve,
        timer: setTimeout(() => {
          const missing = Array.from({ length: world }, (_, r) => r).filter((r) => !this.joined.has(r));
          failAll(`${rankList(missing)} never arrived at the rendezvous within ${timeoutMs} ms (world size ${world}); check that every rank was started with the same MASTER_ADDR/MASTER_PORT`);
        }, timeoutMs),
      };
      this.pendingJoins.add(entry);
      conn.rank = rank;
      this.joined.set(rank, conn.sock);
      if (this.joined.size === world) {
        for (const j of this.pendingJoins) { clearTimeout(j.timer); j.reply(ok()); }
        this.pendingJoins.clear();
      }
    });
  }
}

export interface StoreClientOptions {
  host: string;
  port: number;
  token: string;
  /** How long to keep retrying a refused connection (rank 0 may start last). */
  connectTimeoutMs: number;
  maxFrame?: number;
}

function parseHealth(b: Buffer): RankHealth {
  const n = b.readUInt32LE(0);
  const m = b.readUInt32LE(4 + 4 * n);
  return {
    departed: Array.from({ length: n }, (_, i) => b.readUInt32LE(4 + 4 * i)),
    failed: Array.from({ length: m }, (_, i) => b.readUInt32LE(8 + 4 * n + 4 * i)),
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function connectOnce(host: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port });
    const timer = setTimeout(() => { s.destroy(); reject(new Error('connect timed out')); }, Math.max(1, timeoutMs));
    s.once('connect', () => { clearTimeout(timer); s.setNoDelay(true); resolve(s); });
    s.once('error', (e) => { clearTimeout(timer); s.destroy(); reject(e); });
  });
}

/**
 * A client of the rendezvous store (requests answered in order; one connection).
 * @example const c = await StoreClient.connect({ host: '127.0.0.1', port, token: 't', connectTimeoutMs: 5000 });
 * await c.set('k', Buffer.from('v')); (await c.get('k', 1000)).toString(); c.close();
 */
export class StoreClient {
  private readonly reader: FrameReader;
  private readonly replies: { resolve: (b: Buffer) => void; reject: (e: Error) => void }[] = [];
  private closedReason: string | null = null;
  private readonly where: string;
  /** The last health the server pushed or returned; kept after the store itself is gone. */
  lastHealth: RankHealth = { departed: [], failed: [] };

  private constructor(private readonly sock: Socket, opts: StoreClientOptions) {
    this.where = `${opts.host}:${opts.port}`;
    this.reader = new FrameReader(opts.maxFrame ?? MAX_FRAME);
    sock.on('data', (chunk: Buffer) => {
      let frames: Buffer[];
      try { frames = this.reader.push(chunk); } catch (e) { this.fail(`malformed reply: ${(e as Error).message}`); sock.destroy(); return; }
      for (const f of frames) {
        if (f[0] === 2) { this.lastHealth = parseHealth(f.subarray(1)); continue; } // a notice, not a reply
        const r = this.replies.shift();
        if (this.replies.length === 0) this.sock.unref(); // an idle presence connection keeps no process alive
        if (r === undefined) continue;
        if (f[0] === 0) r.resolve(Buffer.from(f.subarray(1)));
        else r.reject(new Error(f.subarray(1).toString('utf8')));
      }
    });
    sock.on('error', (e) => this.fail(e.message));
    sock.on('close', () => this.fail('connection closed'));
  }

  /** Connects (retrying refused connections until the timeout) and authenticates. */
  static async connect(opts: StoreClientOptions): Promise<StoreClient> {
    const deadline = Date.now() + opts.connectTimeoutMs;
    let last = '';
    for (;;) {
      try {
        const sock = await connectOnce(opts.host, opts.port, deadline - Date.now());
        const c = new StoreClient(sock, opts);
        await c.request(Buffer.concat([Buffer.from([StoreOp.hello]), Buffer.from(opts.token, 'utf8')]), opts.connectTimeoutMs);
        return c;
      } catch (e) {
        last = (e as Error).message;
        if (/authentication failed/.test(last)) throw new Error(`rendezvous store at ${opts.host}:${opts.port}: ${last}`);
        if (Date.now() >= deadline) {
          throw new Error(`cannot reach the rendezvous store at ${opts.host}:${opts.port} within ${opts.connectTimeoutMs} ms (${last}); is rank 0 running with the same MASTER_ADDR/MASTER_PORT?`);
        }
        await sleep(100);
      }
    }
  }

  /** This end's address: the local interface that routes to rank 0 (used for Gloo's listening address). */
  get localAddress(): string { return this.sock.localAddress ?? '127.0.0.1'; }

  /** True once the connection to the store is gone (rank 0 exited or the network failed). */
  get closed(): boolean { return this.closedReason !== null; }

  private fail(reason: string): void {
    this.closedReason ??= reason;
    for (const r of this.replies.splice(0)) r.reject(new Error(`lost the rendezvous store at ${this.where}: ${reason}`));
  }

  /** Sends one request; the reply must come within timeoutMs (plus 5 s of slack for the network). */
  request(payload: Buffer, timeoutMs: number): Promise<Buffer> {
    if (this.closedReason !== null) return Promise.reject(new Error(`lost the rendezvous store at ${this.where}: ${this.closedReason}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(`no reply within ${timeoutMs + 5000} ms`);
        this.sock.destroy();
      }, timeoutMs + 5000);
      timer.unref();
      this.replies.push({
        resolve: (b) => { clearTimeout(timer); resolve(b); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      });
      this.sock.ref();
      this.sock.write(frame(payload));
    });
  }

  set(key: string, value: Buffer): Promise<void> {
    return this.request(Buffer.concat([Buffer.from([StoreOp.set]), str(key), value]), 10_000).then(() => undefined);
  }
  get(key: string, timeoutMs: number): Promise<Buffer> {
    return this.request(Buffer.concat([Buffer.from([StoreOp.get]), u32(timeoutMs), str(key)]), timeoutMs);
  }
  wait(keys: string[], timeoutMs: number): Promise<void> {
    return this.request(Buffer.concat([Buffer.from([StoreOp.wait]), u32(timeoutMs), u32(keys.length), ...keys.map(str)]), timeoutMs).then(() => undefined);
  }
  /** Adds delta to an integer counter (created at 0) and returns the new value. */
  async add(key: string, delta: number): Promise<number> {
    const d = Buffer.alloc(8);
    d.writeBigInt64LE(BigInt(delta), 0);
    const b = await this.request(Buffer.concat([Buffer.from([StoreOp.add]), str(key), d]), 10_000);
    return Number(b.readBigInt64LE(0));
  }
  /** Announces this rank; resolves when all ranks have joined, rejects naming the ranks at fault. */
  join(rank: number, worldSize: number, timeoutMs: number): Promise<void> {
    return this.request(Buffer.concat([Buffer.from([StoreOp.join]), u32(rank), u32(worldSize), u32(timeoutMs)]), timeoutMs).then(() => undefined);
  }
  /** Ranks that departed (connection closed uncleanly) and ranks that reported a failure. */
  async health(timeoutMs = 2000): Promise<RankHealth> {
    this.lastHealth = parseHealth(await this.request(Buffer.from([StoreOp.dead]), timeoutMs));
    return this.lastHealth;
  }
  /** Ranks whose connection to the store closed without a clean leave or a failure report. */
  async departed(timeoutMs = 2000): Promise<number[]> { return (await this.health(timeoutMs)).departed; }
  /** Reports that this rank saw a collective fail, so its exit is not blamed on it. */
  reportFailure(): Promise<void> { return this.request(Buffer.from([StoreOp.failed]), 2000).then(() => undefined); }
  /** Marks a clean exit, so this rank is not reported as departed when the connection closes. */
  leave(): Promise<void> { return this.request(Buffer.from([StoreOp.leave]), 2000).then(() => undefined); }
  close(): void { this.closedReason ??= 'closed by this rank'; this.sock.destroy(); }
}
