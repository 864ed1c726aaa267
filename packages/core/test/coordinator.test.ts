// A coordinator's telling of its decisions, against a real committer and participants that answer
// when the test says: a decision goes after the client's answer, in front of the next prepare to
// that participant (one write for both there), or after TXN_DECISION_DELAY_MAX_MS when none comes;
// once none came in time, a lone decision goes at the turn's end, until prepares follow fast again.
// And a transaction aborted because a participant's stripe was out of reach tells its client it
// was not committed, where the client's own link giving up cannot know.
import { memoryStore } from '@kiln/store-memory';
import { describe, expect, it } from 'vitest';
import { Committer } from '../src/commit/committer.js';
import { errorFromWire, errorToWire, StripeUnavailableError, TransactionInDoubtError } from '../src/errors.js';
import { defaultLogLimits, TXN_DECISION_DELAY_MAX_MS, TXN_REMEMBERED_MAX } from '../src/limits.js';
import { Decision, RecordKind, type LogRecord } from '../src/log/record.js';
import { encodeEvents } from '../src/log/events.js';
import type { TransactionAppend, TransactionRequest } from '../src/protocol/messages.js';
import type { DecideRequest, PrepareRequest } from '../src/protocol/txn-messages.js';
import { checkedStore } from '../src/store/checked-store.js';
import { systemClock } from '../src/time.js';
import { Coordinator } from '../src/txn/coordinator.js';
import type { StripeCaller } from '../src/txn/stripe-caller.js';
import { TxnLog } from '../src/txn/txn-log.js';
import { heldTimers, turns } from './held-timers.js';

/** The coordinator of stripe 0 (a lone server: what is written is committed), calling stripe 1. */
async function coordinatorHarness() {
  const store = checkedStore(memoryStore(), defaultLogLimits);
  await store.open();
  const { timers, fire } = heldTimers();
  const committer = new Committer({ store, limits: defaultLogLimits, clock: systemClock, timers, term: 1, onCommitted: () => {}, onFailed: () => {} });
  await committer.recover();
  /** Every call to stripe 1, in the order sent: `prepare c#1`, `decide c#1`. */
  const calls: string[] = [];
  const votes = new Map<string, () => void>();
  const refusals = new Map<string, (error: unknown) => void>();
  const sent = (op: string, args: PrepareRequest | DecideRequest): string => {
    const name = args.txnId.split('/')[0]!;
    calls.push(`${op} ${name}`);
    return name;
  };
  const caller = {
    prepare: (_stripe: number, args: PrepareRequest, voted: (entries: []) => void, refused: (error: unknown) => void) => {
      const name = sent('prepare', args);
      refusals.set(name, refused);
      votes.set(name, () => voted([]));
    },
    decide: (_stripe: number, args: DecideRequest, told: () => void) => (sent('decide', args), told()),
  } as unknown as StripeCaller;
  /** The coordinator's monotonic clock, moved by the test (`advance`). */
  let nowMs = 0;
  const clock = { monotonicMs: () => nowMs, wallMs: () => systemClock.wallMs() };
  const txnLog = new TxnLog();
  const coordinator = new Coordinator({ stripe: 0, stripeName: 'alpha', committer: () => committer, term: () => 1, caller, txnLog, clock, timers, log: () => {} });
  /** Starts transaction `c#n` over stripes 0 and 1; resolves once its prepare is sent, with its result to come. */
  const start = async (n: number) => {
    const append = (stream: string): TransactionAppend => ({ stream, expectedVersion: 'any', events: encodeEvents([{ type: 't', data: n }], () => `${stream}#${n}`) });
    const request: TransactionRequest = { clientId: 'c', seq: n, appends: [append(`a${n}`), append(`b${n}`)] };
    const result = coordinator.transact(request, new Map([[0, [request.appends[0]!]], [1, [request.appends[1]!]]]));
    while (!votes.has(`c#${n}`)) await turns(1);
    return { result };
  };
  /** Stripe 1 votes yes for `c#n`. */
  const vote = (n: number): void => votes.get(`c#${n}`)!();
  /** Stripe 1's prepare of `c#n` fails with `error`. */
  const refuse = (n: number, error: unknown): void => refusals.get(`c#${n}`)!(error);
  const advance = (ms: number): void => void (nowMs += ms);
  return { coordinator, txnLog, calls, start, vote, refuse, fire, advance };
}

describe('Coordinator', () => {
  it('tells a lone decision in front of the next prepare to the participant: one write and one wake-up of it for both', async () => {
    const { calls, start, vote } = await coordinatorHarness();
    const first = (await start(1)).result;
    vote(1);
    await first;
    await turns(3);
    expect(calls, 'not alone').toEqual(['prepare c#1']);
    await start(2);
    expect(calls).toEqual(['prepare c#1', 'decide c#1', 'prepare c#2']);
  });

  it('tells a lone decision after TXN_DECISION_DELAY_MAX_MS when no prepare comes', async () => {
    const { calls, start, vote, fire } = await coordinatorHarness();
    const first = (await start(1)).result;
    vote(1);
    await first;
    await turns(3);
    expect(calls).toEqual(['prepare c#1']);
    fire(TXN_DECISION_DELAY_MAX_MS);
    expect(calls).toEqual(['prepare c#1', 'decide c#1']);
  });

  it('tells lone decisions at the turn\'s end once one waited in vain, and holds them again once a prepare follows one within TXN_DECISION_DELAY_MAX_MS', async () => {
    const { calls, start, vote, fire, advance } = await coordinatorHarness();
    const first = (await start(1)).result;
    vote(1);
    await first;
    advance(TXN_DECISION_DELAY_MAX_MS);
    fire(TXN_DECISION_DELAY_MAX_MS);
    expect(calls).toEqual(['prepare c#1', 'decide c#1']);
    advance(10); // the client's next transaction comes late
    const second = (await start(2)).result;
    vote(2);
    await second;
    await turns(2);
    expect(calls.slice(2), 'at the turn\'s end, no timer').toEqual(['prepare c#2', 'decide c#2']);
    advance(TXN_DECISION_DELAY_MAX_MS - 1); // and the next one soon
    const third = (await start(3)).result;
    vote(3);
    await third;
    await turns(3);
    expect(calls.slice(4), 'held for the next prepare again').toEqual(['prepare c#3']);
    await start(4);
    expect(calls.slice(4)).toEqual(['prepare c#3', 'decide c#3', 'prepare c#4']);
  });

  it('while others are being decided, tells a decision in front of the next prepare to the participant, or after TXN_DECISION_DELAY_MAX_MS', async () => {
    const { calls, start, vote, fire } = await coordinatorHarness();
    const first = (await start(1)).result;
    const second = (await start(2)).result;
    vote(1);
    await first;
    await turns(3);
    expect(calls, 'c#2 is being decided: the decision of c#1 waits for a prepare').toEqual(['prepare c#1', 'prepare c#2']);
    const third = (await start(3)).result;
    expect(calls).toEqual(['prepare c#1', 'prepare c#2', 'decide c#1', 'prepare c#3']);
    vote(2);
    await second;
    await turns(3);
    expect(calls, 'c#3 is being decided').toHaveLength(4);
    fire(TXN_DECISION_DELAY_MAX_MS);
    expect(calls.slice(4)).toEqual(['decide c#2']);
    vote(3);
    await third;
    fire(TXN_DECISION_DELAY_MAX_MS);
    expect(calls.slice(5)).toEqual(['decide c#3']);
  });

  it('leaves the decisions not yet told to the participants once it steps down: no timer of its office sends them', async () => {
    const { coordinator, calls, start, vote, fire } = await coordinatorHarness();
    const first = (await start(1)).result;
    await start(2);
    vote(1);
    await first;
    coordinator.steppedDown();
    fire(TXN_DECISION_DELAY_MAX_MS);
    await turns(2);
    expect(calls).toEqual(['prepare c#1', 'prepare c#2']);
  });

  it("says a transaction was not committed when a participant's stripe was out of reach, to its client too", async () => {
    const { start, refuse } = await coordinatorHarness();
    const { result } = await start(1);
    refuse(1, new StripeUnavailableError('bravo', 'no server answered within 10000 ms'));
    const error = await result.catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'StripeUnavailableError', stripe: 'bravo', transactionFate: 'not-committed' });
    expect((error as Error).message).toMatch(/the transaction was not committed/);
    expect(errorFromWire(errorToWire(error))).toMatchObject({ stripe: 'bravo', transactionFate: 'not-committed' });
  });

  it('does not answer abort for a transaction whose decision it may have forgotten past TXN_REMEMBERED_MAX: its part stays in doubt', async () => {
    const { coordinator, txnLog } = await coordinatorHarness();
    // Commits of this office (term 1), one more than it remembers: the first is forgotten.
    const id = (n: number, term = 1): string => `c#${n}/0.${term}.${n}`;
    const decide = (txnId: string): LogRecord => ({ lsn: 1, term: 1, kind: RecordKind.Decide, clientId: 'c', seq: 1, timestampMs: 0, appends: [], txn: { id: txnId, coordinator: 0, participants: [0, 1], decision: Decision.Commit, prepareLsn: 0, streams: [] } });
    for (let n = 1; n <= TXN_REMEMBERED_MAX + 1; n++) txnLog.see(decide(id(n)), 0);
    expect(txnLog.decisions.has(id(1)), 'forgotten').toBe(false);
    // A participant cut off since then asks: "abort" would undo its part of a committed transaction.
    expect(() => coordinator.status(id(1))).toThrow(TransactionInDoubtError);
    expect(() => coordinator.status(id(1))).toThrow(/transaction c#1\/0\.1\.1 is in doubt/);
    // So is an older office's transaction that was never decided: it cannot be told from a forgotten one.
    expect(() => coordinator.status('d#4/0.0.7')).toThrow(TransactionInDoubtError);
    expect(coordinator.status(id(2)), 'remembered').toBe(Decision.Commit);
    // Newer than any forgotten decision and never decided: presumed abort, as before.
    expect(coordinator.status(id(TXN_REMEMBERED_MAX + 2))).toBe(Decision.Abort);
    expect(coordinator.status(id(1, 2))).toBe(Decision.Abort);
  });
});
