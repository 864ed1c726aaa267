// Reading made easy to get right, and server-side filters on $all: pages that say whether the end
// was reached, iterators over a whole stream or $all, maxCount counting events everywhere, filters
// that keep non-matching events off the network (counted in bytes on the client's transport), a
// filtered subscription's position moving on past what it skips, and the same over stripes.
import { afterEach, describe, expect, it } from 'vitest';
import { firstValueFrom, take, toArray } from 'rxjs';
import { createServer, type Connection, type KilnServer, type Transport } from '@kiln/core';
import { connect, InvalidArgumentError, type EventFilter, type KilnClient, type PositionedEvent } from '@kiln/core/client';
import { memoryStore } from '@kiln/store-memory';
import { tcpTransport } from '@kiln/transport-tcp';
import { pollUntil } from './support/cluster.js';
import { startStripes, streamsByStripe, type Stripes } from './support/stripes.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

/** A TCP transport that counts the bytes of every frame its connections receive. */
function countingTransport(): Transport & { received: number } {
  const inner = tcpTransport();
  const counting = {
    name: inner.name,
    schemes: inner.schemes,
    received: 0,
    async dial(url: string, options: Parameters<Transport['dial']>[1]): Promise<Connection> {
      const connection = await inner.dial(url, options);
      return new Proxy(connection, {
        get(target, property) {
          if (property === Symbol.asyncIterator) {
            return () => {
              const frames = target[Symbol.asyncIterator]();
              return {
                async next() {
                  const next = await frames.next();
                  if (!next.done) counting.received += next.value.byteLength;
                  return next;
                },
                return: frames.return?.bind(frames),
              };
            };
          }
          const value: unknown = Reflect.get(target, property, target);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
    },
  };
  return counting;
}

async function serverAndClient(transport: Transport = tcpTransport()): Promise<{ server: KilnServer; client: KilnClient }> {
  const server = await createServer({ store: memoryStore(), transports: [tcpTransport()], listen: ['tcp://127.0.0.1:0'] });
  cleanups.push(() => server.close());
  const client = await connect(server.urls, { transports: [transport] });
  cleanups.push(() => client.close());
  return { server, client };
}

interface OrderEvent {
  orderId: number;
  total: number;
}

describe('reading a stream', () => {
  it('says whether a page reached the end of the stream, in both directions', async () => {
    const { client } = await serverAndClient();
    await client.append('order-1', [1, 2, 3, 4, 5].map((n) => ({ type: 'E', data: n })));
    // A page exactly full does not know by itself: the client asks.
    expect(await client.readPage('order-1', { maxCount: 5 })).toMatchObject({ endOfStream: true, nextVersion: 5 });
    const first = await client.readPage('order-1', { maxCount: 3 });
    expect(first.events.map((e) => e.data)).toEqual([1, 2, 3]);
    expect(first).toMatchObject({ endOfStream: false, nextVersion: 3 });
    expect(await client.readPage('order-1', { fromVersion: first.nextVersion, maxCount: 3 })).toMatchObject({ endOfStream: true, nextVersion: 5 });
    expect(await client.readPage('order-1', { direction: 'backward', maxCount: 2 })).toMatchObject({ endOfStream: false, nextVersion: 2 });
    expect(await client.readPage('order-1', { direction: 'backward', fromVersion: 1, maxCount: 2 })).toMatchObject({ endOfStream: true, nextVersion: -1 });
    expect(await client.readPage('no-such-stream')).toEqual({ events: [], endOfStream: true, nextVersion: 0 });
  });

  it('iterates a whole stream page by page, typed', async () => {
    const { client } = await serverAndClient();
    const orders = Array.from({ length: 25 }, (_, i): OrderEvent => ({ orderId: i, total: i * 10 }));
    await client.append<OrderEvent>('order-17', orders.map((data) => ({ type: 'OrderPlaced', data })));
    const seen: number[] = [];
    for await (const event of client.readStream<OrderEvent>('order-17', { pageSize: 7 })) seen.push(event.data.orderId);
    expect(seen).toEqual(orders.map((o) => o.orderId));
    const back: number[] = [];
    for await (const event of client.readStream<OrderEvent>('order-17', { direction: 'backward', pageSize: 10 })) back.push(event.version);
    expect(back).toEqual(Array.from({ length: 25 }, (_, i) => 24 - i));
    const typed = await client.read<OrderEvent>('order-17', { maxCount: 1 });
    expect(typed[0]!.data.total).toBe(0);
  });
});

describe('reading $all', () => {
  it('counts events in maxCount, never splitting a transaction', async () => {
    const { client } = await serverAndClient();
    await client.append('a', [1, 2, 3].map((n) => ({ type: 'E', data: n }))); // LSN 1: 3 events
    await client.append('b', [4, 5].map((n) => ({ type: 'E', data: n }))); // LSN 2: 2 events
    await client.append('c', [{ type: 'E', data: 6 }]); // LSN 3
    // Four events would split LSN 2: the page ends before it.
    expect((await client.readAll({ maxCount: 4 })).map((e) => e.data)).toEqual([1, 2, 3]);
    expect((await client.readAll({ maxCount: 5 })).map((e) => e.data)).toEqual([1, 2, 3, 4, 5]);
    // A first transaction larger than maxCount comes whole.
    expect((await client.readAll({ maxCount: 2 })).map((e) => e.data)).toEqual([1, 2, 3]);
    const all: unknown[] = [];
    for await (const event of client.readAllStream({ pageSize: 2 })) all.push(event.data);
    expect(all).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('filters on the server: only matching events cross the network', async () => {
    const transport = countingTransport();
    const { client } = await serverAndClient(transport);
    const padding = 'x'.repeat(2000);
    for (let i = 0; i < 50; i++) {
      await client.transact([
        { stream: `orders-${i}`, events: [{ type: i % 10 === 0 ? 'OrderPlaced' : 'OrderViewed', data: { i, padding } }] },
        { stream: `carts-${i}`, events: [{ type: 'OrderPlaced', data: { i, padding } }] },
      ]);
    }
    const filter = { streamPrefixes: ['orders-'], eventTypes: ['OrderPlaced'] };

    let before = transport.received;
    const unfiltered = await client.readAll();
    const unfilteredBytes = transport.received - before;
    expect(unfiltered).toHaveLength(100);

    before = transport.received;
    const filtered = await client.readAll({ filter });
    const filteredBytes = transport.received - before;
    expect(filtered.map((e) => [e.stream, e.type])).toEqual([0, 10, 20, 30, 40].map((i) => [`orders-${i}`, 'OrderPlaced']));
    // 5 events of about 2 KB crossed, not 100: the rest never left the server.
    expect(filteredBytes).toBeLessThan(5 * 2000 + 2000);
    expect(unfilteredBytes).toBeGreaterThan(100 * 2000);

    // Page by page, each page's position moves on past records that did not match.
    let page = await client.readAllPage({ filter, maxCount: 2 });
    const paged = [...page.events];
    for (let n = 0; n < 10 && page.events.length > 0; n++) {
      page = await client.readAllPage({ filter, maxCount: 2, from: page.position });
      paged.push(...page.events);
    }
    expect(paged.map((e) => e.stream)).toEqual(filtered.map((e) => e.stream));
    const iterated: string[] = [];
    for await (const event of client.readAllStream({ filter: { eventTypes: ['OrderPlaced'] }, pageSize: 7 })) iterated.push(event.stream);
    expect(iterated).toHaveLength(55);
  });

  it('splits a transaction by event type, keeping each event its version', async () => {
    const { client } = await serverAndClient();
    await client.append('mixed', ['A', 'B', 'A', 'A', 'C'].map((type, i) => ({ type, data: i })));
    const events = await client.readAll({ filter: { eventTypes: ['A', 'C'] } });
    expect(events.map((e) => [e.version, e.type, e.data])).toEqual([
      [0, 'A', 0],
      [2, 'A', 2],
      [3, 'A', 3],
      [4, 'C', 4],
    ]);
  });

  it('refuses a malformed filter with InvalidArgumentError naming it, and the server carries on', async () => {
    const { client } = await serverAndClient();
    await expect(client.readAll({ filter: {} })).rejects.toMatchObject({ name: 'InvalidArgumentError', field: 'filter' });
    await expect(client.readAll({ filter: { streamPrefixes: [] } })).rejects.toMatchObject({ field: 'filter.streamPrefixes' });
    await expect(client.readAll({ filter: { eventTypes: Array.from({ length: 65 }, (_, i) => `T${i}`) } })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(client.readAll({ filter: { eventTypes: ['x'.repeat(513)] } })).rejects.toMatchObject({ field: 'filter.eventTypes[0]' });
    await expect(firstValueFrom(client.subscribeAll({ filter: { streamPrefixes: [''] } }))).rejects.toMatchObject({ field: 'filter.streamPrefixes[0]' });
    await client.append('still-up', [{ type: 'E', data: 1 }]);
  });
});

describe('positions and filters', () => {
  // Records whose events interleave matching and other ones, in streams of both prefixes: a
  // position counts a record's events whatever the filter, so a resume with another filter (or
  // none) goes on strictly after its event. It counted only the events delivered: a position
  // taken unfiltered and resumed with a filter skipped events, and the other way round repeated them.
  const filters: Array<EventFilter | undefined> = [undefined, { eventTypes: ['x'] }, { eventTypes: ['y'] }, { streamPrefixes: ['p-'] }, { streamPrefixes: ['q-'], eventTypes: ['x'] }];
  const matches = (event: PositionedEvent, filter: EventFilter | undefined): boolean =>
    (!filter?.streamPrefixes || filter.streamPrefixes.some((p) => event.stream.startsWith(p))) && (!filter?.eventTypes || filter.eventTypes.includes(event.type));
  const name = (event: PositionedEvent): string => `${event.stream}:${event.version}`;

  async function writeMixedRecords(client: KilnClient): Promise<void> {
    const events = (types: string) => [...types].map((type, i) => ({ type, data: i }));
    await client.transact([{ stream: 'q-1', events: events('yxy') }, { stream: 'p-1', events: events('xyyx') }, { stream: 'q-2', events: events('xx') }]);
    await client.append('p-2', events('yyx'));
    await client.transact([{ stream: 'p-3', events: events('y') }, { stream: 'q-3', events: events('xy') }]);
  }

  it('resume strictly after their event with any filter or none, in reads and subscriptions', async () => {
    const { client } = await serverAndClient();
    await writeMixedRecords(client);
    const all = await client.readAll();
    expect(all).toHaveLength(15);
    for (const taken of filters) {
      for (const event of (await client.readAll(taken ? { filter: taken } : {})).filter((e) => matches(e, taken))) {
        const after = all.slice(all.findIndex((e) => name(e) === name(event)) + 1);
        for (const resumed of filters) {
          const read = await client.readAll({ from: event.position, ...(resumed ? { filter: resumed } : {}) });
          expect(read.map(name), `after ${name(event)} taken with ${JSON.stringify(taken)}, read with ${JSON.stringify(resumed)}`).toEqual(after.filter((e) => matches(e, resumed)).map(name));
        }
      }
    }
    // A subscription resumed from a position taken unfiltered, with a filter, and the other way round.
    const midRecord = all.find((e) => name(e) === 'p-1:1')!;
    const subscribed = await firstValueFrom(client.subscribeAll({ from: midRecord.position, filter: { eventTypes: ['x'] } }).pipe(take(3), toArray()));
    expect(subscribed.map(name)).toEqual(['p-1:3', 'q-2:0', 'q-2:1']);
    const filteredFirst = (await client.readAll({ filter: { eventTypes: ['x'] } }))[0]!;
    expect(name(filteredFirst)).toBe('q-1:1');
    const unfiltered = await firstValueFrom(client.subscribeAll({ from: filteredFirst.position }).pipe(take(2), toArray()));
    expect(unfiltered.map(name)).toEqual(['q-1:2', 'p-1:0']);
  });
});

describe('a filtered subscription to $all', () => {
  it('delivers only matching events and reports its position as it passes the rest', async () => {
    const transport = countingTransport();
    const { client } = await serverAndClient(transport);
    await client.append('orders-1', [{ type: 'OrderPlaced', data: 1 }]);
    await client.append('carts-1', [{ type: 'CartOpened', data: 'x'.repeat(5000) }]);
    const checkpoints: string[] = [];
    const delivered: PositionedEvent[] = [];
    const subscription = client.subscribeAll({ filter: { streamPrefixes: ['orders-'] }, onCheckpoint: (position) => checkpoints.push(position) }).subscribe((e) => delivered.push(e));
    cleanups.push(async () => subscription.unsubscribe());
    await pollUntil('the catch-up', () => delivered.length === 1 && checkpoints.length > 0, 5000);
    const before = transport.received;
    for (let i = 2; i <= 20; i++) await client.append(`carts-${i}`, [{ type: 'CartOpened', data: 'x'.repeat(5000) }]);
    // Live, the checkpoint follows the records passed: it stands after the last cart.
    const last = await client.readAll({ fromLsn: 21, maxCount: 1 });
    await pollUntil('a checkpoint past the carts', () => checkpoints.at(-1) === last[0]!.position, 5000);
    expect(transport.received - before).toBeLessThan(19 * 5000);
    expect(delivered.map((e) => e.stream)).toEqual(['orders-1']);
    // Resuming from the checkpoint delivers what matches after it, nothing before.
    const checkpoint = checkpoints.at(-1)!;
    await client.append('orders-2', [{ type: 'OrderPlaced', data: 2 }]);
    const resumed = await firstValueFrom(client.subscribeAll({ filter: { streamPrefixes: ['orders-'] }, from: checkpoint }).pipe(take(1), toArray()));
    expect(resumed.map((e) => e.stream)).toEqual(['orders-2']);
  });
});

describe('filters over stripes', () => {
  let stripes: Stripes | undefined;
  afterEach(async () => {
    await stripes?.close();
    stripes = undefined;
  });

  it('pass the filter to every stripe in merged reads and subscriptions', async () => {
    stripes = await startStripes(3);
    const client = await connect(stripes.urls[0]!, { transports: [tcpTransport()] });
    cleanups.push(() => client.close());
    const streams = streamsByStripe(stripes.layout, 'orders', 2).flat();
    const others = streamsByStripe(stripes.layout, 'carts', 2).flat();
    for (const stream of [...streams, ...others]) await client.append(stream, [{ type: 'E', data: stream }]);
    const read = await client.readAll({ filter: { streamPrefixes: ['orders'] } });
    expect(read.map((e) => e.stream).sort()).toEqual([...streams].sort());
    const iterated: string[] = [];
    for await (const event of client.readAllStream({ filter: { streamPrefixes: ['carts'] }, pageSize: 1 })) iterated.push(event.stream);
    expect(iterated.sort()).toEqual([...others].sort());
    const live = await firstValueFrom(client.subscribeAll({ filter: { streamPrefixes: ['orders'] } }).pipe(take(streams.length), toArray()));
    expect(live.map((e) => e.stream).sort()).toEqual([...streams].sort());
  });
});
