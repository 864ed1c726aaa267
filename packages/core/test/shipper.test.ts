// The active's shipper to one mirror: it starts at the log's end, walks back to where the
// mirror's log ends or differs, ships from there, and caps what it sends to a mirror catching up.
import { memoryStore } from '@kiln/store-memory';
import { describe, expect, it } from 'vitest';
import { Committer } from '../src/commit/committer.js';
import { APPEND_FRAME_HEADROOM_BYTES, defaultConnectionLimits, defaultLogLimits } from '../src/limits.js';
import { encodeEvents } from '../src/log/events.js';
import { indexRecord } from '../src/log/record.js';
import type { PeerSender } from '../src/replication/outbox.js';
import { encodeAppendFrame } from '../src/replication/append-frame.js';
import type { AppendMessage, OutgoingPeerMessage } from '../src/replication/peer-protocol.js';
import { RecentRecords, Shipper, type ShipperContext } from '../src/replication/shipper.js';
import { checkedStore, type CheckedStore } from '../src/store/checked-store.js';
import { systemClock, systemTimers } from '../src/time.js';

/** An append as the shipper hands it to the network, which stamps the stripe. */
type Sent = Omit<AppendMessage, 'stripe'>;

/** A store holding `counts[i]` records written in term i + 1, each with one event of `dataBytes` bytes. */
async function logWith(counts: number[], dataBytes = 8): Promise<CheckedStore> {
  const store = checkedStore(memoryStore(), defaultLogLimits);
  await store.open();
  let seq = 0;
  for (const [i, count] of counts.entries()) {
    const committer = new Committer({ store, limits: defaultLogLimits, clock: systemClock, timers: systemTimers, term: i + 1, onCommitted: () => {}, onFailed: () => {} });
    const events = encodeEvents([{ type: 't', data: 'x'.repeat(dataBytes) }], () => 'id');
    await Promise.all(Array.from({ length: count }, () => committer.transact({ clientId: 'c', seq: ++seq, appends: [{ stream: 's', expectedVersion: 'any', events }] })));
  }
  return store;
}

interface Mirror {
  shipper: Shipper;
  sent: Sent[];
  /** Store read failures the shipper reported. */
  readFailures: unknown[];
  setInSync(value: boolean): void;
  /** Sets the monotonic clock the shipper reads, ms. */
  setNow(ms: number): void;
  reads: () => number;
}

function shipTo(store: CheckedStore, recent = new RecentRecords(16, 1 << 20)): Mirror {
  const sent: Sent[] = [];
  const readFailures: unknown[] = [];
  let inSync = false;
  let nowMs = 0;
  let reads = 0;
  const read = store.read.bind(store);
  store.read = (lsn, options) => {
    reads++;
    return read(lsn, options);
  };
  const network: PeerSender = {
    send: (_to: string, message: OutgoingPeerMessage) => (message.kind === 'append' ? sent.push(message) > 0 : true),
    broadcast: () => {},
    canSend: () => true,
    writeNow: () => {},
  };
  const context: ShipperContext = {
    self: 'a',
    term: 9,
    network,
    store,
    recent,
    limits: defaultLogLimits,
    recordsBytesMax: defaultConnectionLimits.frameBytesMax - APPEND_FRAME_HEADROOM_BYTES,
    shippableLsn: () => store.lastPosition.lsn,
    commitIndex: () => 0,
    termStartLsn: () => 0,
    inSync: () => inSync,
    now: () => nowMs,
    askedAtMs: () => 0,
    onReadFailed: (error) => readFailures.push(error),
  };
  return { shipper: new Shipper('m', context, store.lastPosition), sent, readFailures, setInSync: (value) => (inSync = value), setNow: (ms) => (nowMs = ms), reads: () => reads };
}

const ack = (lastLsn: number, matched: boolean) => ({ kind: 'ack' as const, stripe: 0, term: 9, from: 'm', lastLsn, matched });
const lsnsOf = (message: Sent): [number, number] => [message.prevLsn + 1, message.prevLsn + message.records.length];

describe('Shipper', () => {
  // A mirror whose disk filled refuses every append and still answers heartbeats (a mismatch, or a
  // match at its old LSN): counted as an answer, it stayed in the in-sync set and commits waited on
  // it for good. Only taking records, or holding all shipped, counts as keeping up.
  it('counts a mirror that answers without taking the records shipped as not keeping up', async () => {
    const m = shipTo(await logWith([3]));
    m.setNow(100);
    m.shipper.onMatched(ack(1, true));
    expect(m.shipper.lastProgressMs).toBe(100);
    for (const nowMs of [2000, 4000]) {
      m.setNow(nowMs);
      await m.shipper.onAck(ack(1, false));
      await m.shipper.pump();
      m.shipper.onMatched(ack(1, true));
    }
    expect(m.sent.length).toBeGreaterThan(0);
    expect(m.shipper.lastProgressMs).toBe(100);
    m.setNow(5000);
    m.shipper.onMatched(ack(3, true));
    expect(m.shipper.lastProgressMs).toBe(5000);
    // Holding everything shipped is keeping up, with nothing new to take.
    m.setNow(6000);
    m.shipper.onMatched(ack(3, true));
    expect(m.shipper.lastProgressMs).toBe(6000);
  });

  it('starts at the log end and walks back to where the mirror log ends, then ships from there with the right previous term', async () => {
    const store = await logWith([5, 5]); // LSN 1-5 in term 1, 6-10 in term 2
    const { shipper, sent, setInSync } = shipTo(store);
    setInSync(true);
    await shipper.pump();
    expect(sent).toEqual([]); // nothing past the end yet
    shipper.heartbeat();
    expect(sent[0]).toMatchObject({ prevLsn: 10, prevTerm: 2, records: [] });
    await shipper.onAck(ack(3, false)); // the mirror holds LSN 1-3
    await shipper.pump();
    expect(sent[1]).toMatchObject({ prevLsn: 3, prevTerm: 1 });
    expect(lsnsOf(sent[1]!)).toEqual([4, 10]);
    await shipper.onAck(ack(10, true));
    expect(shipper.ackedLsn).toBe(10);
  });

  it('says when the mirror holds all it was shipped (the active then writes the next append at once), and not while one is in flight', async () => {
    const store = await logWith([7]);
    const { shipper, sent, setInSync } = shipTo(store);
    setInSync(true);
    expect(shipper.allAcknowledged).toBe(false); // a new shipper does not know what the mirror holds
    await shipper.onAck(ack(7, true));
    expect(shipper.allAcknowledged).toBe(true);
    await shipper.onAck(ack(5, false)); // the mirror lost LSN 6-7: they are due again
    expect(shipper.allAcknowledged).toBe(true);
    await shipper.pump();
    expect(lsnsOf(sent.at(-1)!)).toEqual([6, 7]);
    expect(shipper.allAcknowledged).toBe(false);
    await shipper.onAck(ack(7, true));
    expect(shipper.allAcknowledged).toBe(true);
  });

  it('walks back one record per mismatch to the common prefix of a diverged mirror, lowering what it counts as acknowledged', async () => {
    const store = await logWith([4, 4]);
    const { shipper, sent, setInSync } = shipTo(store);
    setInSync(true);
    await shipper.onAck(ack(8, true));
    expect(shipper.ackedLsn).toBe(8);
    // The mirror's LSN 6-8 came from another active: each append's previous term differs.
    for (const mirrorSays of [7, 6, 5]) await shipper.onAck(ack(mirrorSays, false));
    expect(shipper.ackedLsn).toBe(5);
    await shipper.pump();
    expect(sent.at(-1)).toMatchObject({ prevLsn: 5, prevTerm: 2 });
    expect(lsnsOf(sent.at(-1)!)).toEqual([6, 8]);
  });

  it('ships a record of nearly a frame in an append of its own, never one over frameBytesMax', async () => {
    // Reads stop past their byte bound, not before it: 900 kB of records, then one of 3.9 MB, went
    // in one append of 4.8 MB that could never be sent, and the mirror got nothing after it.
    const store = await logWith([1], 900_000);
    const committer = new Committer({ store, limits: defaultLogLimits, clock: systemClock, timers: systemTimers, term: 1, onCommitted: () => {}, onFailed: () => {} });
    const events = encodeEvents([{ type: 't', data: 'x'.repeat(3_900_000) }], () => 'id');
    await committer.transact({ clientId: 'c', seq: 2, appends: [{ stream: 's', expectedVersion: 'any', events }] });
    const { shipper, sent, setInSync } = shipTo(store);
    setInSync(true);
    await shipper.onAck(ack(0, false));
    await shipper.pump();
    expect(sent.map(lsnsOf)).toEqual([
      [1, 1],
      [2, 2],
    ]);
    for (const message of sent) expect(encodeAppendFrame({ ...message, stripe: 0 }).length).toBeLessThanOrEqual(defaultConnectionLimits.frameBytesMax);
  });

  it('catches up an empty mirror from LSN 1, one append of at most 1,024 records in flight', async () => {
    const store = await logWith([1500]);
    const { shipper, sent } = shipTo(store);
    await shipper.onAck(ack(0, false));
    await shipper.pump();
    expect(sent.map(lsnsOf)).toEqual([[1, 1024]]);
    await shipper.pump(); // still one in flight: nothing more
    expect(sent).toHaveLength(1);
    await shipper.onAck(ack(1024, true));
    await shipper.pump();
    expect(sent.map(lsnsOf)).toEqual([
      [1, 1024],
      [1025, 1500],
    ]);
  });

  it('caps a catch-up append at the record that reaches 256 KiB, and ships more at once to an in-sync mirror', async () => {
    const store = await logWith([600], 2000);
    const { shipper, sent, setInSync } = shipTo(store);
    await shipper.onAck(ack(0, false));
    await shipper.pump();
    expect(sent).toHaveLength(1);
    // Like a store read, the cap is reached, not kept under: the record that reaches it goes too.
    const bytes = sent[0]!.records.reduce((sum, r) => sum + r.length, 0);
    expect(bytes - sent[0]!.records.at(-1)!.length).toBeLessThan(256 * 1024);
    expect(bytes).toBeGreaterThanOrEqual(256 * 1024);
    expect(sent[0]!.records.length).toBeGreaterThan(100);
    expect(sent[0]!.records.length).toBeLessThan(600);
    setInSync(true);
    await shipper.pump(); // in sync: no one-append window, no catch-up cap
    expect(sent.at(-1)!.prevLsn + sent.at(-1)!.records.length).toBe(600);
  });

  it('ships recent records from memory, without reading the store', async () => {
    const store = await logWith([6]);
    const recent = new RecentRecords(16, 1 << 20);
    const records = (await store.read(1, { direction: 'forward', maxCount: 10, maxBytes: 1 << 20 })).map((r) => indexRecord(r.bytes, r.lsn));
    const { shipper, sent, setInSync, reads } = shipTo(store, recent);
    recent.add(records);
    setInSync(true);
    await shipper.onAck(ack(2, false));
    await shipper.pump();
    expect(lsnsOf(sent[0]!)).toEqual([3, 6]);
    expect(sent[0]!.records).toEqual(records.slice(2).map((r) => r.bytes));
    expect(reads()).toBe(0);
  });

  it('keeps at most its byte bound of recent records past the group commit being written, forgetting the oldest, which it then ships from the store', async () => {
    const store = await logWith([11], 1000);
    const records = (await store.read(1, { direction: 'forward', maxCount: 11, maxBytes: 1 << 20 })).map((r) => indexRecord(r.bytes, r.lsn));
    const recordBytes = records[0]!.bytes.length;
    const recent = new RecentRecords(16, 4 * recordBytes);
    const held = () => records.filter((r) => recent.get(r.lsn) !== undefined).map((r) => r.lsn);
    recent.add(records.slice(0, 3));
    recent.add(records.slice(3, 6));
    expect(held()).toEqual([3, 4, 5, 6]);
    // A group commit over the bound stays whole: the store does not hold it yet.
    recent.add(records.slice(6, 11));
    expect(held()).toEqual([7, 8, 9, 10, 11]);

    const { shipper, sent, setInSync, reads } = shipTo(store, recent);
    setInSync(true);
    await shipper.onAck(ack(4, false));
    await shipper.pump();
    expect(reads()).toBeGreaterThan(0);
    expect(sent.flatMap((m) => m.records)).toEqual(records.slice(4).map((r) => r.bytes));
  });

  it('forgets the records every mirror acknowledged, keeps the later ones, and ships forgotten ones again from the store', async () => {
    const store = await logWith([8]);
    const records = (await store.read(1, { direction: 'forward', maxCount: 8, maxBytes: 1 << 20 })).map((r) => indexRecord(r.bytes, r.lsn));
    const recent = new RecentRecords(16, 1 << 20);
    const held = () => records.filter((r) => recent.get(r.lsn) !== undefined).map((r) => r.lsn);
    recent.add(records.slice(0, 6));
    recent.forgetThrough(4);
    expect(held()).toEqual([5, 6]);
    recent.forgetThrough(2); // behind what is already forgotten: nothing changes
    expect(held()).toEqual([5, 6]);
    recent.add(records.slice(6));
    expect(held()).toEqual([5, 6, 7, 8]);

    const { shipper, sent, setInSync, reads } = shipTo(store, recent);
    setInSync(true);
    await shipper.onAck(ack(2, false)); // a mirror that lost what it acknowledged
    await shipper.pump();
    expect(reads()).toBeGreaterThan(0);
    expect(sent.flatMap((m) => m.records)).toEqual(records.slice(2).map((r) => r.bytes));
  });

  it('stops quietly when the store closes under a pump, and reports any other read failure', async () => {
    const store = await logWith([10]);
    const { shipper, sent, readFailures } = shipTo(store);
    await shipper.onAck(ack(0, false));
    const read = store.read.bind(store);
    store.read = async (lsn, options) => {
      await store.close(); // the server shuts down while the pump reads
      return read(lsn, options);
    };
    await expect(shipper.pump()).resolves.toBeUndefined();
    expect(sent).toHaveLength(0);
    expect(readFailures).toEqual([]);

    const failing = await logWith([10]);
    const second = shipTo(failing);
    await second.shipper.onAck(ack(0, false));
    const broken = new Error('disk read failed');
    failing.read = () => Promise.reject(broken);
    await expect(second.shipper.pump()).resolves.toBeUndefined();
    expect(second.readFailures).toEqual([broken]);
  });
});
