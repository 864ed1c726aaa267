// Transactions over several stripes (two-phase commit over the stripes' logs, presumed abort),
// each stripe one standalone server over TCP: all parts or none, a no vote anywhere writes
// nothing, a held stream refuses others at once (StreamBusyError), a read of a participant's
// stream never sees it without the coordinator's part, and a resend gets the original result.
import { decodeRecord, Decision, RecordKind, StreamBusyError, WrongExpectedVersionError, type Store } from '@kiln/core';
import { connect, type KilnClient } from '@kiln/core/client';
import { memoryStore } from '@kiln/store-memory';
import { tcpTransport } from '@kiln/transport-tcp';
import { firstValueFrom, take, toArray } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { startStripes, streamsByStripe, type Stripes } from './support/stripes.js';

let stripes: Stripes | undefined;
const clients: KilnClient[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) await client.close();
  await stripes?.close();
  stripes = undefined;
});

async function open(url: string, options: { busyRetries?: number } = {}): Promise<KilnClient> {
  const client = await connect(url, { transports: [tcpTransport()], reconnectWindowMs: 2000, requestTimeoutMs: 10_000, ...options });
  clients.push(client);
  return client;
}

/** Every record of a store, decoded. */
async function recordsIn(store: Store) {
  const records = await store.read(1, { direction: 'forward', maxCount: 10_000, maxBytes: 64 << 20 });
  return records.map(({ lsn, bytes }) => decodeRecord(bytes, lsn));
}

describe('a transaction over several stripes', () => {
  it('commits every part or none, and a resend gets the original result', async () => {
    const stores = [memoryStore(), memoryStore(), memoryStore()];
    stripes = await startStripes(3, stores.map((s) => () => s));
    const client = await open(stripes.urls[2]!);
    const [[a], [b], [c]] = streamsByStripe(stripes.layout, 'acct') as [[string], [string], [string]];
    await client.append(b, [{ type: 'Opened', data: 100 }]);

    const result = await client.transact([
      { stream: c, events: [{ type: 'Credited', data: 10 }] },
      { stream: b, events: [{ type: 'Debited', data: 10 }], expectedVersion: 0 },
      { stream: a, expectedVersion: 'no-stream' },
    ]);
    expect(result.streams).toEqual([
      { stream: c, firstVersion: 0, eventCount: 1 },
      { stream: b, firstVersion: 1, eventCount: 1 },
    ]);
    expect((await client.read(b)).map((e) => e.type)).toEqual(['Opened', 'Debited']);
    expect((await client.read(c)).map((e) => e.type)).toEqual(['Credited']);
    // The coordinator (alpha, the lowest) wrote one decide; each other participant a prepare and an outcome.
    const [alpha, beta, gamma] = await Promise.all(stores.map(recordsIn));
    expect(alpha!.map((r) => [r.kind, r.txn?.decision])).toEqual([[RecordKind.Decide, Decision.Commit]]);
    expect(alpha![0]!.txn!.participants).toEqual([0, 1, 2]);
    for (const log of [beta!.slice(1), gamma!]) expect(log.map((r) => r.kind)).toEqual([RecordKind.Prepare, RecordKind.Outcome]);
    expect(gamma![1]!.txn).toMatchObject({ decision: Decision.Commit, prepareLsn: gamma![0]!.lsn });
    // The merged $all shows each part once, the prepares never; the parts name their transaction and its stripe count.
    const all = await client.readAll();
    expect(all.map((e) => e.type).sort()).toEqual(['Credited', 'Debited', 'Opened']);
    const parts = all.filter((e) => e.transaction !== undefined);
    expect(parts.map((e) => e.type).sort()).toEqual(['Credited', 'Debited']);
    expect(new Set(parts.map((e) => e.transaction!.id))).toEqual(new Set([alpha![0]!.txn!.id]));
    expect(parts.every((e) => e.transaction!.stripes === 3)).toBe(true);
    expect(all.find((e) => e.type === 'Opened')!.transaction).toBeUndefined();
    const delivered = await firstValueFrom(client.subscribeAll().pipe(take(3), toArray()));
    expect(delivered.filter((e) => e.transaction?.id === alpha![0]!.txn!.id)).toHaveLength(2);
  });

  it('writes nothing anywhere when a participant votes no', async () => {
    stripes = await startStripes(2);
    const client = await open(stripes.urls[0]!);
    const [[a], [b]] = streamsByStripe(stripes.layout, 'no') as [[string], [string]];
    await client.append(b, [{ type: 'Opened', data: 1 }]);
    const attempt = client.transact([
      { stream: a, events: [{ type: 'X', data: 1 }] },
      { stream: b, events: [{ type: 'X', data: 1 }], expectedVersion: 'no-stream' },
    ]);
    await expect(attempt).rejects.toBeInstanceOf(WrongExpectedVersionError);
    expect(await client.read(a)).toEqual([]);
    expect((await client.read(b)).map((e) => e.type)).toEqual(['Opened']);
    // Both streams are free again: the same transaction with the right version commits.
    await client.transact([
      { stream: a, events: [{ type: 'X', data: 2 }] },
      { stream: b, events: [{ type: 'X', data: 2 }], expectedVersion: 0 },
    ]);
    expect((await client.read(a)).map((e) => e.data)).toEqual([2]);
    expect((await client.read(b)).map((e) => e.data)).toEqual([1, 2]);
  });

  it("ends the parts prepared in a read of a stripe's $all before it answers", async () => {
    const stores = [memoryStore(), memoryStore()];
    stripes = await startStripes(2, stores.map((s) => () => s));
    const [[a], [b]] = streamsByStripe(stripes.layout, 'all') as [[string], [string]];
    const raw = await open(stripes.urls[1]!);
    // Beta prepares a part whose coordinator, alpha, never decided it: asked, alpha says abort.
    await (raw as unknown as { router: { request(stripe: number, op: string, args: unknown): Promise<unknown> } }).router.request(1, 'prepare', {
      txnId: 'ghost#1/9.1',
      coordinator: 0,
      participants: [0, 1],
      part: { clientId: 'ghost', seq: 1, appends: [{ stream: b, expectedVersion: 'any' }] },
    });
    // Well before beta's own resolver would ask (TXN_RESOLVE_AFTER_MS), a read of its $all asks first.
    expect(await raw.readAll({ stripe: stripes.layout.stripes[1]!.name })).toEqual([]);
    const beta = await recordsIn(stores[1]!);
    expect(beta.map((r) => [r.kind, r.txn?.decision])).toEqual([
      [RecordKind.Prepare, Decision.None],
      [RecordKind.Outcome, Decision.Abort],
    ]);
    // And the stream is free again, at once.
    const impatient = await open(stripes.urls[1]!, { busyRetries: 0 });
    await impatient.transact([{ stream: a, events: [{ type: 'X', data: 1 }] }, { stream: b, events: [{ type: 'X', data: 1 }] }]);
  });

  it('refuses a stream held by a transaction still deciding with StreamBusyError, at once', async () => {
    stripes = await startStripes(2);
    const [[a], [b, other]] = streamsByStripe(stripes.layout, 'busy', 2) as [[string], [string, string]];
    // Beta's server holds b for a transaction that will never hear from its coordinator.
    const raw = await open(stripes.urls[1]!);
    const impatient = await open(stripes.urls[0]!, { busyRetries: 0 });
    const prepared = (raw as unknown as { router: { request(stripe: number, op: string, args: unknown): Promise<unknown> } }).router.request(1, 'prepare', {
      txnId: 'ghost#1/9.1',
      coordinator: 0,
      participants: [0, 1],
      part: { clientId: 'ghost', seq: 1, appends: [{ stream: b, expectedVersion: 'any' }] },
    });
    await prepared;
    await impatient.read(other); // dials beta: what follows is the refusal alone
    // Its coordinator, alpha, is gone: nobody can say what became of ghost, and b stays held.
    await stripes.stop(0);
    const started = Date.now();
    await expect(impatient.append(b, [{ type: 'Y', data: 1 }])).rejects.toBeInstanceOf(StreamBusyError);
    console.log(`busy after ${Date.now() - started} ms`);
    await expect(impatient.append(b, [{ type: 'Y', data: 1 }])).rejects.toMatchObject({ stream: b, txnId: 'ghost#1/9.1' });
    expect(Date.now() - started, 'refused at once, not after a wait').toBeLessThan(400);
    // Alpha is back, and never decided ghost: asked, it says abort, and b is free again. A client that retries gets through.
    await stripes.start(0);
    const patient = await open(stripes.urls[0]!);
    await patient.transact([
      { stream: a, events: [{ type: 'Z', data: 1 }] },
      { stream: b, events: [{ type: 'Z', data: 1 }] },
    ]);
    expect((await patient.read(b)).map((e) => e.type)).toEqual(['Z']);
  });
});
