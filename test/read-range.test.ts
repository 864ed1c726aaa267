// Stream reads page by the events in the requested range: a page holds exactly `maxCount` events
// unless the stream ends first, forwards and backwards, over TCP, on a memory and a LevelDB store,
// when the server's byte cap cuts its answers short, and when the index holds uncommitted entries.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstValueFrom, take, toArray } from 'rxjs';
import { createServer, type KilnServer, type Store } from '@kiln/core';
import { connect, type KilnClient } from '@kiln/core/client';
import { levelStore } from '@kiln/store-level';
import { memoryStore } from '@kiln/store-memory';
import { tcpTransport } from '@kiln/transport-tcp';
import { rawSession, type RawSession } from './support/wire.js';

type Direction = 'forward' | 'backward';
const END = Number.MAX_SAFE_INTEGER;
const transport = tcpTransport();
const ev = (i: number) => ({ type: 'E', data: i });

/** The model: the versions a read of a stream of `total` events must return, in order. */
function expectedVersions(total: number, fromVersion: number, direction: Direction, maxCount: number): number[] {
  const versions: number[] = [];
  if (direction === 'forward') for (let v = fromVersion; v < total && versions.length < maxCount; v++) versions.push(v);
  else for (let v = Math.min(fromVersion, total - 1); v >= 0 && versions.length < maxCount; v--) versions.push(v);
  return versions;
}

/** Writes one transaction per size, in order; returns the stream's event count. */
async function writeStream(client: KilnClient, stream: string, sizes: readonly number[]): Promise<number> {
  let total = 0;
  for (const size of sizes) {
    await client.append(stream, Array.from({ length: size }, (_, i) => ev(total + i)));
    total += size;
  }
  return total;
}

/** The versions of one server page inside the requested range, and whether the byte cap cut it short. */
async function serverPage(raw: RawSession, stream: string, fromVersion: number, direction: Direction, maxCount: number) {
  const [slices, truncated] = (await raw.request('read', [stream, fromVersion, direction, maxCount])) as [Array<[number, string, number, number]>, boolean];
  const versions: number[] = [];
  for (const [, , firstVersion, eventCount] of slices) {
    const run = Array.from({ length: eventCount }, (_, i) => firstVersion + i);
    for (const v of direction === 'forward' ? run : run.reverse()) if (direction === 'forward' ? v >= fromVersion : v <= fromVersion) versions.push(v);
  }
  // Slices are whole, so the last may run past the page: the client keeps the first `maxCount`.
  return { versions: versions.slice(0, maxCount), truncated };
}

interface Setup {
  server: KilnServer;
  client: KilnClient;
  raw: RawSession;
}

const stores: Array<[string, (dir: string) => Store]> = [
  ['memory', () => memoryStore()],
  ['LevelDB', (dir) => levelStore({ path: dir })],
];

for (const [storeName, makeStore] of stores) {
  // A tiny byte cap makes the server end most pages early, so the client's continuation is exercised.
  for (const [capName, readBytesMax] of [['default byte cap', undefined], ['a 64-byte cap', 64]] as const) {
    describe(`stream reads over TCP, ${storeName} store, ${capName}`, () => {
      let dir: string;
      let s: Setup;
      let round = 0;

      beforeAll(async () => {
        dir = await mkdtemp(join(tmpdir(), 'kiln-read-range-'));
        const server = await createServer({
          store: makeStore(dir),
          transports: [transport],
          listen: ['tcp://127.0.0.1:0'],
          ...(readBytesMax ? { limits: { readBytesMax } } : {}),
        });
        s = { server, client: await connect(server.urls, { transports: [transport] }), raw: await rawSession(transport, server.urls[0]!) };
      });

      afterAll(async () => {
        s?.raw.connection.close('done');
        await s?.client.close();
        await s?.server.close();
        await rm(dir, { recursive: true, force: true });
      });

      it('reads exactly the requested range of a stream written in transactions of 1, 3, 5, 7 and 9 events', async () => {
        const stream = `odd-${round++}`;
        expect(await writeStream(s.client, stream, [1, 3, 5, 7, 9])).toBe(25);
        const read = async (fromVersion: number, direction: Direction, maxCount: number) =>
          (await s.client.read(stream, { fromVersion, direction, maxCount })).map((e) => e.version);
        expect(await read(5, 'forward', 5)).toEqual([5, 6, 7, 8, 9]);
        expect(await read(2, 'forward', 3)).toEqual([2, 3, 4]);
        expect(await read(19, 'backward', 5)).toEqual([19, 18, 17, 16, 15]);
        expect(await read(10, 'backward', 5)).toEqual([10, 9, 8, 7, 6]);
        expect(await read(23, 'forward', 5)).toEqual([23, 24]);
      });

      it('returns the model page for random transaction sizes, positions and counts, both ways, and so does each server page', async () => {
        let truncatedPages = 0;
        await fc.assert(
          fc.asyncProperty(
            fc.array(fc.integer({ min: 1, max: 9 }), { maxLength: 8 }),
            fc.array(
              fc.record({
                direction: fc.constantFrom<Direction>('forward', 'backward'),
                fromVersion: fc.oneof(fc.nat(60), fc.constant(END)),
                maxCount: fc.integer({ min: 1, max: 40 }),
              }),
              { minLength: 1, maxLength: 6 },
            ),
            async (sizes, reads) => {
              const stream = `prop-${round++}`;
              const total = await writeStream(s.client, stream, sizes);
              for (const { direction, fromVersion, maxCount } of reads) {
                const model = expectedVersions(total, fromVersion, direction, maxCount);
                const what = `${JSON.stringify(sizes)} ${direction} from ${fromVersion} max ${maxCount}`;
                const page = await s.client.read(stream, { fromVersion, direction, maxCount });
                expect(page.map((e) => e.version), what).toEqual(model);
                expect(page.map((e) => e.data), what).toEqual(model);
                // The server's own page: in range, in order, and short only where it says the byte cap cut it.
                const server = await serverPage(s.raw, stream, fromVersion, direction, maxCount);
                expect(server.versions, what).toEqual(model.slice(0, server.versions.length));
                if (server.truncated) truncatedPages++;
                if (server.truncated) expect(server.versions.length, what).toBeGreaterThan(0);
                else expect(server.versions, what).toEqual(model);
                if (readBytesMax === undefined) expect(server.truncated, what).toBe(false);
              }
              // A subscription's catch-up reads page the same way: every event from the start, once each.
              if (total > 0) {
                const from = Math.floor(total / 2);
                const seen = await firstValueFrom(s.client.subscribe(stream, { fromVersion: from }).pipe(take(total - from), toArray()));
                expect(seen.map((e) => e.version)).toEqual(expectedVersions(total, from, 'forward', total));
              }
            },
          ),
          { numRuns: storeName === 'memory' ? 100 : 50 },
        );
        // The small cap must really have cut pages short, or the client's continuation went untested.
        if (readBytesMax !== undefined) expect(truncatedPages).toBeGreaterThan(0);
      });
    });
  }
}

/** A memory store whose writes, while held, are in the index but not yet acknowledged, so not committed. */
function holdingStore(): { store: Store; inner: Store; hold(): void; release(): void } {
  const inner = memoryStore();
  let held: { promise: Promise<void>; resolve: () => void } | undefined;
  const store: Store = {
    persistent: inner.persistent,
    open: () => inner.open(),
    close: () => inner.close(),
    append: async (records) => {
      await inner.append(records);
      await held?.promise;
    },
    read: (fromLsn, options) => inner.read(fromLsn, options),
    readStreamIndex: (stream, fromVersion, options) => inner.readStreamIndex(stream, fromVersion, options),
    truncateAfter: (afterLsn) => inner.truncateAfter(afterLsn),
    getMeta: (key) => inner.getMeta(key),
    putMeta: (key, value) => inner.putMeta(key, value),
  };
  return {
    store,
    inner,
    hold() {
      let resolve!: () => void;
      held = { promise: new Promise<void>((r) => (resolve = r)), resolve };
    },
    release() {
      held?.resolve();
      held = undefined;
    },
  };
}

describe('stream reads at the commit index', () => {
  it('a backward read skips index entries above the commit index without losing committed events', async () => {
    const holding = holdingStore();
    const server = await createServer({ store: holding.store, transports: [transport], listen: ['tcp://127.0.0.1:0'] });
    const client = await connect(server.urls, { transports: [transport] });
    try {
      await writeStream(client, 's', [1, 3, 5]);
      holding.hold();
      const pending = Promise.all([0, 1, 2].map((i) => client.append('s', [ev(9 + i)])));
      const deadline = Date.now() + 10_000;
      for (;;) {
        const [head] = await holding.inner.readStreamIndex('s', END, { direction: 'backward', maxCount: 1 });
        if (head && head.firstVersion >= 9) break;
        if (Date.now() > deadline) throw new Error('the held write never reached the index');
        await new Promise((r) => setImmediate(r));
      }
      const read = async (fromVersion: number, direction: Direction, maxCount: number) =>
        (await client.read('s', { fromVersion, direction, maxCount })).map((e) => e.version);
      expect(await read(END, 'backward', 1)).toEqual([8]);
      expect(await read(END, 'backward', 3)).toEqual([8, 7, 6]);
      expect(await read(0, 'forward', 100)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
      holding.release();
      await pending;
      expect(await read(END, 'backward', 2)).toEqual([11, 10]);
    } finally {
      holding.release();
      await client.close();
      await server.close();
    }
  });
});
