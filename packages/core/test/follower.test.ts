// A mirror's acknowledgements: an append with nothing queued behind it is acknowledged as soon as it
// is stored, not at the end of the event-loop turn (the active's commit and its client wait on it);
// appends that arrive together are still stored in one write and acknowledged once; an ack echoes
// when the active asked (the newest append it answers), or nothing when the append said nothing.
import { memoryStore } from '@kiln/store-memory';
import { describe, expect, it } from 'vitest';
import { defaultLogLimits } from '../src/limits.js';
import { encodeRecord, RecordKind } from '../src/log/record.js';
import { DivergedReport } from '../src/replication/diverged-report.js';
import { Follower } from '../src/replication/follower.js';
import type { GroupMemberConfig } from '../src/replication/group-view.js';
import { MemberState } from '../src/replication/member-state.js';
import { MirrorCommit } from '../src/replication/mirror-commit.js';
import type { AppendMessage, OutgoingPeerMessage } from '../src/replication/peer-protocol.js';
import { checkedStore, type CheckedStore } from '../src/store/checked-store.js';
import type { EncodedRecord } from '../src/log/record.js';

const TERM = 2;
const server = (name: string): GroupMemberConfig => ({ name, kind: 'server', peer: `sim://${name}/peer`, clientUrls: [`sim://${name}`], weight: 1 });

describe('Follower acknowledgements', () => {
  it('acknowledges an append with nothing queued behind it at once, without waiting for the turn to end', async () => {
    const h = await mirror();
    h.follower.receive(append(0, [record(1)]));
    await h.follower.idle();
    expect(h.deferred).toHaveLength(0);
    expect(h.sent).toEqual([{ to: 'a', message: { kind: 'ack', term: TERM, from: 'b', lastLsn: 1, matched: true } }]);
    expect(h.written).toBe(1);
  });

  it('stores appends that arrive together in one write and acknowledges them once', async () => {
    const h = await mirror();
    h.follower.receive(append(0, [record(1)]));
    h.follower.receive(append(1, [record(2), record(3)]));
    h.follower.receive(append(3, [record(4)]));
    await h.follower.idle();
    expect(h.written).toBe(1);
    expect(h.store.lastPosition.lsn).toBe(4);
    expect(h.sent).toEqual([{ to: 'a', message: { kind: 'ack', term: TERM, from: 'b', lastLsn: 4, matched: true } }]);
    // The turn's end finds nothing left to send.
    for (const callback of h.deferred) callback();
    expect(h.sent).toHaveLength(1);
  });

  it('echoes the ask of the newest append an ack answers, and of a heartbeat', async () => {
    const h = await mirror();
    h.follower.receive({ ...append(0, [record(1)]), askedAtMs: 100 });
    h.follower.receive({ ...append(1, [record(2)]), askedAtMs: 105 });
    await h.follower.idle();
    h.follower.receive({ ...append(2, []), askedAtMs: 110 });
    await h.follower.idle();
    expect(h.sent.map((s) => s.message)).toEqual([
      { kind: 'ack', term: TERM, from: 'b', lastLsn: 2, matched: true, askedAtMs: 105 },
      { kind: 'ack', term: TERM, from: 'b', lastLsn: 2, matched: true, askedAtMs: 110 },
    ]);
  });
});

// What a mirror serves of its own log (a backup from a mirror) stops where it knows its log is the
// active's and committed: the active's commit index alone would cover records not applied yet, or
// a predecessor's tail that this append is about to replace.
describe('Follower: what a mirror knows is committed', () => {
  it('is the lower of the LSNs the append matched and the commit index it carried', async () => {
    const h = await mirror();
    h.follower.receive({ ...append(0, [record(1), record(2)]), commitIndex: 1 });
    await h.follower.idle();
    expect(h.commit.committedLsn).toBe(1);
    // The active committed through 5 but shipped only through 3: records 4 and 5 are not here.
    h.follower.receive({ ...append(2, [record(3)]), commitIndex: 5 });
    await h.follower.idle();
    expect(h.commit.committedLsn).toBe(3);
    // A heartbeat carries the commit index on.
    h.follower.receive({ ...append(3, []), commitIndex: 3 });
    await h.follower.idle();
    expect(h.commit.committedLsn).toBe(3);
  });

  it("counts nothing of a predecessor's tail the active's commit index covers, until the active's records replace it", async () => {
    const h = await mirror();
    // Records 1-2 of the previous term; 2 never committed, and the active of this term wrote another record 2.
    await h.store.append([record(1, TERM - 1), record(2, TERM - 1)]);
    h.follower.receive({ ...append(2, []), prevTerm: TERM, commitIndex: 2 });
    await h.follower.idle();
    expect(h.sent.at(-1)!.message).toMatchObject({ matched: false, lastLsn: 1 });
    expect(h.commit.committedLsn).toBe(0);
    h.follower.receive({ ...append(1, [record(2)]), prevTerm: TERM - 1, commitIndex: 2 });
    await h.follower.idle();
    expect(h.commit.committedLsn).toBe(2);
    expect(h.store.lastPosition).toMatchObject({ lsn: 2, term: TERM });
  });

  it('waits for the committed LSN to reach a range, and gives up after the wait', async () => {
    const commit = new MirrorCommit();
    const timeouts: Array<() => void> = [];
    const timers = { setTimeout: (callback: () => void) => (timeouts.push(callback), { cancel: () => {} }), defer: (callback: () => void) => callback() };
    const reached = commit.reached(5, 1000, timers);
    commit.applied(4, 10);
    commit.applied(7, 5);
    await expect(reached).resolves.toBe(true);
    const late = commit.reached(6, 1000, timers);
    commit.applied(9, 5);
    timeouts.at(-1)!();
    await expect(late).resolves.toBe(false);
  });
});

// A mirror learns it is back in sync from the active's view, before any append after it: the active
// lists it only once it holds all the active wrote. Seed 2597087503 (two stripes, memory mode): the
// active crashed 81 ms after readmitting its mirror, which stayed PASSIVE-SYNCING, never stood, and
// the stripe had no active for good.
describe('Follower: back in the in-sync set', () => {
  it('is PASSIVE-STANDBY, and eligible, once it adopts a view that lists it in sync', async () => {
    const h = await mirror();
    const members = [server('a'), server('b')];
    await h.member.learnView({ term: TERM, version: 1, members, inSync: ['a'] });
    h.follower.receive(append(0, [record(1)]));
    await h.follower.idle();
    expect(h.member.state).toBe('PASSIVE-SYNCING');
    // Past the quiet period of a member without a disk: only the state keeps it from standing.
    h.nowMs = 60_000;
    expect(h.member.eligible).toBe(false);
    await h.member.learnView({ term: TERM, version: 2, members, inSync: ['a', 'b'] });
    expect(h.member.state).toBe('PASSIVE-STANDBY');
    expect(h.member.eligible).toBe(true);
    // Left out again, it is syncing again.
    await h.member.learnView({ term: TERM, version: 3, members, inSync: ['a'] });
    expect(h.member.state).toBe('PASSIVE-SYNCING');
  });
});

// A mirror whose disk fills: the store write fails (ENOSPC). Swallowing it left the mirror up,
// acknowledging heartbeats at its old LSN, in the in-sync set, and the active's commits waited on
// it for good; it reports the failure, and its server stops as an active's does.
describe('Follower: a store write that fails', () => {
  it('reports the failure, once per failed apply, and acknowledges nothing of it', async () => {
    const h = await mirror();
    h.follower.receive(append(0, [record(1)]));
    await h.follower.idle();
    h.sent.length = 0;
    h.failWrites = Object.assign(new Error('IO error: /data/000005.log: No space left on device'), { code: 'LEVEL_IO_ERROR' });
    h.follower.receive(append(1, [record(2)]));
    await h.follower.idle();
    expect(h.failures).toHaveLength(1);
    expect((h.failures[0] as Error).name).toBe('StoreFailedError');
    expect((h.failures[0] as Error).cause).toBe(h.failWrites);
    expect(h.sent).toEqual([]);
    expect(h.store.lastPosition.lsn).toBe(1);
  });
});

interface Harness {
  follower: Follower;
  /** Errors the follower reported as store failures. */
  failures: unknown[];
  /** When set, every store write of records fails with it. */
  failWrites?: Error;
  store: CheckedStore;
  sent: Array<{ to: string; message: OutgoingPeerMessage }>;
  /** Callbacks deferred to the turn's end, not run unless a test runs them. */
  deferred: Array<() => void>;
  /** Store writes of records. */
  written: number;
  commit: MirrorCommit;
  member: MemberState;
  /** The member's clock, ms. */
  nowMs: number;
}

/** Mirror `b` of active `a` in term {@link TERM}, over an empty memory store. */
async function mirror(): Promise<Harness> {
  const disk = memoryStore();
  const diskAppend = disk.append.bind(disk);
  disk.append = (records) => (harness.failWrites ? Promise.reject(harness.failWrites) : diskAppend(records));
  const store = checkedStore(disk, defaultLogLimits);
  await store.open();
  const harness: Harness = { follower: undefined as unknown as Follower, failures: [], member: undefined as unknown as MemberState, nowMs: 0, store, sent: [], deferred: [], written: 0, commit: new MirrorCommit() };
  const clock = { monotonicMs: () => harness.nowMs, wallMs: () => harness.nowMs };
  const member = new MemberState(
    { self: 'b', members: [server('a'), server('b')], electionTimeMs: 5000, mirrorTimeoutMs: 1000, leaseMs: 800 },
    { store, clock, log: () => {}, onFailed: (error) => { throw error; } },
    () => {},
  );
  await member.load(() => {});
  await member.durable.save({ term: TERM });
  harness.member = member;
  const append = store.append.bind(store);
  store.append = (records) => {
    harness.written++;
    return append(records);
  };
  harness.follower = new Follower({
    member,
    store,
    logLimits: defaultLogLimits,
    diverged: new DivergedReport(store, 1024),
    commit: harness.commit,
    log: () => {},
    stopped: () => false,
    onFailed: (error) => void harness.failures.push(error),
    defer: (callback) => void harness.deferred.push(callback),
    outbox: { send: (to, message) => harness.sent.push({ to, message }) > 0, broadcast: () => {}, canSend: () => true, writeNow: () => {} },
  });
  return harness;
}

function record(lsn: number, term = TERM): EncodedRecord {
  return encodeRecord({ lsn, term, kind: RecordKind.Commit, clientId: 'c', seq: lsn, timestampMs: 0, appends: [{ stream: 's', firstVersion: lsn - 1, eventCount: 1, events: new Uint8Array([0x91, lsn]) }] });
}

function append(prevLsn: number, records: EncodedRecord[]): AppendMessage {
  return { kind: 'append', stripe: 0, term: TERM, from: 'a', prevLsn, prevTerm: prevLsn === 0 ? 0 : TERM, commitIndex: 0, termStartLsn: 0, records: records.map((r) => r.bytes) };
}
