// A participant's side of a transaction over several stripes, against a real committer and a
// coordinator that only counts how often it is asked: a part whose decision arrived is ended
// without asking again, and its streams are free for the next part as soon as its outcome has
// its place in the log, not a replication round later; that outcome rides in the next group
// commit rather than starting one, unless someone waits for it.
import { memoryStore } from '@kiln/store-memory';
import { describe, expect, it } from 'vitest';
import { Committer } from '../src/commit/committer.js';
import { defaultLogLimits } from '../src/limits.js';
import { encodeEvents } from '../src/log/events.js';
import { TXN_OUTCOME_DELAY_MAX_MS } from '../src/limits.js';
import { Decision, RecordKind, type LogRecord } from '../src/log/record.js';
import type { PrepareRequest } from '../src/protocol/txn-messages.js';
import { checkedStore } from '../src/store/checked-store.js';
import { systemClock } from '../src/time.js';
import { Participant } from '../src/txn/participant.js';
import type { StripeCaller } from '../src/txn/stripe-caller.js';
import { TxnLog } from '../src/txn/txn-log.js';
import { heldTimers, turns } from './held-timers.js';

/** A participant of stripe 1 whose mirrors never answer by themselves: `commitThrough` commits. */
async function participantHarness() {
  const store = checkedStore(memoryStore(), defaultLogLimits);
  await store.open();
  const txnLog = new TxnLog();
  const written: number[] = [];
  /** Each group commit, as the LSNs of its records. */
  const groupCommits: number[][] = [];
  const { timers, fire } = heldTimers();
  const committer = new Committer({
    store,
    limits: defaultLogLimits,
    clock: systemClock,
    timers,
    term: 1,
    commitIndex: 0,
    onWritten: (records) => {
      written.push(...records.map((r) => r.lsn));
      groupCommits.push(records.map((r) => r.lsn));
    },
    onCommitted: (records: readonly LogRecord[]) => records.forEach((r) => txnLog.see(r, systemClock.monotonicMs())),
    onFailed: () => {},
  });
  await committer.recover();
  const asked: string[] = [];
  // The coordinator decided commit for every transaction it is asked about.
  const caller = { call: (_stripe: number, op: string, txnId: string) => (asked.push(`${op} ${txnId}`), Promise.resolve(Decision.Commit)) } as unknown as StripeCaller;
  const participant = new Participant({ committer: () => committer, timers, caller, txnLog, stripeName: String, clock: systemClock, txnTimeoutMs: 10_000, keepForced: () => Promise.resolve() });
  /** Resolves once the store holds LSN `lsn` (written, not committed). */
  const writtenThrough = async (lsn: number): Promise<void> => {
    const deadline = Date.now() + 5_000;
    while (!written.includes(lsn)) {
      if (Date.now() > deadline) throw new Error(`LSN ${lsn} not written within 5 s`);
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  /** Prepares `request` and commits its prepare record, the store's `lsn`th; resolves with the part's stream ranges. */
  const prepareCommitted = async (request: PrepareRequest, lsn: number) => {
    const prepared = participant.prepare(request);
    await writtenThrough(lsn);
    committer.commitThrough(lsn);
    return prepared;
  };
  return { committer, participant, txnLog, asked, writtenThrough, prepareCommitted, groupCommits, fire };
}

const prepareOf = (n: number, stream: string): PrepareRequest => ({
  txnId: `c#${n}/0.1.${n}`,
  coordinator: 0,
  participants: [0, 1],
  part: { clientId: 'c', seq: n, appends: [{ stream, expectedVersion: 'any', events: encodeEvents([{ type: 't', data: n }], () => `c#${n}`) }] },
});

describe('Participant', () => {
  it("prepares the next part of a stream while the previous part's outcome is still replicating, without asking the coordinator", async () => {
    const { committer, participant, txnLog, asked, writtenThrough, prepareCommitted } = await participantHarness();
    expect(await prepareCommitted(prepareOf(1, 's'), 1)).toEqual([{ stream: 's', firstVersion: 0, eventCount: 1 }]);
    expect(txnLog.prepared.has('c#1/0.1.1')).toBe(true);

    // The decision arrives: the outcome takes LSN 2 and replicates; the next part comes meanwhile.
    const told = participant.decide({ txnId: 'c#1/0.1.1', decision: Decision.Commit });
    expect(committer.holderOf('s')).toBeUndefined();
    const second = participant.prepare(prepareOf(2, 's'));
    await writtenThrough(3);
    expect(asked, 'the coordinator is not asked about a part whose decision came').toEqual([]);
    committer.commitThrough(3);
    await told;
    // The second part follows the first's outcome in the log, at the version after its event.
    expect(await second).toEqual([{ stream: 's', firstVersion: 1, eventCount: 1 }]);
    expect(txnLog.ended.get('c#1/0.1.1')).toBe(Decision.Commit);
    expect(committer.holderOf('s')).toBe('c#2/0.1.2');
  });

  it('ends a part whose outcome is being written, for a read, once that outcome commits and without asking the coordinator', async () => {
    const { committer, participant, txnLog, asked, writtenThrough, prepareCommitted } = await participantHarness();
    await prepareCommitted(prepareOf(1, 's'), 1);
    const told = participant.decide({ txnId: 'c#1/0.1.1', decision: Decision.Commit });
    let resolved = false;
    const read = participant.resolveHeld(['s']).then(() => (resolved = true));
    await writtenThrough(2);
    expect(resolved, 'a read waits for the outcome: it must see the part').toBe(false);
    committer.commitThrough(2);
    await Promise.all([read, told]);
    expect(txnLog.prepared.size).toBe(0);
    expect(asked).toEqual([]);
  });

  it("writes an outcome nobody but the coordinator waits for in the next prepare's group commit, not in one of its own", async () => {
    const { committer, participant, txnLog, writtenThrough, prepareCommitted, groupCommits } = await participantHarness();
    await prepareCommitted(prepareOf(1, 's'), 1);
    const told = participant.decide({ txnId: 'c#1/0.1.1', decision: Decision.Commit });
    await turns(5);
    expect(groupCommits, 'the outcome waits for a group commit to ride in').toEqual([[1]]);
    const second = participant.prepare(prepareOf(2, 'other'));
    await writtenThrough(3);
    expect(groupCommits, "the outcome (2) rides in the next prepare's (3)").toEqual([[1], [2, 3]]);
    committer.commitThrough(3);
    await Promise.all([told, second]);
    expect(txnLog.ended.get('c#1/0.1.1')).toBe(Decision.Commit);
    expect(txnLog.prepared.has('c#2/0.1.2')).toBe(true);
  });

  it('ends a part whose decision overtook its prepare once the prepare is written, without asking the coordinator', async () => {
    // Another participant voted no, or the coordinator gave up waiting: its abort reaches this
    // stripe while the prepare is still replicating. Dropped, it would leave the part holding its
    // stream until the resolver asked, half a second later.
    const { committer, participant, txnLog, asked, writtenThrough, fire } = await participantHarness();
    const prepared = participant.prepare(prepareOf(1, 's'));
    await writtenThrough(1);
    const told = participant.decide({ txnId: 'c#1/0.1.1', decision: Decision.Abort });
    committer.commitThrough(1);
    await prepared;
    await turns(5);
    fire(TXN_OUTCOME_DELAY_MAX_MS);
    await writtenThrough(2);
    committer.commitThrough(2);
    await told;
    expect(txnLog.ended.get('c#1/0.1.1')).toBe(Decision.Abort);
    expect(txnLog.prepared.size).toBe(0);
    expect(committer.holderOf('s')).toBeUndefined();
    expect(asked).toEqual([]);
  });

  it('answers a resent prepare still being written with the same ranges, and writes one prepare record', async () => {
    const { committer, participant, txnLog, writtenThrough, groupCommits } = await participantHarness();
    const first = participant.prepare(prepareOf(1, 's'));
    await writtenThrough(1);
    const resent = participant.prepare(prepareOf(1, 's'));
    committer.commitThrough(1);
    const expected = [{ stream: 's', firstVersion: 0, eventCount: 1 }];
    expect(await first).toEqual(expected);
    expect(await resent).toEqual(expected);
    await turns(5);
    expect(groupCommits).toEqual([[1]]);
    expect(txnLog.prepared.get('c#1/0.1.1')!.record.lsn).toBe(1);
  });

  it('writes a lone outcome after TXN_OUTCOME_DELAY_MAX_MS when no other record comes', async () => {
    const { committer, participant, txnLog, writtenThrough, prepareCommitted, groupCommits, fire } = await participantHarness();
    await prepareCommitted(prepareOf(1, 's'), 1);
    const told = participant.decide({ txnId: 'c#1/0.1.1', decision: Decision.Abort });
    await turns(5);
    expect(groupCommits).toEqual([[1]]);
    fire(TXN_OUTCOME_DELAY_MAX_MS);
    await writtenThrough(2);
    committer.commitThrough(2);
    await told;
    expect(txnLog.ended.get('c#1/0.1.1')).toBe(Decision.Abort);
  });
});

describe('TxnLog', () => {
  it("knows the open prepare holding a stream, none once its outcome is seen, and the next part's after it", () => {
    const txnLog = new TxnLog();
    const step = (kind: LogRecord['kind'], lsn: number, n: number, streams: string[], decision: Decision = Decision.None): LogRecord => ({
      lsn,
      term: 1,
      kind,
      clientId: 'c',
      seq: n,
      timestampMs: 0,
      appends: streams.map((stream) => ({ stream, firstVersion: n, eventCount: 1, events: new Uint8Array(0) })),
      txn: { id: `t${n}`, coordinator: 0, participants: [0, 1], decision, prepareLsn: 0, streams: [] },
    });
    txnLog.see(step(RecordKind.Prepare, 1, 1, ['a', 'b']), 0);
    txnLog.see(step(RecordKind.Prepare, 2, 2, ['c']), 0);
    expect(txnLog.preparedHolding('b')?.record.txn?.id).toBe('t1');
    expect(txnLog.preparedHolding('c')?.record.txn?.id).toBe('t2');
    expect(txnLog.preparedHolding('d')).toBeUndefined();
    txnLog.see(step(RecordKind.Outcome, 3, 1, ['a', 'b'], Decision.Commit), 0);
    expect(txnLog.preparedHolding('a')).toBeUndefined();
    expect(txnLog.preparedHolding('c')?.record.txn?.id).toBe('t2');
    txnLog.see(step(RecordKind.Prepare, 4, 3, ['a']), 0);
    expect(txnLog.preparedHolding('a')?.record.txn?.id).toBe('t3');
    txnLog.clear();
    expect(txnLog.preparedHolding('a')).toBeUndefined();
  });
});
