// The committer, the log's one writer: group commits, expected versions checked against pending
// heads in arrival order, resends answered from the de-duplication table, and a failed store write
// failing everything.
import { memoryStore } from '@kiln/store-memory';
import { describe, expect, it } from 'vitest';
import { Committer, type CommitterOptions } from '../src/commit/committer.js';
import { NotActiveError } from '../src/errors.js';
import { defaultLogLimits, type LogLimits } from '../src/limits.js';
import { encodeEvents, type ExpectedVersion } from '../src/log/events.js';
import { Decision, RecordKind, type LogRecord } from '../src/log/record.js';
import type { TransactionRequest } from '../src/protocol/messages.js';
import { checkedStore, type CheckedStore } from '../src/store/checked-store.js';
import { systemClock, systemTimers } from '../src/time.js';

interface Harness {
  committer: Committer;
  store: CheckedStore;
  /** Each store write, as the number of records it held. */
  writes: number[];
  committed: LogRecord[];
  failures: unknown[];
}

async function harness(options: Partial<CommitterOptions> = {}, limits: Partial<LogLimits> = {}): Promise<Harness> {
  const logLimits = { ...defaultLogLimits, ...limits };
  const store = checkedStore(memoryStore(), logLimits);
  await store.open();
  const writes: number[] = [];
  const append = store.append.bind(store);
  store.append = (records) => {
    writes.push(records.length);
    return append(records);
  };
  const committed: LogRecord[] = [];
  const failures: unknown[] = [];
  const committer = new Committer({
    store,
    limits: logLimits,
    clock: systemClock,
    timers: systemTimers,
    term: 1,
    onCommitted: (records) => committed.push(...records),
    onFailed: (error) => failures.push(error),
    ...options,
  });
  await committer.recover();
  return { committer, store, writes, committed, failures };
}

/** Events whose ids name the transaction, so a resend carries the same bytes as the original. */
const events = (tag: string, count: number): Uint8Array => {
  let i = 0;
  return encodeEvents(Array.from({ length: count }, (_, n) => ({ type: 't', data: n })), () => `${tag}/${i++}`);
};
const tx = (clientId: string, n: number, stream: string, expectedVersion: ExpectedVersion = 'any', count = 1): TransactionRequest => ({
  clientId,
  seq: n,
  appends: [{ stream, expectedVersion, events: events(`${clientId}#${n}`, count) }],
});

describe('Committer', () => {
  it('writes the transactions of one turn in one group commit, in arrival order', async () => {
    const { committer, writes, committed } = await harness();
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => committer.transact(tx('c', i + 1, `s${i % 3}`))));
    expect(writes).toEqual([20]);
    expect(results.map((r) => r.lsn)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(committed.map((r) => r.lsn)).toEqual(results.map((r) => r.lsn));
    expect(committer.commitIndex).toBe(20);
  });

  it('splits a group commit at groupCommitRecordsMax', async () => {
    const { committer, writes } = await harness({}, { groupCommitRecordsMax: 4 });
    await Promise.all(Array.from({ length: 10 }, (_, i) => committer.transact(tx('c', i + 1, 's'))));
    expect(writes).toEqual([4, 4, 2]);
  });

  it('checks expected versions against pending heads: a pipelined writer sees its own appends', async () => {
    const { committer, store } = await harness();
    const first = committer.transact(tx('c', 1, 's', 'no-stream', 2)); // versions 0-1
    const second = committer.transact(tx('c', 2, 's', 1)); // version 2: after the pending first
    const stale = committer.transact(tx('c', 3, 's', 'no-stream'));
    const exists = committer.transact(tx('c', 4, 's', 'exists'));
    await expect(stale).rejects.toMatchObject({ name: 'WrongExpectedVersionError', stream: 's', expected: 'no-stream', actual: 2 });
    expect(await first).toEqual({ lsn: 1, streams: [{ stream: 's', firstVersion: 0, eventCount: 2 }] });
    expect(await second).toEqual({ lsn: 2, streams: [{ stream: 's', firstVersion: 2, eventCount: 1 }] });
    expect((await exists).lsn).toBe(3);
    // The refused transaction took no LSN and wrote nothing.
    expect(store.lastPosition.lsn).toBe(3);
  });

  it('with a stream head cache far smaller than the streams written, hands out every version once, in flight or reloaded', async () => {
    const { committer, store } = await harness({}, { streamHeadCacheMax: 3 });
    // Rounds of pipelined appends over 10 streams, each expecting the exact version before it: a
    // head evicted while its write is in flight would be reloaded from the store and reused.
    let seq = 0;
    for (let round = 0; round < 4; round++) {
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => [committer.transact(tx('c', ++seq, `s${i}`, round === 0 ? 'no-stream' : round * 2 - 1, 1)), committer.transact(tx('c', ++seq, `s${i}`, round * 2, 1))]).flat());
      expect(results.map((r) => r.streams[0]!.firstVersion)).toEqual(Array.from({ length: 10 }, () => [round * 2, round * 2 + 1]).flat());
    }
    // A hot stream touched between loads of others stays correct too.
    for (let i = 0; i < 10; i++) {
      await committer.transact(tx('c', ++seq, 'hot', i === 0 ? 'no-stream' : i - 1));
      await committer.transact(tx('c', ++seq, `cold${i}`, 'no-stream'));
    }
    expect(await store.streamHead('hot')).toMatchObject({ firstVersion: 9 });
  });

  it('checks expected versions against the store for a stream not cached, then against committed heads', async () => {
    const { store } = await harness();
    const first = new Committer({ store, limits: defaultLogLimits, clock: systemClock, timers: systemTimers, term: 1, onCommitted: () => {}, onFailed: () => {} });
    await first.transact(tx('a', 1, 'old', 'no-stream', 3));
    // A fresh committer (a new active) knows the head only from the store's index.
    const committer = new Committer({ store, limits: defaultLogLimits, clock: systemClock, timers: systemTimers, term: 2, onCommitted: () => {}, onFailed: () => {} });
    await committer.recover();
    await expect(committer.transact(tx('b', 1, 'old', 1))).rejects.toMatchObject({ name: 'WrongExpectedVersionError', actual: 2 });
    expect(await committer.transact(tx('b', 2, 'old', 2))).toMatchObject({ lsn: 2, streams: [{ firstVersion: 3 }] });
  });

  it('answers a resend with the original result: in flight it joins it, committed it comes from the table, across a restart too', async () => {
    const { committer, store, writes } = await harness();
    // A resend carries the same events as the original (a different one is SequenceReusedError).
    const request = tx('c', 1, 's');
    const original = committer.transact(request);
    const joined = committer.transact(request);
    expect(await joined).toEqual(await original);
    expect(await committer.transact(request)).toEqual(await original);
    expect(writes).toEqual([1]);
    // A new committer over the same log rebuilds the table from it.
    const next = new Committer({ store, limits: defaultLogLimits, clock: systemClock, timers: systemTimers, term: 2, onCommitted: () => {}, onFailed: () => {} });
    await next.recover();
    expect(await next.transact(request)).toEqual(await original);
    expect(store.lastPosition.lsn).toBe(1);
  });

  it('refuses another transaction under a taken (clientId, seq), in flight, committed and after a restart, writing nothing', async () => {
    const { committer, store } = await harness();
    const request = tx('c', 1, 's');
    const other = { ...tx('c', 1, 's'), appends: [{ stream: 'payments', expectedVersion: 'any' as const, events: request.appends[0]!.events! }] };
    const original = committer.transact(request);
    await expect(committer.transact(other)).rejects.toMatchObject({ name: 'SequenceReusedError' });
    await original;
    await expect(committer.transact(tx('c', 1, 's', 'any', 2))).rejects.toMatchObject({ name: 'SequenceReusedError' }); // same stream, other events
    await expect(committer.transact(other)).rejects.toMatchObject({ name: 'SequenceReusedError' });
    const next = new Committer({ store, limits: defaultLogLimits, clock: systemClock, timers: systemTimers, term: 2, onCommitted: () => {}, onFailed: () => {} });
    await next.recover();
    await expect(next.transact(other)).rejects.toMatchObject({ name: 'SequenceReusedError' });
    expect(await next.transact(request)).toEqual(await original);
    expect(store.lastPosition.lsn).toBe(1);
  });

  it('compares a resend with its original at every stage in flight: queued, being written, written and not yet committed', async () => {
    const { committer, store, writes } = await harness({ onWritten: () => {}, commitIndex: 0 });
    // Each store write waits until the test lets it through.
    const held: Array<() => void> = [];
    const append = store.append.bind(store);
    store.append = (records) => new Promise<void>((resolve) => held.push(resolve)).then(() => append(records));
    const until = async (condition: () => boolean): Promise<void> => {
      const deadline = Date.now() + 5000;
      while (!condition()) {
        if (Date.now() > deadline) throw new Error('timed out waiting for the committer');
        await new Promise((resolve) => setImmediate(resolve));
      }
    };
    const first = tx('c', 1, 's');
    const second = tx('c', 2, 's');
    const otherWrites = (request: TransactionRequest): TransactionRequest => ({ ...request, appends: [{ stream: 's', expectedVersion: 'any', events: events('other', 1) }] });
    const firstResult = committer.transact(first);
    await until(() => held.length === 1); // the first is being written
    const secondResult = committer.transact(second); // queued behind it
    const joinedWhileWritten = committer.transact(first);
    await expect(committer.transact(otherWrites(first))).rejects.toMatchObject({ name: 'SequenceReusedError' });
    const joinedWhileQueued = committer.transact(second);
    await expect(committer.transact(otherWrites(second))).rejects.toMatchObject({ name: 'SequenceReusedError' });
    held[0]!();
    await until(() => held.length === 2); // the first awaits the commit index, the second is being written
    const joinedWhileUncommitted = committer.transact(first);
    await expect(committer.transact(otherWrites(first))).rejects.toMatchObject({ name: 'SequenceReusedError' });
    held[1]!();
    await until(() => committer.lastWrittenLsn === 2);
    committer.commitThrough(2);
    expect(await joinedWhileWritten).toEqual(await firstResult);
    expect(await joinedWhileUncommitted).toEqual(await firstResult);
    expect(await joinedWhileQueued).toEqual(await secondResult);
    expect(writes).toEqual([1, 1]);
    expect(committer.pendingCount).toBe(0);
  });

  it('refuses a sequence number older than the de-duplication window', async () => {
    const { committer } = await harness({}, { dedupWindow: 4 });
    const requests = Array.from({ length: 10 }, (_, i) => tx('c', i + 1, 's'));
    for (const request of requests) await committer.transact(request);
    await expect(committer.transact(requests[1]!)).rejects.toMatchObject({ name: 'SequenceExpiredError' });
    expect((await committer.transact(requests[8]!)).lsn).toBe(9);
  });

  it('refuses a malformed transaction before it takes an LSN', async () => {
    const { committer, store } = await harness();
    await expect(committer.transact({ clientId: 'c', seq: 1, appends: [{ stream: 's', expectedVersion: 'any' }] })).rejects.toMatchObject({ name: 'InvalidArgumentError' });
    await expect(committer.transact({ clientId: 'c', seq: 2, appends: [...tx('c', 2, 's').appends, ...tx('c', 2, 's').appends] })).rejects.toMatchObject({
      name: 'InvalidArgumentError',
    });
    expect(store.lastPosition.lsn).toBe(0);
  });

  it('refuses a record over recordBytesMax before it takes an LSN or a version, and a prepare that leaves its outcome no room', async () => {
    // One that fits a client's frame but not an append frame beside its header was written, and a
    // stripe with mirrors committed nothing after it: the active could never ship it.
    const { committer, store } = await harness({ recordBytesMax: 4_000 });
    const big = (seq: number, bytes: number): TransactionRequest => ({ clientId: 'c', seq, appends: [{ stream: 's', expectedVersion: 'no-stream', events: encodeEvents([{ type: 't', data: 'x'.repeat(bytes) }], () => `e${seq}`) }] });
    await expect(committer.transact(big(1, 4_000))).rejects.toMatchObject({ name: 'InvalidArgumentError', field: 'appends' });
    expect(store.lastPosition.lsn).toBe(0);
    // Nothing moved: the stream has no version yet, and the next record takes LSN 1.
    expect(await committer.transact(big(2, 3_900))).toMatchObject({ lsn: 1, streams: [{ stream: 's', firstVersion: 0 }] });
    const part = big(3, 3_930).appends; // a prepare of 3,985 bytes, 15 short of the limit
    part[0]!.expectedVersion = 0;
    const appends = await committer.reserve('t#3', { clientId: 'c', seq: 3, appends: part });
    const txn = { id: 't#3', coordinator: 0, participants: [0, 1], decision: Decision.None, prepareLsn: 0, streams: [] };
    await expect(committer.writeStep(RecordKind.Prepare, txn, 'c', 3, appends)).rejects.toMatchObject({ name: 'InvalidArgumentError' });
    expect(store.lastPosition.lsn).toBe(1);
  });

  it('with a replication gate, acknowledges only once commitThrough reaches a record', async () => {
    const written: number[] = [];
    const { committer, committed } = await harness({ onWritten: (records) => written.push(...records.map((r) => r.lsn)), commitIndex: 0 });
    let settled = false;
    const result = committer.transact(tx('c', 1, 's')).then((r) => ((settled = true), r));
    const second = committer.transact(tx('c', 2, 's'));
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(written).toEqual([1, 2]);
    expect(settled).toBe(false);
    expect(committer.commitIndex).toBe(0);
    committer.commitThrough(1);
    expect((await result).lsn).toBe(1);
    expect(committed.map((r) => r.lsn)).toEqual([1]);
    committer.commitThrough(99); // never past what is written
    expect(committer.commitIndex).toBe(2);
    expect((await second).lsn).toBe(2);
  });

  it('fails every pending transaction when a store write fails, reports it once, and accepts nothing more', async () => {
    const { committer, store, failures } = await harness();
    await committer.transact(tx('c', 1, 's'));
    const broken = new Error('disk gone');
    store.append = () => Promise.reject(broken);
    const pending = [committer.transact(tx('c', 2, 's')), committer.transact(tx('c', 3, 't')), committer.transact(tx('d', 1, 's', 1))];
    for (const p of pending) await expect(p).rejects.toMatchObject({ name: 'ServerFailedError', cause: broken });
    expect(failures).toEqual([broken]);
    await expect(committer.transact(tx('c', 4, 's'))).rejects.toMatchObject({ name: 'ServerFailedError' });
    expect(committer.pendingCount).toBe(0);
    expect(committer.commitIndex).toBe(1);
  });

  it('abandons what is not committed (a step-down) with the given error, and drains', async () => {
    const { committer } = await harness({ onWritten: () => {}, commitIndex: 0 });
    const pending = committer.transact(tx('c', 1, 's'));
    await new Promise((resolve) => setImmediate(resolve));
    const drained = committer.drain();
    committer.abandon(new NotActiveError(null));
    await expect(pending).rejects.toMatchObject({ name: 'NotActiveError' });
    await drained;
    expect(committer.pendingCount).toBe(0);
  });

  it('abandons the batch being written too: none of its transactions is left unanswered', async () => {
    const { committer, store } = await harness({ onWritten: () => {}, commitIndex: 0 });
    let release!: () => void;
    const writing = new Promise<void>((resolve) => (release = resolve));
    const append = store.append.bind(store);
    let entered!: () => void;
    const inWrite = new Promise<void>((resolve) => (entered = resolve));
    store.append = async (records) => {
      entered();
      await writing;
      return append(records);
    };
    const pending = committer.transact(tx('c', 1, 's'));
    await inWrite;
    const drained = committer.drain();
    committer.abandon(new NotActiveError(null));
    release();
    await expect(pending).rejects.toMatchObject({ name: 'NotActiveError' });
    await drained;
    expect(committer.pendingCount).toBe(0);
  });

  it('answers a transaction waiting for its stream head once, when abandoned while the head loads', async () => {
    const { committer, store } = await harness();
    const readHead = store.streamHead.bind(store);
    let loadHead!: () => void;
    const headAsked = new Promise<void>((asked) => {
      store.streamHead = (stream) =>
        new Promise((resolve) => {
          loadHead = () => resolve(readHead(stream));
          asked();
        });
    });
    const answers: string[] = [];
    committer.submit(tx('c', 1, 'cold'), { resolve: () => answers.push('committed'), reject: (error) => answers.push((error as Error).name) });
    await headAsked;
    committer.abandon(new NotActiveError(null));
    loadHead();
    // The line resumes once the head arrives: a turn of the event loop runs every step of it.
    await new Promise((resolve) => setImmediate(resolve));
    expect(answers).toEqual(['NotActiveError']);
  });
});

/** A committer of a replicating active: nothing commits until `commitThrough`. */
function activeCommitter(store: CheckedStore, term: number, onWritten: () => void = () => {}): Committer {
  return new Committer({ store, limits: defaultLogLimits, clock: systemClock, timers: systemTimers, term, commitIndex: 0, onWritten, onCommitted: () => {}, onFailed: () => {} });
}

/** Lets pending promise callbacks and deferred work run, so an answer already given has arrived. */
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 10));

/** A store holding one record the active of term 1 wrote and never committed (a mirror in sync lacks it). */
async function storeWithUncommittedRecord(request: TransactionRequest): Promise<CheckedStore> {
  const store = checkedStore(memoryStore(), defaultLogLimits);
  await store.open();
  let written!: () => void;
  const durable = new Promise<void>((resolve) => (written = resolve));
  const predecessor = activeCommitter(store, 1, () => written());
  predecessor.transact(request).catch(() => {});
  await durable;
  predecessor.abandon(new NotActiveError(null));
  return store;
}

// Simulation seed 636 at 1000/900/100 ms: a new active answered such a resend at once, from the
// table it recovered from its whole log; a failover to the in-sync mirror lacking the record lost it.
describe('Committer: a resend of a transaction recovered above the commit index', () => {
  it('is answered only once the commit index reaches its record', async () => {
    const request = tx('writer', 1, 'orders');
    const store = await storeWithUncommittedRecord(request);
    const committer = activeCommitter(store, 2);
    await committer.recover();
    let answered = false;
    const answer = committer.transact(request).then((result) => ((answered = true), result));
    await settle();
    expect(answered, 'answered before its record was committed').toBe(false);
    committer.commitThrough(1);
    const result = await answer;
    expect(result).toEqual({ lsn: 1, streams: [{ stream: 'orders', firstVersion: 0, eventCount: 1 }] });
    // Once committed, a resend is answered at once, and nothing was written twice.
    await expect(committer.transact(request)).resolves.toEqual(result);
    expect(committer.lastWrittenLsn).toBe(1);
  });

  it('fails with the term when the active steps down first, so the client asks the next one', async () => {
    const request = tx('writer', 1, 'orders');
    const store = await storeWithUncommittedRecord(request);
    const committer = activeCommitter(store, 2);
    await committer.recover();
    const answer = committer.transact(request);
    answer.catch(() => {});
    await settle();
    committer.abandon(new NotActiveError(null));
    await expect(answer).rejects.toBeInstanceOf(NotActiveError);
  });
});
