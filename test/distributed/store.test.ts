// The rendezvous store in one process (no Gloo needed): key-value semantics, timeouts, the token,
// the frame cap, and the join that names missing or mismatched ranks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { StoreClient, StoreServer } from '../../src/distributed/index.js';

async function withServer(worldSize: number, fn: (s: StoreServer) => Promise<void>): Promise<void> {
  const s = await StoreServer.listen({ host: '127.0.0.1', port: 0, token: 'tok', worldSize });
  try { await fn(s); } finally { await s.close(); }
}
const client = (s: StoreServer, token = 'tok'): Promise<StoreClient> => StoreClient.connect({ host: '127.0.0.1', port: s.port, token, connectTimeoutMs: 2000 });

test('set / get / wait / add', async () => {
  await withServer(1, async (s) => {
    const a = await client(s);
    const b = await client(s);
    const waiting = b.wait(['k1', 'k2'], 2000);
    const getting = b.get('k2', 2000); // answered after the wait, in order
    await a.set('k1', Buffer.from('one'));
    await a.set('k2', Buffer.from([0, 1, 2]));
    await waiting;
    assert.deepEqual([...(await getting)], [0, 1, 2]);
    assert.equal(await a.add('n', 5), 5);
    assert.equal(await b.add('n', -2), 3);
    a.close();
    b.close();
  });
});

test('a wait for a key nobody sets times out naming the key', async () => {
  await withServer(1, async (s) => {
    const a = await client(s);
    await assert.rejects(a.wait(['never'], 200), /timed out after 200 ms waiting for key\(s\) never/);
    a.close();
  });
});

test('a wrong token is refused before any request', async () => {
  await withServer(1, async (s) => {
    await assert.rejects(client(s, 'nope'), /authentication failed: wrong or missing TENSORSLIM_DIST_TOKEN/);
  });
});

test('an oversized frame closes the connection', async () => {
  await withServer(1, async (s) => {
    const sock = connect({ host: '127.0.0.1', port: s.port });
    await new Promise((r) => sock.once('connect', r));
    const head = Buffer.alloc(4);
    head.writeUInt32LE(0xffffffff, 0); // 4 GiB announced
    sock.write(head);
    const reply = await new Promise<string>((resolve) => { let d = ''; sock.on('data', (b: Buffer) => { d += b.toString('latin1'); }); sock.on('close', () => resolve(d)); });
    assert.match(reply, /frame of 4294967295 bytes refused/);
  });
});

test('join answers when every rank is present, and names the ranks that never came', async () => {
  await withServer(3, async (s) => {
    const cs = await Promise.all([0, 1].map(() => client(s)));
    await Promise.all(cs.map((c, r) => assert.rejects(c.join(r, 3, 300), /rank 2 never arrived at the rendezvous within 300 ms \(world size 3\)/)));
    for (const c of cs) c.close();
  });
  await withServer(2, async (s) => {
    const cs = await Promise.all([0, 1].map(() => client(s)));
    await Promise.all(cs.map((c, r) => c.join(r, 2, 2000)));
    cs[1]!.close(); // rank 1 vanishes without a clean leave
    for (let i = 0; i < 50 && s.departed().length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(s.departed(), [1]);
    assert.deepEqual(await cs[0]!.departed(), [1]);
    cs[0]!.close();
  });
});

test('duplicate ranks and mismatched world sizes fail every joining rank', async () => {
  await withServer(2, async (s) => {
    const cs = await Promise.all([0, 1].map(() => client(s)));
    const j0 = assert.rejects(cs[0]!.join(0, 2, 2000), /rank 0 joined twice/);
    await assert.rejects(cs[1]!.join(0, 2, 2000), /rank 0 joined twice/);
    await j0;
    for (const c of cs) c.close();
  });
  await withServer(2, async (s) => {
    const c = await client(s);
    await assert.rejects(c.join(1, 4, 2000), /rank 1 was started with world size 4 but rank 0 with 2/);
    c.close();
  });
});
