// ACID properties of the commit path, checked with fast-check through a real server and client.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { firstValueFrom, take, toArray } from 'rxjs';
import { createServer, inProcessTransport, type KilnServer, type Store } from '@kiln/core';
import { connect, WrongExpectedVersionError, type KilnClient } from '@kiln/core/client';
import { memoryStore } from '@kiln/store-memory';

const transport = inProcessTransport();
let server: KilnServer;
let clients: KilnClient[];
let round = 0;

beforeAll(async () => {
  server = await createServer({ store: memoryStore(), transports: [transport], listen: ['memory://acid'] });
  clients = await Promise.all([0, 1, 2, 3].map(() => connect(server.urls, { transports: [transport] })));
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await server.close();
});

const ev = (data: unknown) => ({ type: 'E', data });

describe('consistency: expected versions', () => {
  it('of concurrent transactions with the same expected version, exactly one commits', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 2, max: 4 }), fc.boolean(), async (prior, contenders, multiStream) => {
        const stream = `ev-${round++}`;
        const other = `${stream}-other`;
        for (let i = 0; i < prior; i++) await clients[0]!.append(stream, [ev(i)]);
        const expectedVersion = prior === 0 ? ('no-stream' as const) : prior - 1;
        const outcomes = await Promise.allSettled(
          clients.slice(0, contenders).map((client, c) =>
            multiStream
              ? client.transact([
                  { stream, events: [ev(`c${c}`)], expectedVersion },
                  { stream: other, events: [ev(`c${c}`)] },
                ])
              : client.append(stream, [ev(`c${c}`)], { expectedVersion }),
          ),
        );
        const won = outcomes.filter((o) => o.status === 'fulfilled');
        const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
        expect(won).toHaveLength(1);
        for (const l of lost) expect(l.reason).toBeInstanceOf(WrongExpectedVersionError);
        const events = await clients[0]!.read(stream);
        expect(events.map((e) => e.version)).toEqual([...Array(prior + 1).keys()]);
        if (multiStream) expect(await clients[0]!.read(other)).toHaveLength(1);
      }),
      { numRuns: 60 },
    );
  });
});

describe('atomicity and isolation', () => {
  it('never shows part of a multi-stream transaction to a read or a subscription', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 4 }), fc.integer({ min: 5, max: 25 }), async (streamCount, txnCount) => {
        const prefix = `atom-${round++}`;
        const streams = Array.from({ length: streamCount }, (_, i) => `${prefix}-${i}`);
        const fromLsn = (await server.status()).commitIndex + 1;
        const seen = firstValueFrom(clients[3]!.subscribeAll({ fromLsn }).pipe(take(txnCount * streamCount), toArray()));
        const writes = Array.from({ length: txnCount }, (_, t) =>
          clients[t % 3]!.transact(streams.map((stream) => ({ stream, events: [ev(t)] }))),
        );
        // Reads race the writes: a transaction seen in one stream must be in every later read of the others.
        const observed: number[][] = [];
        for (let r = 0; r < 6; r++) {
          for (const stream of streams) observed.push((await clients[3]!.read(stream)).map((e) => e.data as number));
        }
        await Promise.all(writes);
        let highWater = new Set<number>();
        for (const view of observed) {
          for (const t of highWater) expect(view).toContain(t);
          highWater = new Set([...highWater, ...view]);
        }
        const delivered = await seen;
        const byLsn = new Map<number, string[]>();
        for (const event of delivered) byLsn.set(event.lsn, [...(byLsn.get(event.lsn) ?? []), event.stream]);
        for (const group of byLsn.values()) expect(group.sort()).toEqual([...streams].sort());
      }),
      { numRuns: 25 },
    );
  });
});

describe('isolation: nothing uncommitted is read', () => {
  it('hides a transaction until its write is durable', async () => {
    let release: () => void = () => {};
    const gate = { closed: false };
    const inner = memoryStore();
    const slowStore: Store = {
      get persistent() {
        return inner.persistent;
      },
      open: () => inner.open(),
      close: () => inner.close(),
      read: (lsn, o) => inner.read(lsn, o),
      readStreamIndex: (s, v, o) => inner.readStreamIndex(s, v, o),
      truncateAfter: (lsn) => inner.truncateAfter(lsn),
      getMeta: (k) => inner.getMeta(k),
      putMeta: (k, v) => inner.putMeta(k, v),
      // The gated write lands in the inner store at once, then holds back its "durable" answer.
      append: async (records) => {
        await inner.append(records);
        if (gate.closed) await new Promise<void>((resolve) => (release = resolve));
      },
    };
    const gated = await createServer({ store: slowStore, transports: [transport], listen: ['memory://gated'] });
    const writer = await connect(gated.urls, { transports: [transport] });
    const reader = await connect(gated.urls, { transports: [transport] });
    try {
      await writer.append('g', [ev('committed')]);
      gate.closed = true;
      const pending = writer.append('g', [ev('pending')]);
      await expect.poll(() => gated.status().pendingTransactions).toBe(1);
      expect(gated.status().commitIndex).toBe(1);
      expect((await reader.read('g')).map((e) => e.data)).toEqual(['committed']);
      expect((await reader.readAll()).map((e) => e.data)).toEqual(['committed']);
      gate.closed = false;
      release();
      await pending;
      expect((await reader.read('g')).map((e) => e.data)).toEqual(['committed', 'pending']);
    } finally {
      await Promise.all([writer.close(), reader.close()]);
      await gated.close();
    }
  });

  it('never shows the events of a transaction that failed', async () => {
    const stream = `failed-${round++}`;
    await clients[0]!.append(stream, [ev('ok')]);
    const attempts = await Promise.allSettled(clients.map((c, i) => c.append(stream, [ev(`try-${i}`)], { expectedVersion: 0 })));
    const winners = attempts.flatMap((a, i) => (a.status === 'fulfilled' ? [`try-${i}`] : []));
    expect((await clients[1]!.read(stream)).map((e) => e.data)).toEqual(['ok', ...winners]);
  });
});
