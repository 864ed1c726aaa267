// A client of a cluster of stripes, each stripe one standalone server over TCP: it routes every
// stream to its stripe from one server's URL, keeps transactions on one stripe, follows a moved
// slot table after WrongStripeError, and fails only a stripe that is down, which serves again
// once its server is back.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConnectionClosedError, decodeRecord, SlotTable, StripeUnavailableError, type Store } from '@kiln/core';
import { connect, type KilnClient } from '@kiln/core/client';
import { levelStore } from '@kiln/store-level';
import { memoryStore } from '@kiln/store-memory';
import { tcpTransport } from '@kiln/transport-tcp';
import { filter, firstValueFrom, take, toArray } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { startStripes, STRIPE_NAMES, streamsByStripe, type Stripes } from './support/stripes.js';

let stripes: Stripes | undefined;
const clients: KilnClient[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) await client.close();
  await stripes?.close();
  stripes = undefined;
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function open(url: string, reconnectWindowMs = 2000): Promise<KilnClient> {
  const client = await connect(url, { transports: [tcpTransport()], reconnectWindowMs, requestTimeoutMs: 10_000 });
  clients.push(client);
  return client;
}

/** The `(clientId, seq)` of every record in a store, in log order. */
async function tagsIn(store: Store): Promise<Array<[string, number]>> {
  const records = await store.read(1, { direction: 'forward', maxCount: 10_000, maxBytes: 64 << 20 });
  return records.map(({ lsn, bytes }) => decodeRecord(bytes, lsn)).map((r) => [r.clientId, r.seq]);
}

describe('a client of a cluster of stripes', () => {
  it("writes every stripe's streams through one server's URL and reads them back", async () => {
    const stores = STRIPE_NAMES.map(() => memoryStore());
    stripes = await startStripes(3, stores.map((s) => () => s));
    const client = await open(stripes.urls[1]!);
    // Stripes are dialled on first use: at first only beta's server, the one given, is connected.
    const connected = new Set<string | undefined>();
    client.status$.subscribe((s) => (s.type === 'connected' || s.type === 'reconnected') && connected.add(s.stripe));
    expect(connected).toEqual(new Set(['beta']));
    const streams = streamsByStripe(stripes.layout, 'order', 2).flat();
    for (const [i, stream] of streams.entries()) {
      await client.append(stream, [{ type: 'Placed', data: i }]);
      await client.append(stream, [{ type: 'Paid', data: i }], { expectedVersion: 0 });
    }
    expect(connected).toEqual(new Set(STRIPE_NAMES));
    for (const [i, stream] of streams.entries()) {
      expect((await client.read(stream)).map((e) => [e.type, e.data])).toEqual([['Placed', i], ['Paid', i]]);
      expect((await firstValueFrom(client.subscribe(stream).pipe(take(2), toArray()))).map((e) => e.data)).toEqual([i, i]);
    }
    // Each stripe holds its own streams only, and numbered this client's transactions 1, 2, 3, 4.
    for (const [stripe, store] of stores.entries()) {
      const own = (await client.readAll({ stripe: STRIPE_NAMES[stripe]!, maxCount: 100 })).map((e) => e.stream);
      expect(new Set(own)).toEqual(new Set(streamsByStripe(stripes.layout, 'order', 2)[stripe]));
      expect((await tagsIn(store)).map(([, seq]) => seq)).toEqual([1, 2, 3, 4]);
      expect(new Set((await tagsIn(store)).map(([id]) => id))).toEqual(new Set([client.clientId]));
    }
  });

  it('commits a hash-tagged transaction on one stripe, and sends one over several to the lowest stripe, which coordinates it', async () => {
    stripes = await startStripes(3);
    const client = await open(stripes.urls[0]!);
    const result = await client.transact([
      { stream: 'account-{42}', events: [{ type: 'Debited', data: 5 }] },
      { stream: 'ledger-{42}', events: [{ type: 'Posted', data: 5 }] },
    ]);
    expect(result.streams).toHaveLength(2);
    expect((await client.read('ledger-{42}')).map((e) => e.lsn)).toEqual([result.lsn]);

    const [[onAlpha], [onBeta], [onGamma]] = streamsByStripe(stripes.layout, 'split') as [[string], [string], [string]];
    const over = await client.transact([
      { stream: onGamma, events: [{ type: 'A', data: 1 }] },
      { stream: onAlpha, events: [{ type: 'A', data: 1 }] },
      { stream: onBeta, expectedVersion: 'no-stream' },
    ]);
    expect(over.streams.map((s) => s.stream)).toEqual([onGamma, onAlpha]);
    for (const stream of [onAlpha, onGamma]) expect((await client.read(stream)).map((e) => e.data)).toEqual([1]);
    expect(await client.read(onBeta)).toEqual([]);
    expect((await client.readAll()).map((e) => e.stream).sort()).toEqual(['account-{42}', 'ledger-{42}', onAlpha, onGamma].sort());
  });

  it('after WrongStripeError, fetches the topology again and retries on the right stripe', async () => {
    stripes = await startStripes(3);
    // alpha was started with a table where beta and gamma swapped slots: a client that asks it
    // routes beta's streams to gamma, whose server answers WrongStripeError.
    const swapped = stripes.layout.slotTable.ranges().map(([first, last, s]) => [first, last, s === 0 ? 0 : 3 - s] as const);
    await stripes.stop(0);
    await stripes.start(0, undefined, { ...stripes.layout, slotTable: SlotTable.fromRanges(1, 3, swapped) });
    const client = await open(stripes.urls[0]!);
    const [, [onBeta]] = streamsByStripe(stripes.layout, 'moved') as [unknown, [string]];
    expect((await client.topology()).slots).toEqual(swapped);

    expect(await client.append(onBeta, [{ type: 'A', data: 1 }])).toMatchObject({ lsn: 1, firstVersion: 0 });
    const beta = await open(stripes.urls[1]!);
    expect((await beta.readAll({ stripe: 'beta' })).map((e) => e.stream)).toEqual([onBeta]);
    // From now on the client routes by the table it fetched again: the next append goes straight to beta.
    expect(await client.append(onBeta, [{ type: 'A', data: 2 }], { expectedVersion: 0 })).toMatchObject({ lsn: 2 });
  });

  it('fails only a stopped stripe, with StripeUnavailableError, and serves it again once its server is back', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kiln-stripe-'));
    dirs.push(dir);
    stripes = await startStripes(3, [() => memoryStore(), () => levelStore({ path: dir })]);
    const windowMs = 300;
    const client = await open(stripes.urls[0]!, windowMs);
    const [[onAlpha], [onBeta], [onGamma]] = streamsByStripe(stripes.layout, 'svc') as [[string], [string], [string]];
    await client.append(onBeta, [{ type: 'Before', data: 0 }]);

    // Writers of the other stripes run through the whole outage and must see no failure.
    let running = true;
    const written = { alpha: 0, gamma: 0 };
    const writer = async (stream: string, key: 'alpha' | 'gamma'): Promise<void> => {
      while (running) {
        await client.append(stream, [{ type: 'Tick', data: written[key] }]);
        written[key]++;
      }
    };
    const writers = Promise.all([writer(onAlpha, 'alpha'), writer(onGamma, 'gamma')]);
    writers.catch(() => {}); // awaited below; a failed test closes the client under the writers

    const betaLost = firstValueFrom(client.status$.pipe(filter((s) => s.type === 'disconnected' && s.stripe === 'beta')));
    await stripes.stop(1);
    await betaLost;
    const atStop = { ...written };
    const failure = await client.append(onBeta, [{ type: 'Lost', data: 1 }]).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(StripeUnavailableError);
    // Sent after the link lost beta, the append never left the client: it was not committed, and the
    // error says so (one sent before may have committed: txn-stepdown.test.ts has 'unknown').
    expect(failure).toMatchObject({ stripe: 'beta', transactionFate: 'not-committed' });
    expect((failure as Error).message).toMatch(/was not committed/);
    expect((failure as Error).cause).toBeInstanceOf(ConnectionClosedError);
    // A later operation tries again, and fails again while the stripe is down; a read ends no transaction.
    await expect(client.read(onBeta)).rejects.toMatchObject({ name: 'StripeUnavailableError', transactionFate: null });
    const duringOutage = { ...written };

    await stripes.start(1, levelStore({ path: dir }));
    expect(await client.append(onBeta, [{ type: 'After', data: 2 }], { expectedVersion: 0 })).toMatchObject({ firstVersion: 1 });
    expect((await client.read(onBeta)).map((e) => e.type)).toEqual(['Before', 'After']);
    running = false;
    await writers;
    expect(duringOutage.alpha).toBeGreaterThan(atStop.alpha);
    expect(duringOutage.gamma).toBeGreaterThan(atStop.gamma);
    let stored = 0;
    for await (const _ of client.readStream(onAlpha)) stored++; // more than one page: the writers are fast
    expect(stored).toBe(written.alpha);
  });
});
