// The active's lease counts an answer from when the active asked (the append's askedAtMs, echoed in
// the ack), never from when the answer arrived: an answer to an older heartbeat, slow in the
// network, must not renew the lease as if it answered the newest. From a member that echoes
// nothing, an answer counts from the last heartbeat sent before it arrived (the older bound). The
// votes that elect an active count from when it asked for them, not from when it took office.
import { memoryStore } from '@kiln/store-memory';
import { describe, expect, it } from 'vitest';
import { NotActiveError } from '../src/errors.js';
import { defaultLogLimits } from '../src/limits.js';
import { Active } from '../src/replication/active.js';
import type { GroupMemberConfig, GroupView } from '../src/replication/group-view.js';
import { MemberState } from '../src/replication/member-state.js';
import type { AckMessage, AppendMessage, OutgoingPeerMessage } from '../src/replication/peer-protocol.js';
import { checkedStore } from '../src/store/checked-store.js';
import { heldTimers } from './held-timers.js';

const TERM = 3;
const LEASE_MS = 40;
const TICK_MS = 10;
const server = (name: string): GroupMemberConfig => ({ name, kind: 'server', peer: `sim://${name}/peer`, clientUrls: [`sim://${name}`], weight: 1 });
const voter = (name: string): GroupMemberConfig => ({ name, kind: 'voter', peer: `sim://${name}/peer`, clientUrls: [], weight: 1 });

interface Harness {
  active: Active;
  /** Every lease end (monotonic ms) the active reported, as the simulation's lease check sees them. */
  leaseEnds: number[];
  /** The last append sent to `to`. */
  lastAppendTo(to: string): AppendMessage;
  /** Moves the clock on by `ms` and runs the active's tick there; false when its lease ran out. */
  tickAfter(ms: number): boolean;
  now(): number;
}

/**
 * Active `a` of term {@link TERM} in a group of `a`, mirror `b` and voter `v` (a majority is `a`
 * and one other), taking office at monotonic 10,000 ms, elected by votes it asked for at
 * `votesAskedAtMs`. Nothing answers unless a test says so.
 */
async function activeOfThree(votesAskedAtMs = 10_000): Promise<Harness> {
  let now = 10_000;
  const clock = { monotonicMs: () => now, wallMs: () => now };
  const store = checkedStore(memoryStore(), defaultLogLimits);
  await store.open();
  const leaseEnds: number[] = [];
  const members = [server('a'), server('b'), voter('v')];
  const member = new MemberState(
    { self: 'a', members, electionTimeMs: 5000, mirrorTimeoutMs: 1000, leaseMs: LEASE_MS, observeLease: (_term, untilMs) => void leaseEnds.push(untilMs) },
    { store, clock, log: () => {}, onFailed: (error) => { throw error; } },
    () => {},
  );
  await member.load(() => {});
  const view: GroupView = { term: TERM, version: 1, members, inSync: ['a', 'b'] };
  await member.durable.save({ term: TERM, view });
  member.adoptView(view);
  member.state = 'ACTIVE-COORDINATOR';
  const sent: Array<{ to: string; message: OutgoingPeerMessage }> = [];
  const active = new Active(TERM, {
    member,
    outbox: { send: (to, message) => sent.push({ to, message }) > 0, broadcast: () => {}, canSend: () => true, writeNow: () => {} },
    store,
    logLimits: defaultLogLimits,
    timers: heldTimers().timers,
    log: () => {},
    onCommitted: () => {},
    onFailed: (error) => {
      throw error;
    },
    setPeers: () => {},
    isRefused: () => false,
    standalone: false,
    recordBytesMax: Infinity,
  });
  active.open(votesAskedAtMs);
  return {
    active,
    leaseEnds,
    lastAppendTo: (to) => sent.findLast((s): s is { to: string; message: AppendMessage } => s.to === to && s.message.kind === 'append')!.message,
    tickAfter: (ms) => active.tick((now += ms)),
    now: () => now,
  };
}

const ackFrom = (from: string, askedAtMs: number | undefined): AckMessage => ({ kind: 'ack', stripe: 0, term: TERM, from, lastLsn: 0, matched: true, askedAtMs });

describe('Active lease: an answer counts from when the active asked', () => {
  it('sends every heartbeat with its ask, and credits a late answer to an older heartbeat from that heartbeat, not the newest', async () => {
    const h = await activeOfThree();
    expect(h.tickAfter(TICK_MS)).toBe(true);
    const older = h.lastAppendTo('b');
    expect(older.askedAtMs).toBe(10_010);
    expect(h.lastAppendTo('v').askedAtMs).toBe(10_010);
    expect(h.tickAfter(TICK_MS)).toBe(true);
    expect(h.lastAppendTo('b').askedAtMs).toBe(10_020);
    // b's answer to the older heartbeat was slow in the network: it arrives after the newer one went out.
    h.active.onAck(ackFrom('b', older.askedAtMs));
    // b is known to have heard this active at 10,010, no later: the lease runs to 10,050, not 10,060.
    expect(h.tickAfter(25)).toBe(true);
    expect(h.leaseEnds.at(-1)).toBe(10_010 + LEASE_MS);
    expect(h.tickAfter(10)).toBe(false);
    // Past its lease it serves no read: one waits until the member steps it down, and fails then.
    const read = h.active.readIndex();
    h.active.close(new NotActiveError(null));
    await expect(read).rejects.toBeInstanceOf(NotActiveError);
  });

  it('credits an answer that echoes nothing (a member of an older version) from the last heartbeat sent before it arrived', async () => {
    const h = await activeOfThree();
    h.tickAfter(TICK_MS);
    h.tickAfter(TICK_MS);
    h.active.onAck(ackFrom('b', undefined));
    expect(h.tickAfter(25)).toBe(true);
    expect(h.leaseEnds.at(-1)).toBe(10_020 + LEASE_MS);
  });

  it('never moves a lease back for a late answer to an older ask, nor forward for an echo later than now', async () => {
    const h = await activeOfThree();
    h.tickAfter(TICK_MS);
    h.tickAfter(TICK_MS);
    h.active.onAck(ackFrom('b', 10_020));
    h.active.onAck(ackFrom('b', 10_010));
    expect(h.tickAfter(1)).toBe(true);
    expect(h.leaseEnds.at(-1)).toBe(10_020 + LEASE_MS);
    // An echo past the active's clock is none of its asks: it counts only as far as the bound does.
    h.active.onAck(ackFrom('v', h.now() + 1_000));
    expect(h.tickAfter(1)).toBe(true);
    expect(h.leaseEnds.at(-1)).toBe(10_021 + LEASE_MS);
  });

  it('takes office on votes asked for longer ago than the lease (a pause, a long recovery) holding no lease, and waits up to leaseMs for its first answers', async () => {
    const late = await activeOfThree(10_000 - LEASE_MS - 1);
    // A read meanwhile waits for the lease (it was refused with "no active known" by the active itself).
    let served: number | undefined;
    const early = late.active.readIndex().then((commitIndex) => (served = commitIndex));
    expect(late.tickAfter(TICK_MS)).toBe(true);
    expect(late.leaseEnds).toEqual([]);
    await Promise.resolve();
    expect(served).toBeUndefined();
    late.active.onAck(ackFrom('b', late.lastAppendTo('b').askedAtMs));
    await expect(early).resolves.toBe(0);
    expect(late.tickAfter(TICK_MS)).toBe(true);
    expect(late.leaseEnds).toEqual([10_010 + LEASE_MS, 10_010 + LEASE_MS]);
    await expect(late.active.readIndex()).resolves.toBe(0);

    const unanswered = await activeOfThree(10_000 - LEASE_MS - 1);
    expect(unanswered.tickAfter(LEASE_MS)).toBe(true);
    expect(unanswered.tickAfter(1)).toBe(false);
    expect(unanswered.leaseEnds).toEqual([]);
  });
});
