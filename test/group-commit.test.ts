// Group commit: concurrent transactions share store writes (one fsync on LevelDB each), never
// one write per transaction.
import { afterEach, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, inProcessTransport, type KilnServer, type Store } from '@kiln/core';
import { connect, type KilnClient } from '@kiln/core/client';
import { levelStore } from '@kiln/store-level';
import { memoryStore } from '@kiln/store-memory';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Wraps a store, counting its appends and the records each carried. */
function counting(inner: Store): { store: Store; writes: number[] } {
  const writes: number[] = [];
  const store: Store = {
    persistent: inner.persistent,
    open: () => inner.open(),
    close: () => inner.close(),
    read: (lsn, options) => inner.read(lsn, options),
    readStreamIndex: (stream, version, options) => inner.readStreamIndex(stream, version, options),
    truncateAfter: (lsn) => inner.truncateAfter(lsn),
    getMeta: (key) => inner.getMeta(key),
    putMeta: (key, value) => inner.putMeta(key, value),
    append: (records) => {
      writes.push(records.length);
      return inner.append(records);
    },
  };
  return { store, writes };
}

for (const [name, make] of [
  ['memory', async () => memoryStore()],
  [
    'LevelDB',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'kiln-group-'));
      cleanups.push(() => rm(dir, { recursive: true, force: true }));
      return levelStore({ path: dir });
    },
  ],
] as const) {
  it(`shares one ${name} store write among concurrent transactions`, async () => {
    const { store, writes } = counting(await make());
    const transport = inProcessTransport();
    const server: KilnServer = await createServer({ store, transports: [transport], listen: ['memory://group'] });
    cleanups.push(() => server.close());
    const clients: KilnClient[] = await Promise.all(Array.from({ length: 8 }, () => connect(server.urls, { transports: [transport] })));
    cleanups.push(() => Promise.all(clients.map((c) => c.close())));
    const before = writes.length;
    await Promise.all(clients.flatMap((c, ci) => Array.from({ length: 32 }, (_, i) => c.append(`g-${ci}-${i % 4}`, [{ type: 'E', data: i }]))));
    const batches = writes.slice(before);
    expect(batches.reduce((a, b) => a + b, 0)).toBe(256);
    expect(batches.length).toBeLessThanOrEqual(256 / 8);
  });
}
