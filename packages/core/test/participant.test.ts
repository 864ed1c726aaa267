// A participant's side of a transaction over several stripes, against a real committer and a
// coordinator that only counts how often it is asked: a part whose decision arrived is ended
// without asking again, and its streams are free for the next part as soon as its outcome has
// its place in the log, not a replication round later; that outcome rides in the next group
// commit rather than starting one, unless someone waits for it.
import { memoryStore } from '@kiln/store-memory';
import { describe, expect, it } from 'vitest';
import { Committer } from '../src/commit/committer.js';
import { defaultLogLimits, TXN_EARLY_ABORTS_MAX, TXN_OUTCOME_DELAY_MAX_MS } from '../src/limits.js';
import { encodeEvents } from '../src/log/events.js';
import { Decision, RecordKind, type LogRecord } from '../src/log/record.js';
import type { PrepareRequest } from '../src/protocol/txn-messages.js';
import { checkedStore } from '../src/store/checked-store.js';
import { systemClock, type Clock } from '../src/time.js';
import { Participant } from '../src/txn/participant.js';
import type { StripeCaller } from '../src/txn/stripe-caller.js';
import { TxnLog } from '../src/txn/txn-log.js';
import { heldTimers, turns } from './held-timers.js';

const TXN_TIMEOUT_MS = 10_000;

/** A participant of stripe 1 whose mirrors never answer by themselves: `commitThrough` commits. */
async function participantHarness(clock: Clock = systemClock) {
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
  const participant = new Participant({ committer: () => committer, timers, caller, txnLog, stripeName: String, clock, txnTimeoutMs: TXN_TIMEOUT_MS, keepForced: () => Promise.resolve() });
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

const prepareOf = (n: number, stream: string, txnId = `c#${n}/0.1.${n}`): PrepareRequest => ({
  txnId,
  coordinator: 0,
  participants: [0, 1],
  part: { clientId: 'c', seq: n, appends: [{ stream, expectedVersion: 'any', events: encodeEvents([{ type: 't', data: n }], () => `c#${n}`) }] },
});

/** What a prepare comes to within a few turns: its refusal, or 'pending' (written, its commit awaited). */
const refusalOf = (prepared: Promise<unknown>): Promise<unknown> => Promise.race([prepared.then(() => 'prepared', (error: unknown) => error), turns(5).then(() => 'pending')]);
const REFUSED = { name: 'InvalidArgumentError', field: 'txnId' };

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

  it("refuses at once a prepare whose abort came before it, and the coordinator's resend of it, writing and holding nothing", async () => {
    // The prepare's link dropped and was redialled, or the coordinator's txnTimeoutMs fired while
    // the prepare was on its way: the abort comes first. Written, the late prepare would hold its
    // stream until the resolver asked, and every write of it would get StreamBusyError meanwhile.
    const { committer, participant, txnLog, asked, groupCommits, prepareCommitted } = await participantHarness();
    await participant.decide({ txnId: 'c#1/0.1.1', decision: Decision.Abort });
    const refusals = await Promise.all([refusalOf(participant.prepare(prepareOf(1, 's'))), refusalOf(participant.prepare(prepareOf(1, 's')))]);
    expect(committer.holderOf('s'), 'the late prepare holds nothing').toBeUndefined();
    expect(groupCommits, 'and writes nothing').toEqual([]);
    for (const refusal of refusals) expect(refusal).toMatchObject({ ...REFUSED, rule: 'transaction c#1/0.1.1 was aborted before its prepare reached this stripe' });
    expect(txnLog.prepared.size).toBe(0);
    // The stream is free for the next part at once, at its first version.
    expect(await prepareCommitted(prepareOf(2, 's'), 1)).toEqual([{ stream: 's', firstVersion: 0, eventCount: 1 }]);
    expect(asked).toEqual([]);
  });

  it('remembers nothing of a commit for a part never prepared here: its prepare is written', async () => {
    const { participant, txnLog, prepareCommitted } = await participantHarness();
    await participant.decide({ txnId: 'c#1/0.1.1', decision: Decision.Commit });
    expect(await prepareCommitted(prepareOf(1, 's'), 1)).toEqual([{ stream: 's', firstVersion: 0, eventCount: 1 }]);
    expect(txnLog.prepared.has('c#1/0.1.1')).toBe(true);
  });

  it('forgets an early abort after twice txnTimeoutMs, and the oldest of a flood past TXN_EARLY_ABORTS_MAX', async () => {
    let nowMs = 0;
    const clock: Clock = { monotonicMs: () => nowMs, wallMs: () => nowMs };
    const { participant, txnLog, prepareCommitted } = await participantHarness(clock);
    // A hostile peer's aborts for made-up ids: the first is forgotten, the rest still refuse.
    for (let i = 0; i <= TXN_EARLY_ABORTS_MAX; i++) await participant.decide({ txnId: `flood-${i}`, decision: Decision.Abort });
    expect(await refusalOf(participant.prepare(prepareOf(1, 'a', `flood-${TXN_EARLY_ABORTS_MAX}`)))).toMatchObject(REFUSED);
    expect(await refusalOf(participant.prepare(prepareOf(1, 'a', 'flood-1')))).toMatchObject(REFUSED);
    await prepareCommitted(prepareOf(1, 'a', 'flood-0'), 1);
    expect(txnLog.prepared.has('flood-0')).toBe(true);
    // Just before twice txnTimeoutMs an abort still refuses its prepare; from then on it is forgotten.
    await participant.decide({ txnId: 'late', decision: Decision.Abort });
    nowMs += 2 * TXN_TIMEOUT_MS - 1;
    expect(await refusalOf(participant.prepare(prepareOf(2, 'b', 'late')))).toMatchObject(REFUSED);
    nowMs += 1;
    await prepareCommitted(prepareOf(2, 'b', 'late'), 2);
    expect(txnLog.prepared.has('late')).toBe(true);
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
