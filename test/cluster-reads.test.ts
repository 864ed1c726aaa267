// `$all` over a cluster of stripes: a merged read returns every event once with each stripe's
// order kept, and a read or a subscription resumed from any event's position returns exactly the
// rest; a single server's events carry positions too.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, defaultConnectionLimits, InvalidArgumentError, StripeEpochChangedError, type KilnServer } from '@kiln/core';
import { decode, encode } from '@msgpack/msgpack';
import { HELLO } from './support/wire.js';
import { connect, type KilnClient, type PositionedEvent, type RecordedEvent } from '@kiln/core/client';
import { levelStore } from '@kiln/store-level';
import { memoryStore } from '@kiln/store-memory';
import { tcpTransport } from '@kiln/transport-tcp';
import fc from 'fast-check';
import { firstValueFrom, take, toArray, type Observable } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { pollUntil } from './support/cluster.js';
import { startStripes, streamsByStripe, type Stripes } from './support/stripes.js';

let stripes: Stripes | undefined;
let lone: KilnServer | undefined;
const clients: KilnClient[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) await client.close();
  await stripes?.close();
  await lone?.close();
  stripes = lone = undefined;
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function open(url: string): Promise<KilnClient> {
  const client = await connect(url, { transports: [tcpTransport()], reconnectWindowMs: 2000, requestTimeoutMs: 10_000 });
  clients.push(client);
  return client;
}

/** Each stripe's events in the order they came, by their `data` (a number unique to each event). */
function byStripe(events: readonly PositionedEvent[], stripeOf: (stream: string) => number): number[][] {
  const lists: number[][] = [[], [], []];
  for (const e of events) lists[stripeOf(e.stream)]!.push(e.data as number);
  return lists;
}

/** Reads the merged log to its end in pages of `pageCount` records, each page from the last position. */
async function readInPages(client: KilnClient, pageCount: number): Promise<PositionedEvent[]> {
  const events: PositionedEvent[] = [];
  for (;;) {
    const from = events[events.length - 1]?.position;
    const page = await client.readAll({ maxCount: pageCount, ...(from ? { from } : {}) });
    if (page.length === 0) return events;
    events.push(...page);
  }
}

describe('$all over a cluster of stripes', () => {
  it('merges three stripes: each event once, each stripe in its order, and every position resumes exactly the rest', async () => {
    stripes = await startStripes(3);
    const cluster = stripes;
    const streams = streamsByStripe(cluster.layout, 'p', 2);
    const stripeOf = (stream: string): number => cluster.layout.slotTable.stripeOf(stream);
    // One write: a transaction of 1-3 events to one of a stripe's two streams.
    const write = fc.record({ stripe: fc.integer({ min: 0, max: 2 }), stream: fc.integer({ min: 0, max: 1 }), events: fc.integer({ min: 1, max: 3 }) });
    await fc.assert(
      fc.asyncProperty(fc.array(write, { minLength: 1, maxLength: 16 }), fc.integer({ min: 1, max: 4 }), async (writes, pageCount) => {
        for (let i = 0; i < 3; i++) {
          await cluster.stop(i);
          await cluster.start(i);
        }
        const client = await open(cluster.urls[2]!);
        const expected: number[][] = [[], [], []];
        let next = 0;
        for (const w of writes) {
          const data = Array.from({ length: w.events }, () => next++);
          await client.append(streams[w.stripe]![w.stream]!, data.map((d) => ({ type: 'E', data: d })));
          expected[w.stripe]!.push(...data);
        }
        const all = await client.readAll();
        expect(all).toHaveLength(next);
        expect(byStripe(all, stripeOf)).toEqual(expected);
        // The order does not depend on how the log is paged.
        expect((await readInPages(client, pageCount)).map((e) => e.data)).toEqual(all.map((e) => e.data));
        for (const [i, event] of all.entries()) {
          const rest = await client.readAll({ from: event.position });
          expect(rest.map((e) => e.data)).toEqual(all.slice(i + 1).map((e) => e.data));
        }
        await client.close();
      }),
      { numRuns: 25 },
    );
  });

  it('delivers every event once to a merged subscription while writers run, and resumes from a position with a new client', async () => {
    stripes = await startStripes(3);
    const cluster = stripes;
    const streams = streamsByStripe(cluster.layout, 's', 1).map(([s]) => s!);
    const stripeOf = (stream: string): number => cluster.layout.slotTable.stripeOf(stream);
    const writer = await open(cluster.urls[0]!);
    const watcher = await open(cluster.urls[0]!);
    const reader = await open(cluster.urls[1]!);
    const perStripe = 40;
    const total = perStripe * 3;
    const firstPart = 50;
    const everything = firstValueFrom(watcher.subscribeAll().pipe(take(total), toArray()));
    const early = firstValueFrom(reader.subscribeAll().pipe(take(firstPart), toArray()));
    // Each stripe gets transactions of one and of two events, from writers running side by side.
    const expected: number[][] = [[], [], []];
    const writers = streams.map(async (stream, stripe) => {
      for (let n = 0; n < perStripe; ) {
        const data = (n % 3 === 1 ? [n, n + 1] : [n]).filter((d) => d < perStripe).map((d) => stripe * 1000 + d);
        expected[stripe]!.push(...data);
        await writer.append(stream, data.map((d) => ({ type: 'E', data: d })));
        n += data.length;
      }
    });

    const seenFirst = await early;
    await reader.close();
    // A new client resumes from the last event seen, while the writers may still be running.
    const resumed = await open(cluster.urls[2]!);
    const rest = firstValueFrom(resumed.subscribeAll({ from: seenFirst[firstPart - 1]!.position }).pipe(take(total - firstPart), toArray()));
    await Promise.all(writers);
    const seenRest = await rest;
    expect(byStripe([...seenFirst, ...seenRest], stripeOf)).toEqual(expected);
    // Nothing is left after the last event delivered.
    expect(await resumed.readAll({ from: seenRest[seenRest.length - 1]!.position })).toEqual([]);
    // The subscription that ran through all the writing saw every event once, in each stripe's order.
    const full = await everything;
    expect(byStripe(full, stripeOf)).toEqual(expected);
    expect(await watcher.readAll({ from: full[total - 1]!.position })).toEqual([]);
  });

  it("resumes a merged subscription on a stripe whose server restarts within the client's window", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kiln-stripe-'));
    dirs.push(dir);
    stripes = await startStripes(3, [() => memoryStore(), () => levelStore({ path: dir })]);
    const cluster = stripes;
    const streams = streamsByStripe(cluster.layout, 'r', 1).map(([s]) => s!);
    const stripeOf = (stream: string): number => cluster.layout.slotTable.stripeOf(stream);
    const client = await open(cluster.urls[0]!);
    const expected: number[][] = [[], [], []];
    let next = 0;
    const write = async (stripe: number, count = 1): Promise<void> => {
      const data = Array.from({ length: count }, () => next++);
      expected[stripe]!.push(...data);
      await client.append(streams[stripe]!, data.map((d) => ({ type: 'E', data: d })));
    };
    for (const stripe of [0, 1, 2, 1]) await write(stripe, 2);
    const seen = firstValueFrom(client.subscribeAll().pipe(take(21), toArray()));
    await cluster.stop(1);
    for (const stripe of [0, 2, 0]) await write(stripe);
    await cluster.start(1, levelStore({ path: dir }));
    for (const stripe of [1, 1, 0, 2, 1]) await write(stripe, 2);
    expect(next).toBe(21);
    expect(byStripe(await seen, stripeOf)).toEqual(expected);
  });

  it("fails a merged subscription and a stream's with StripeEpochChangedError when a memory stripe comes back empty within the client's window", async () => {
    stripes = await startStripes(2);
    const cluster = stripes;
    const [[onAlpha], [onBeta]] = streamsByStripe(cluster.layout, 'life') as [[string], [string]];
    const client = await open(cluster.urls[0]!);
    /** What a subscription saw, and how it ended: with its error, or with the first event of the new log, which it must not deliver. */
    const watch = (events: Observable<RecordedEvent>) => {
      const seen: unknown[] = [];
      const ended = new Promise<unknown>((resolve) =>
        events.subscribe({
          next: (e) => {
            seen.push(e.data);
            if (String(e.data).startsWith('new')) resolve(e);
          },
          error: resolve,
          complete: () => resolve('completed'),
        }),
      );
      return { seen, ended };
    };
    const merged = watch(client.subscribeAll());
    const stream = watch(client.subscribe(onBeta));
    for (const data of ['old0', 'old1', 'old2']) await client.append(onBeta, [{ type: 'E', data }]);
    await client.append(onAlpha, [{ type: 'E', data: 'a0' }]);
    await pollUntil('the stream subscription to have the old events', () => stream.seen.length === 3, 5000);
    await cluster.stop(1);
    await cluster.start(1);
    // The new log's first records, written before or after the subscriptions resume on it: they
    // resumed at the old LSN or version, skipping them (the merged one failed with
    // PositionAheadError when they were fewer).
    const other = await open(cluster.urls[1]!);
    for (const data of ['new0', 'new1', 'new2', 'new3']) await other.append(onBeta, [{ type: 'E', data }]);
    expect(await merged.ended).toMatchObject({ name: 'StripeEpochChangedError', stripe: 'beta' });
    expect(merged.seen).toEqual(['old0', 'old1', 'old2', 'a0']);
    expect(await stream.ended).toMatchObject({ name: 'StripeEpochChangedError', stripe: 'beta' });
    expect(stream.seen).toEqual(['old0', 'old1', 'old2']);
  });

  it('reads and subscribes to one stripe by name, and refuses an LSN or a backward read over several', async () => {
    stripes = await startStripes(3);
    const client = await open(stripes.urls[0]!);
    const [[onAlpha], [onBeta]] = streamsByStripe(stripes.layout, 'one') as [[string], [string]];
    await client.append(onAlpha, [{ type: 'A', data: 1 }]);
    await client.append(onBeta, [{ type: 'B', data: 2 }]);
    await client.append(onBeta, [{ type: 'B', data: 3 }]);
    expect((await client.readAll({ stripe: 'beta' })).map((e) => e.data)).toEqual([2, 3]);
    expect((await client.readAll({ stripe: 'beta', direction: 'backward', maxCount: 1 })).map((e) => e.data)).toEqual([3]);
    expect((await client.readAll({ stripe: 'beta', fromLsn: 2 })).map((e) => e.data)).toEqual([3]);
    const [first] = await client.readAll({ stripe: 'beta', maxCount: 1 });
    expect((await client.readAll({ stripe: 'beta', from: first!.position })).map((e) => e.data)).toEqual([3]);
    const live = firstValueFrom(client.subscribeAll({ stripe: 'beta', from: first!.position }).pipe(take(2), toArray()));
    await client.append(onAlpha, [{ type: 'A', data: 4 }]);
    await client.append(onBeta, [{ type: 'B', data: 5 }]);
    expect((await live).map((e) => e.data)).toEqual([3, 5]);

    await expect(client.readAll({ fromLsn: 1 })).rejects.toMatchObject({ name: 'InvalidArgumentError', field: 'fromLsn' });
    await expect(client.readAll({ direction: 'backward' })).rejects.toMatchObject({ field: 'direction' });
    await expect(client.readAll({ stripe: 'delta' })).rejects.toMatchObject({ field: 'stripe' });
    await expect(client.readAll({ from: 'not a position' })).rejects.toBeInstanceOf(InvalidArgumentError);
    // Cut short at a comma, a position would read the stripes it lost from their start again.
    const position = first!.position;
    for (const cut of [position.slice(0, position.lastIndexOf(',')), '1:']) {
      await expect(client.readAll({ from: cut })).rejects.toMatchObject({ name: 'InvalidArgumentError', field: 'from' });
      await expect(firstValueFrom(client.subscribeAll({ from: cut }))).rejects.toMatchObject({ name: 'InvalidArgumentError', field: 'from' });
    }
    await expect(firstValueFrom(client.subscribeAll({ fromLsn: 1 }))).rejects.toMatchObject({ field: 'fromLsn' });
  });

  it('refuses a position taken in an earlier epoch of a stripe with StripeEpochChangedError', async () => {
    stripes = await startStripes(3);
    const client = await open(stripes.urls[0]!);
    const [[onAlpha]] = streamsByStripe(stripes.layout, 'epoch') as [[string]];
    await client.append(onAlpha, [{ type: 'A', data: 1 }]);
    const [event] = await client.readAll();
    // A position names each stripe as `index.epoch.nextLsn.skip`; alpha's epoch is the commit time
    // of its first record. This one claims an earlier life of alpha.
    const epoch = Number(/[:,]0\.(\d+)\./.exec(event!.position)![1]);
    expect(epoch).toBe(Math.trunc(event!.timestampMs));
    const older = event!.position.replace(/([:,])0\.\d+\./, `$10.${epoch - 1}.`);
    expect(older).not.toBe(event!.position);
    await expect(client.readAll({ from: older })).rejects.toBeInstanceOf(StripeEpochChangedError);
    await expect(client.readAll({ from: older })).rejects.toMatchObject({ stripe: 'alpha', positionEpoch: epoch - 1, currentEpoch: epoch });
    await expect(firstValueFrom(client.subscribeAll({ from: older }))).rejects.toBeInstanceOf(StripeEpochChangedError);
  });

  it('refuses a position or an LSN past what a stripe committed with PositionAheadError, and a position of another cluster', async () => {
    stripes = await startStripes(3);
    const client = await open(stripes.urls[0]!);
    const [[onAlpha]] = streamsByStripe(stripes.layout, 'ahead') as [[string]];
    await client.append(onAlpha, [{ type: 'A', data: 1 }]);
    const [event] = await client.readAll();
    // The same epoch, but alpha's next LSN is one no server of alpha has reached (it committed LSN 1).
    const ahead = event!.position.replace(/([:,])0\.(\d+)\.\d+\.\d+/, '$10.$2.100.0');
    expect(ahead).not.toBe(event!.position);
    const refusal = { name: 'PositionAheadError', stripe: 'alpha', fromLsn: 100, committedLsn: 1 };
    await expect(client.readAll({ from: ahead })).rejects.toMatchObject(refusal);
    await expect(firstValueFrom(client.subscribeAll({ from: ahead }))).rejects.toMatchObject(refusal);
    // One stripe's log by LSN: its end (one past the last committed) is fine, beyond it is not.
    expect(await client.readAll({ stripe: 'beta', fromLsn: 1 })).toEqual([]);
    await expect(client.readAll({ stripe: 'beta', fromLsn: 2 })).rejects.toMatchObject({ name: 'PositionAheadError', stripe: 'beta', fromLsn: 2, committedLsn: 0 });
    await expect(firstValueFrom(client.subscribeAll({ stripe: 'gamma', fromLsn: 7 }))).rejects.toMatchObject({ name: 'PositionAheadError', stripe: 'gamma', fromLsn: 7 });
    // Nothing was refused for good: the stripes still serve reads and subscriptions from where they stand.
    const live = firstValueFrom(client.subscribeAll({ from: event!.position }));
    await client.append(onAlpha, [{ type: 'A', data: 2 }]);
    expect((await live).data).toBe(2);

    // Another cluster's position names another log of stripe 0: its epoch (a commit time) tells them apart.
    lone = await createServer({ store: memoryStore(), transports: [tcpTransport()], listen: ['tcp://127.0.0.1:0'] });
    const stranger = await open(lone.urls[0]!);
    await stranger.append('x', [{ type: 'X', data: 0 }]);
    const [foreign] = await stranger.readAll();
    await expect(client.readAll({ from: foreign!.position })).rejects.toBeInstanceOf(StripeEpochChangedError);
  });

  it("gives positions that resume when a stripe's log starts with a record that shows no event, read, subscribed or filtered", async () => {
    stripes = await startStripes(2);
    const client = await open(stripes.urls[0]!);
    const [[onAlpha], [onBeta]] = streamsByStripe(stripes.layout, 'first') as [[string], [string]];
    // Subscribed while every log is empty: the topology says epoch 0 of each.
    const subscribed = firstValueFrom(client.subscribeAll().pipe(take(5), toArray()));
    const filtered = firstValueFrom(client.subscribeAll({ filter: { eventTypes: ['Z'] } }).pipe(take(1), toArray()));
    let checkpoint: string | undefined;
    const checkpoints = client.subscribeAll({ filter: { eventTypes: ['none'] }, onCheckpoint: (position) => (checkpoint = position) }).subscribe();
    // Beta's log starts with its prepare of each, which shows no event (its outcome does), and
    // alpha's first records pass the filters without a match.
    for (const n of [1, 2]) {
      await client.transact([
        { stream: onAlpha, events: [{ type: 'T', data: n * 10 }] },
        { stream: onBeta, events: [{ type: 'T', data: n * 10 + 1 }] },
      ]);
    }
    await client.append(onBeta, [{ type: 'Z', data: 3 }]);
    const all = await client.readAll();
    expect(all.map((e) => e.data).sort()).toEqual([10, 11, 20, 21, 3].sort());
    const rest = async (position: string): Promise<unknown[]> => (await client.readAll({ from: position })).map((e) => e.data);
    for (const [i, event] of all.entries()) expect(await rest(event.position)).toEqual(all.slice(i + 1).map((e) => e.data));
    // An older client wrote beta's epoch as 0 in those positions: they resume as they stand.
    const legacy = all[all.length - 1]!.position.replace(/,1\.\d+\./, ',1.0.');
    expect(legacy).not.toBe(all[all.length - 1]!.position);
    expect(await rest(legacy)).toEqual([]);
    for (const [i, event] of (await readInPages(client, 1)).entries()) expect(await rest(event.position)).toEqual(all.slice(i + 1).map((e) => e.data));
    // A subscription interleaves the stripes as they come: what follows an event is what it had not delivered yet.
    const delivered = await subscribed;
    const sorted = (list: unknown[]): unknown[] => [...list].sort();
    for (const [i, event] of delivered.entries()) expect(sorted(await rest(event.position))).toEqual(sorted(delivered.slice(i + 1).map((e) => e.data)));
    expect(await rest((await filtered)[0]!.position)).toEqual([]);
    checkpoints.unsubscribe();
    expect(all.map((e) => e.data)).toEqual(expect.arrayContaining(await rest(checkpoint!)));
    // One stripe's log by LSN: a page that meets only a prepare is not taken for its end.
    expect((await client.readAll({ stripe: 'beta', maxCount: 1 })).map((e) => e.data)).toEqual([11]);
    const backward: unknown[] = [];
    for await (const event of client.readAllStream({ stripe: 'beta', direction: 'backward', pageSize: 1 })) backward.push(event.data);
    expect(backward).toEqual([3, 21, 11]);
  });

  it('takes an unsubscribe sent right behind its subscribe of the log: no event reaches a subscription ended', async () => {
    // Checking a subscription's start against the read barrier must not let its unsubscribe, read in the same batch, run first.
    lone = await createServer({ store: memoryStore(), transports: [tcpTransport()], listen: ['tcp://127.0.0.1:0'] });
    const writer = await open(lone.urls[0]!);
    await writer.append('before', [{ type: 'E', data: 0 }]);
    const connection = await tcpTransport().dial(lone.urls[0]!, defaultConnectionLimits);
    const frames = connection[Symbol.asyncIterator]();
    const seen: unknown[][] = [];
    const until = async (done: (frame: unknown[]) => boolean): Promise<void> => {
      for (;;) {
        const next = await frames.next();
        if (next.done) throw new Error('the server closed the connection');
        const frame = decode(next.value) as unknown[];
        seen.push(frame);
        if (done(frame)) return;
      }
    };
    connection.send(HELLO);
    await until((frame) => frame[0] === 2);
    // One write: subscribe to the log from LSN 1 (subscription 7), then unsubscribe it.
    connection.send(encode([1, 1, 'subscribe', [7, null, 1]]));
    connection.send(encode([1, 2, 'unsubscribe', 7]));
    await until((frame) => frame[0] === 3 && frame[1] === 2);
    await writer.append('after', [{ type: 'E', data: 1 }]);
    connection.send(encode([1, 3, 'readAll', [1, 'forward', 10]]));
    await until((frame) => frame[0] === 3 && frame[1] === 3);
    connection.close('test done');
    // The events of LSN 1 may have gone out before the unsubscribe; nothing of LSN 2 may.
    const delivered = seen.filter((frame) => frame[0] === 5 && frame[1] === 7).flatMap((frame) => frame[2] as unknown[][]);
    expect(delivered.map((slice) => slice[0])).not.toContain(2);
  });

  it("gives a single server's events positions that resume reads and subscriptions", async () => {
    lone = await createServer({ store: memoryStore(), transports: [tcpTransport()], listen: ['tcp://127.0.0.1:0'] });
    const client = await open(lone.urls[0]!);
    await client.transact([
      { stream: 'a', events: [{ type: 'E', data: 1 }, { type: 'E', data: 2 }] },
      { stream: 'b', events: [{ type: 'E', data: 3 }] },
    ]);
    await client.append('a', [{ type: 'E', data: 4 }]);
    const all = await client.readAll();
    expect(all.map((e) => e.data)).toEqual([1, 2, 3, 4]);
    for (const [i, event] of all.entries()) {
      expect((await client.readAll({ from: event.position })).map((e) => e.data)).toEqual(all.slice(i + 1).map((e) => e.data));
    }
    // From the middle of the first transaction: the rest of it, then what follows.
    const resumed = firstValueFrom(client.subscribeAll({ from: all[0]!.position }).pipe(take(4), toArray()));
    await client.append('c', [{ type: 'E', data: 5 }]);
    expect((await resumed).map((e) => e.data)).toEqual([2, 3, 4, 5]);
    expect((await client.readAll({ fromLsn: 2 })).map((e) => e.data)).toEqual([4, 5]);
    await expect(client.readAll({ fromLsn: 5 })).rejects.toMatchObject({ name: 'PositionAheadError', fromLsn: 5, committedLsn: 3 });
  });
});
