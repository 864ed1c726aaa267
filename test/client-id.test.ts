// A clientId reused by a second client, at the same time or later, after a restart or a failover,
// never gets an acknowledgement for a write that did not happen: each client's transactions carry
// a sequence of their own, and a resend of a (clientId, seq) with different content is refused.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode } from '@msgpack/msgpack';
import { createServer, errorFromWire, errorToWire, InvalidArgumentError, SequenceReusedError, type KilnServer, type Transport } from '@kiln/core';
import { connect, type KilnClient } from '@kiln/core/client';
import { levelStore } from '@kiln/store-level';
import { memoryStore } from '@kiln/store-memory';
import { tcpTransport } from '@kiln/transport-tcp';
import { exchange, rawSession } from './support/wire.js';
import { cluster, kill, killAllMembers, launch, pollUntil, seededRandom } from './support/cluster.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(() => killAllMembers());

const transport: Transport = tcpTransport();

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kiln-client-id-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function client(urls: string | readonly string[], clientId: string): Promise<KilnClient> {
  const c = await connect(urls, { transports: [transport], clientId, reconnectWindowMs: 20_000, requestTimeoutMs: 30_000 });
  cleanups.push(() => c.close());
  return c;
}

const blob = (id: string): Uint8Array => encode([[id, 'E', { id }]]);
/** The error name a raw request was refused with. */
const refusal = (request: Promise<unknown>): Promise<unknown> => request.then(
  () => 'answered',
  (error: { body?: { name?: string } }) => error.body?.name,
);

describe('a reused clientId', () => {
  it('gives a second client, after the first closed, its own write', async () => {
    const server = await createServer({ store: memoryStore(), transports: [transport], listen: ['tcp://127.0.0.1:0'] });
    cleanups.push(() => server.close());
    const first = await client(server.urls, 'billing');
    const orders = await first.append('orders', [{ type: 'OrderPlaced', data: 1 }]);
    await first.close();

    const second = await client(server.urls, 'billing');
    const payments = await second.append('payments', [{ type: 'PaymentTaken', data: 2 }]);
    expect(payments.lsn).not.toBe(orders.lsn);
    expect((await second.read('payments')).map((e) => e.data)).toEqual([2]);
    expect((await second.read('orders')).map((e) => e.data)).toEqual([1]);
  });

  it('keeps two clients using it at the same time apart', async () => {
    const server = await createServer({ store: memoryStore(), transports: [transport], listen: ['tcp://127.0.0.1:0'] });
    cleanups.push(() => server.close());
    const [a, b] = await Promise.all([client(server.urls, 'billing'), client(server.urls, 'billing')]);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a.append('orders', [{ type: 'E', data: i }]) : b.append('payments', [{ type: 'E', data: i }]))),
    );
    expect(new Set(results.map((r) => r.lsn)).size).toBe(20);
    expect((await a.read('orders')).map((e) => e.data)).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
    expect((await b.read('payments')).map((e) => e.data)).toEqual([1, 3, 5, 7, 9, 11, 13, 15, 17, 19]);
  });

  it('refuses a resend whose content differs, committed or in flight, and answers one that matches', async () => {
    const server = await createServer({ store: memoryStore(), transports: [transport], listen: ['tcp://127.0.0.1:0'] });
    cleanups.push(() => server.close());
    const raw = await rawSession(transport, server.urls[0]!);
    cleanups.push(async () => raw.connection.close('done'));
    const original = await raw.request('transact', ['billing', 1, [['orders', 'any', blob('o1')]]]);
    expect(await refusal(raw.request('transact', ['billing', 1, [['payments', 'any', blob('p1')]]]))).toBe('SequenceReusedError');
    expect(await refusal(raw.request('transact', ['billing', 1, [['orders', 'any', blob('other')]]]))).toBe('SequenceReusedError');
    expect(await raw.request('transact', ['billing', 1, [['orders', 'any', blob('o1')]]])).toEqual(original);

    // Two different transactions with one (clientId, seq), pipelined: one commits, the other is refused.
    const outcome = await exchange(
      transport,
      server.urls[0]!,
      [encode([1, 1, 'transact', ['pipelined', 1, [['a', 'any', blob('a1')]]]]), encode([1, 2, 'transact', ['pipelined', 1, [['b', 'any', blob('b1')]]]])],
      { hello: true, until: (o) => o.frames.length === 3 },
    );
    const answers = (outcome.frames.slice(1) as unknown[][]).map((f) => (f[0] === 3 ? 'result' : (f[2] as { name: string }).name));
    expect(answers.sort()).toEqual(['SequenceReusedError', 'result']);

    const reader = await client(server.urls, 'reader');
    expect((await reader.read('payments')).length).toBe(0);
    expect((await reader.read('orders')).length).toBe(1);
    expect((await reader.read('a')).length + (await reader.read('b')).length).toBe(1);
  });

  it('leaves room for the session suffix, and the refusal travels as its own class', async () => {
    const server = await createServer({ store: memoryStore(), transports: [transport], listen: ['tcp://127.0.0.1:0'] });
    cleanups.push(() => server.close());
    await expect(connect(server.urls, { transports: [transport], clientId: 'x'.repeat(92) })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(connect(server.urls, { transports: [transport], clientId: '' })).rejects.toBeInstanceOf(InvalidArgumentError);
    const longest = await client(server.urls, 'x'.repeat(91));
    expect(longest.clientId).toMatch(/^x{91}\/[0-9a-f-]{36}$/);
    expect((await longest.append('s', [{ type: 'E', data: 1 }])).lsn).toBe(1);

    // UTF-8 has no bytes for a lone surrogate: such an id would come back from the log as another.
    await expect(connect(server.urls, { transports: [transport], clientId: 'billing\uD800' })).rejects.toBeInstanceOf(InvalidArgumentError);
    const raw = await rawSession(transport, server.urls[0]!);
    cleanups.push(async () => raw.connection.close('done'));
    expect(await refusal(raw.request('transact', ['billing\uDC00', 1, [['orders', 'any', blob('o1')]]]))).toBe('InvalidArgumentError');
    expect(await raw.request('ping', null)).toBeNull();

    const rebuilt = errorFromWire(errorToWire(new SequenceReusedError('billing', 3)));
    expect(rebuilt).toBeInstanceOf(SequenceReusedError);
    expect(rebuilt).toMatchObject({ clientId: 'billing', seq: 3, retryable: false });
  });

  it('is told apart across a restart of a restartable server', async () => {
    const dir = await tempDir();
    const start = (): Promise<KilnServer> => createServer({ store: levelStore({ path: dir }), transports: [transport], listen: ['tcp://127.0.0.1:0'] });
    const before = await start();
    const first = await client(before.urls, 'billing');
    const orders = await first.append('orders', [{ type: 'OrderPlaced', data: 1 }]);
    const raw = await rawSession(transport, before.urls[0]!);
    const original = await raw.request('transact', ['raw-billing', 1, [['orders', 'any', blob('o1')]]]);
    raw.connection.close('restart');
    await first.close();
    await before.close();

    const after = await start();
    cleanups.push(() => after.close());
    const second = await client(after.urls, 'billing');
    const payments = await second.append('payments', [{ type: 'PaymentTaken', data: 2 }]);
    expect(payments.lsn).toBeGreaterThan(orders.lsn);
    expect((await second.read('payments')).map((e) => e.data)).toEqual([2]);

    // The table rebuilt from the log knows what each (clientId, seq) wrote.
    const again = await rawSession(transport, after.urls[0]!);
    cleanups.push(async () => again.connection.close('done'));
    expect(await refusal(again.request('transact', ['raw-billing', 1, [['payments', 'any', blob('p1')]]]))).toBe('SequenceReusedError');
    expect(await again.request('transact', ['raw-billing', 1, [['orders', 'any', blob('o1')]]])).toEqual(original);
    expect((await second.read('payments')).length).toBe(1);
    expect((await second.read('orders')).length).toBe(2);
  });

  it('is told apart across a failover of a group of two servers and a voter', async () => {
    const root = await tempDir();
    const random = seededRandom(Number(process.env.KILN_FAILOVER_SEED ?? Math.floor(Math.random() * 2 ** 31)));
    const { file, members } = await cluster(2, 1, root, random, 'restartable');
    for (const m of members) launch(file, m);
    cleanups.push(async () => {
      for (const m of members) await kill(m);
    });
    const urls = members.filter((m) => !m.voter).map((m) => m.client);

    let first: KilnClient | undefined;
    await pollUntil('a server to connect to', async () => (first = await client(urls, 'billing').catch(() => undefined)) !== undefined, 20_000, 100);
    const orders = await first!.append('orders', [{ type: 'OrderPlaced', data: 1 }]);
    // Kill the active only once the other server holds every commit, or no server could take over.
    let activeName = '';
    await pollUntil('both servers in sync', async () => {
      const status = await first!.serverStatus().catch(() => undefined);
      activeName = String(status?.name);
      return status?.state === 'ACTIVE-COORDINATOR' && (status.group as { inSync: string[] }).inSync.length === 2;
    }, 60_000);
    const active = members.find((m) => m.name === activeName)!;
    const raw = await rawSession(transport, active.client);
    const original = await raw.request('transact', ['raw-billing', 1, [['orders', 'any', blob('o1')]]]);
    raw.connection.close('failover');
    await first!.close();
    await kill(active);

    const second = await client(urls, 'billing');
    const payments = await second.append('payments', [{ type: 'PaymentTaken', data: 2 }]);
    expect(payments.lsn).toBeGreaterThan(orders.lsn);
    expect((await second.read('payments')).map((e) => e.data)).toEqual([2]);

    const survivor = members.find((m) => !m.voter && m !== active)!;
    const again = await rawSession(transport, survivor.client);
    cleanups.push(async () => again.connection.close('done'));
    expect(await refusal(again.request('transact', ['raw-billing', 1, [['payments', 'any', blob('p1')]]]))).toBe('SequenceReusedError');
    expect(await again.request('transact', ['raw-billing', 1, [['orders', 'any', blob('o1')]]])).toEqual(original);
    expect((await second.read('orders')).length).toBe(2);
  }, 120_000);
});
