// Exactly once: a transaction resent with the same (clientId, seq), after its connection dropped
// or its server restarted, gets its original result, and its events exist once.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode } from '@msgpack/msgpack';
import { createServer, inProcessTransport, type Connection, type KilnServer, type Transport } from '@kiln/core';
import { connect } from '@kiln/core/client';
import { levelStore } from '@kiln/store-level';
import { memoryStore } from '@kiln/store-memory';
import { tcpTransport } from '@kiln/transport-tcp';
import { rawSession } from './support/wire.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function serve(transport: Transport, listen: string, store = memoryStore()): Promise<KilnServer> {
  const server = await createServer({ store, transports: [transport], listen: [listen] });
  cleanups.push(() => server.close());
  return server;
}

const events = encode([['id-1', 'Paid', { amount: 5 }]]);

describe('exactly once', () => {
  for (const [name, transport, listen] of [
    ['in-process', inProcessTransport(), 'memory://once'],
    ['tcp', tcpTransport(), 'tcp://127.0.0.1:0'],
  ] as const) {
    it(`answers a resend after a dropped ${name} connection with the original result`, async () => {
      const server = await serve(transport, listen);
      const first = await rawSession(transport, server.urls[0]!);
      const original = await first.request('transact', ['client-a', 1, [['pay', 'no-stream', events]]]);
      first.connection.close('dropped');
      const second = await rawSession(transport, server.urls[0]!);
      const resent = await second.request('transact', ['client-a', 1, [['pay', 'no-stream', events]]]);
      expect(resent).toEqual(original);
      const [slices] = (await second.request('read', ['pay', 0, 'forward', 100])) as [unknown[], boolean];
      expect(slices).toHaveLength(1);
      second.connection.close('done');
    });
  }

  it('answers a resend after a restart from the log, since the table is rebuilt on recovery', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kiln-once-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const transport = tcpTransport();
    const before = await createServer({ store: levelStore({ path: dir }), transports: [transport], listen: ['tcp://127.0.0.1:0'] });
    const session = await rawSession(transport, before.urls[0]!);
    const original = await session.request('transact', ['client-b', 7, [['pay', 'any', events]]]);
    session.connection.close('restart');
    await before.close();

    const after = await serve(transport, 'tcp://127.0.0.1:0', levelStore({ path: dir }));
    const again = await rawSession(transport, after.urls[0]!);
    expect(await again.request('transact', ['client-b', 7, [['pay', 'any', events]]])).toEqual(original);
    const client = await connect(after.urls, { transports: [transport] });
    cleanups.push(() => client.close());
    expect(await client.read('pay')).toHaveLength(1);
    again.connection.close('done');
  });

  it('resends in-flight transactions after a reconnect without duplicating them', async () => {
    const transport = tcpTransport();
    const server = await serve(transport, 'tcp://127.0.0.1:0');
    const client = await connect(server.urls, { transports: [transport], reconnectWindowMs: 5000 });
    cleanups.push(() => client.close());
    const statuses: string[] = [];
    const seen = client.status$.subscribe((s) => statuses.push(s.type));
    const appends = Array.from({ length: 200 }, (_, i) => client.append('burst', [{ type: 'E', data: i }]));
    // Drop every connection the server holds while appends are in flight.
    await dropConnections(server);
    const results = await Promise.all(appends);
    seen.unsubscribe();
    expect(statuses).toContain('reconnected');
    const stored = await client.read('burst', { maxCount: 1000 });
    expect(stored).toHaveLength(200);
    expect(new Set(stored.map((e) => e.data)).size).toBe(200);
    expect(new Set(results.map((r) => r.firstVersion)).size).toBe(200);
  });
});

/** Closes the server's client connections from the server side, through its status-visible listeners. */
async function dropConnections(server: KilnServer): Promise<void> {
  const internals = server as unknown as { openConnections: Set<Connection> };
  for (const connection of internals.openConnections) connection.close('test drops the connection');
  await expect.poll(() => server.status().connections).toBeGreaterThan(0);
}
