// Subscriptions under concurrent appends: catch-up from a backlog, then live, with no gap and no
// duplicate at the seam; and a subscriber that stops reading costs the server no unbounded memory.
import { afterEach, describe, expect, it } from 'vitest';
import { encode } from '@msgpack/msgpack';
import { firstValueFrom, filter, take, toArray } from 'rxjs';
import { createServer, defaultConnectionLimits, PROTOCOL_VERSION, type Connection, type KilnServer } from '@kiln/core';
import { connect, type KilnClient, type RecordedEvent } from '@kiln/core/client';
import { memoryStore } from '@kiln/store-memory';
import { tcpTransport } from '@kiln/transport-tcp';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(): Promise<{ server: KilnServer; open: () => Promise<KilnClient> }> {
  const server = await createServer({ store: memoryStore(), transports: [tcpTransport()], listen: ['tcp://127.0.0.1:0'] });
  cleanups.push(() => server.close());
  const open = async (): Promise<KilnClient> => {
    const client = await connect(server.urls, { transports: [tcpTransport()] });
    cleanups.push(() => client.close());
    return client;
  };
  return { server, open };
}

describe('subscriptions under concurrent appends', () => {
  it('deliver a stream exactly as it is read, while writers append through catch-up and live', async () => {
    const { open } = await setup();
    const [writerA, writerB, subscriber] = await Promise.all([open(), open(), open()]);
    const backlog = 3000;
    const live = 2000;
    for (let i = 0; i < backlog; i += 100) {
      await Promise.all(Array.from({ length: 100 }, (_, j) => writerA.append('hot', [{ type: 'E', data: i + j }])));
    }
    const total = backlog + live;
    const delivered = firstValueFrom(subscriber.subscribe('hot').pipe(take(total), toArray()));
    const allDelivered = firstValueFrom(subscriber.subscribeAll().pipe(filter((e) => e.stream === 'hot'), take(total), toArray()));
    // Appends race the catch-up: some land before the switch to live, some after.
    await Promise.all(
      Array.from({ length: live }, (_, i) => (i % 2 ? writerA : writerB).append(i % 3 ? 'hot' : 'cold', [{ type: 'E', data: backlog + i }])),
    );
    const hotLive = Array.from({ length: live }, (_, i) => i).filter((i) => i % 3 !== 0).length;
    await Promise.all(Array.from({ length: live - hotLive }, (_, i) => writerA.append('hot', [{ type: 'E', data: -i }])));
    const stored = await readWhole(subscriber, 'hot');
    expect(stored).toHaveLength(total);
    const events = await delivered;
    expect(events.map((e) => e.version)).toEqual(stored.map((e) => e.version));
    expect(events.map((e) => e.data)).toEqual(stored.map((e) => e.data));
    expect((await allDelivered).map((e) => e.version)).toEqual(stored.map((e) => e.version));
  });

  it('keep a subscriber that never reads from growing server memory, while others carry on', async () => {
    const { server, open } = await setup();
    const writer = await open();
    const stalled = await stalledSubscriber(server.urls[0]!);
    cleanups.push(() => stalled.close('test over'));
    const watcher = await open();
    const payload = 'x'.repeat(16 * 1024);
    const watched = firstValueFrom(watcher.subscribeAll().pipe(take(2000), toArray()));
    // 2000 × 16 KiB = 32 MiB pushed at a subscriber whose socket is never read. What the server
    // holds for it is its connection's send queue: that must stay near one group commit.
    const connections = (server as unknown as { openConnections: Set<Connection> }).openConnections;
    let queuedMax = 0;
    for (let i = 0; i < 2000; i += 50) {
      await Promise.all(Array.from({ length: 50 }, (_, j) => writer.append(`big-${(i + j) % 10}`, [{ type: 'Big', data: payload }])));
      for (const connection of connections) queuedMax = Math.max(queuedMax, connection.queuedBytes);
    }
    expect((await watched).length).toBe(2000);
    expect(queuedMax).toBeLessThan(4 * 2 ** 20);
    expect(server.status()).toMatchObject({ connections: 3, subscriptions: 2 });
    expect(await writer.append('after', [{ type: 'E', data: 1 }])).toMatchObject({ firstVersion: 0 });
  });
});

async function readWhole(client: KilnClient, stream: string): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  for (;;) {
    const chunk = await client.read(stream, { fromVersion: events.length, maxCount: 1000 });
    if (chunk.length === 0) return events;
    events.push(...chunk);
  }
}

/** A client that handshakes, subscribes to the whole log, then never reads a frame. */
async function stalledSubscriber(url: string): Promise<Connection> {
  const connection = await tcpTransport().dial(url, defaultConnectionLimits);
  connection.send(encode([0, { version: PROTOCOL_VERSION, role: 'client' }]));
  connection.send(encode([1, 1, 'subscribe', [1, null, 1]]));
  return connection;
}
