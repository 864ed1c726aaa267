// In-sync view transitions: the pure view functions, and the active's ViewChange role: a silent
// mirror leaves the in-sync set, a caught-up one re-enters it, and a change counts only once a
// majority of the old view and of the new one recorded it (and the active itself, on disk).
import { memoryStore } from '@kiln/store-memory';
import { describe, expect, it } from 'vitest';
import { TimeoutError } from '../src/errors.js';
import { defaultLogLimits } from '../src/limits.js';
import { isNewerView, viewFromWire, viewToWire, withInSync, withMirrorAdded, withMirrorRemoved, type GroupMemberConfig, type GroupView } from '../src/replication/group-view.js';
import { MemberState } from '../src/replication/member-state.js';
import type { PeerSender } from '../src/replication/outbox.js';
import type { OutgoingPeerMessage } from '../src/replication/peer-protocol.js';
import { ViewChange, type MirrorProgress } from '../src/replication/view-change.js';
import { checkedStore } from '../src/store/checked-store.js';

const server = (name: string): GroupMemberConfig => ({ name, kind: 'server', peer: `sim://${name}/peer`, clientUrls: [`sim://${name}`], weight: 1 });
const voter = (name: string): GroupMemberConfig => ({ name, kind: 'voter', peer: `sim://${name}/peer`, clientUrls: [], weight: 1 });
const view = (members: GroupMemberConfig[], inSync: string[], version = 0, term = 0): GroupView => ({ term, version, members, inSync });

describe('group view functions', () => {
  const abc = view([server('a'), server('b'), server('c')], ['a', 'b', 'c'], 4, 2);

  it('orders views by term, then version', () => {
    expect(isNewerView({ ...abc, version: 5 }, abc)).toBe(true);
    expect(isNewerView({ ...abc, term: 3, version: 0 }, abc)).toBe(true);
    expect(isNewerView({ ...abc, term: 1, version: 99 }, abc)).toBe(false);
    expect(isNewerView(abc, abc)).toBe(false);
  });

  it('makes a new in-sync set one version higher, sorted, keeping term and members', () => {
    expect(withInSync(abc, ['c', 'a'])).toEqual({ ...abc, version: 5, inSync: ['a', 'c'] });
  });

  it('adds a mirror outside the in-sync set, and refuses a taken name, peer or client URL, or a bad spec', () => {
    const added = withMirrorAdded(abc, server('d'), false);
    expect(added).toMatchObject({ version: 5, inSync: ['a', 'b', 'c'] });
    expect(added.members.map((m) => m.name)).toEqual(['a', 'b', 'c', 'd']);
    expect(() => withMirrorAdded(abc, server('b'), false)).toThrow(/already a member/);
    expect(() => withMirrorAdded(abc, { ...server('d'), peer: 'sim://a/peer' }, false)).toThrow(/peer address of 'a'/);
    expect(() => withMirrorAdded(abc, { ...server('d'), clientUrls: ['sim://c'] }, false)).toThrow(/client address of 'c'/);
    expect(() => withMirrorAdded(abc, voter('v'), false)).toThrow(expect.objectContaining({ name: 'InvalidArgumentError', field: 'kind' }));
    expect(() => withMirrorAdded(abc, { ...server('d'), clientUrls: [] }, false)).toThrow(expect.objectContaining({ field: 'clientUrls' }));
  });

  it('removes a mirror from the members and the in-sync set, never the active', () => {
    const abcv = view([server('a'), server('b'), server('c'), voter('v')], ['a', 'b', 'c'], 4, 2);
    const removed = withMirrorRemoved(abcv, 'c', 'a', false);
    expect(removed).toMatchObject({ version: 5, inSync: ['a', 'b'] });
    expect(removed.members.map((m) => m.name)).toEqual(['a', 'b', 'v']);
    expect(() => withMirrorRemoved(abcv, 'a', 'a', false)).toThrow(/is the active/);
    expect(() => withMirrorRemoved(abcv, 'v', 'a', false)).toThrow(/no mirror/);
    expect(() => withMirrorRemoved(abcv, 'x', 'a', false)).toThrow(/no mirror/);
  });

  it('refuses, in consistency mode only, to leave two servers without a voter', () => {
    expect(() => withMirrorRemoved(abc, 'c', 'a', false)).toThrow(/needs a voter/);
    expect(withMirrorRemoved(abc, 'c', 'a', true).members).toHaveLength(2);
    expect(() => withMirrorAdded(view([server('a')], ['a']), server('b'), false)).toThrow(/needs a voter/);
    expect(withMirrorAdded(view([server('a')], ['a']), server('b'), true).members).toHaveLength(2);
    expect(withMirrorAdded(view([server('a'), voter('v')], ['a']), server('b'), false).members).toHaveLength(3);
  });

  it('round-trips a view through its wire form, reads a three-field one as term 0, and refuses garbage', () => {
    expect(viewFromWire(viewToWire(abc))).toEqual(abc);
    expect(viewFromWire(viewToWire(abc).slice(0, 3))).toEqual({ ...abc, term: 0 });
    for (const bad of [null, 7, [], [1, [], [], 0, 'extra'], [1, [['a', 'server', 'u', ['c'], -1]], ['a'], 0], [1, [], [''], 0]]) expect(viewFromWire(bad)).toBeUndefined();
  });
});

interface Harness {
  member: MemberState;
  change: ViewChange;
  mirrors: Array<{ -readonly [K in keyof MirrorProgress]: MirrorProgress[K] }>;
  sent: OutgoingPeerMessage[];
  recorded: () => number;
  followed: string[][];
  /** Members whose address refused the active's last dial. */
  refused: Set<string>;
  advance(ms: number): void;
}

const MIRROR_TIMEOUT_MS = 1000;

/** An active `a` in term 3 of a group with `members`, whose view is recorded with `inSync`. */
async function active(members: GroupMemberConfig[], inSync: string[]): Promise<Harness> {
  let now = 10_000;
  const clock = { monotonicMs: () => now, wallMs: () => now };
  const store = checkedStore(memoryStore(), defaultLogLimits);
  await store.open();
  const member = new MemberState(
    { self: 'a', members, electionTimeMs: 5000, mirrorTimeoutMs: MIRROR_TIMEOUT_MS, leaseMs: 800 },
    { store, clock, log: () => {}, onFailed: (error) => { throw error; } },
    () => {},
  );
  await member.load(() => {});
  const recordedView = view(members, inSync, 1, 3);
  await member.durable.save({ term: 3, view: recordedView });
  member.adoptView(recordedView);
  member.state = 'ACTIVE-COORDINATOR';
  const sent: OutgoingPeerMessage[] = [];
  const outbox: PeerSender = { send: (_to, m) => sent.push(m) > 0, broadcast: (m) => void sent.push(m), canSend: () => true, writeNow: () => {} };
  const mirrors: Harness['mirrors'] = members.filter((m) => m.kind === 'server' && m.name !== 'a').map((m) => ({ mirror: m.name, ackedLsn: 10, lastProgressMs: now }));
  let recorded = 0;
  const followed: string[][] = [];
  const refused = new Set<string>();
  const change = new ViewChange({
    member,
    outbox,
    log: () => {},
    mirrors: () => mirrors,
    lastWrittenLsn: () => 10,
    followMirrors: (servers) => void followed.push([...servers]),
    setPeers: () => {},
    isRefused: (name) => refused.has(name),
    onRecorded: () => void recorded++,
  });
  return { member, change, mirrors, sent, recorded: () => recorded, followed, refused, advance: (ms) => (now += ms) };
}

const viewAck = (from: string, version: number) => ({ kind: 'view-ack' as const, stripe: 0, term: 3, from, version });
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('ViewChange', () => {
  it('takes a mirror silent for longer than mirrorTimeoutMs out of the in-sync set once a majority recorded it', async () => {
    const h = await active([server('a'), server('b'), server('c')], ['a', 'b', 'c']);
    h.advance(MIRROR_TIMEOUT_MS);
    h.change.review();
    expect(h.change.proposed).toBeUndefined(); // not silent for longer yet
    h.mirrors[0]!.lastProgressMs += MIRROR_TIMEOUT_MS; // b answered; c stayed silent
    h.advance(1);
    h.change.review();
    expect(h.change.proposed).toMatchObject({ term: 3, version: 2, inSync: ['a', 'b'] });
    expect(h.sent.at(-1)).toMatchObject({ kind: 'view', term: 3, view: { version: 2 } });
    // While it is recorded, a commit still waits for c, and no other change starts.
    expect([...h.change.inSyncNow()].sort()).toEqual(['a', 'b', 'c']);
    h.change.review();
    expect(h.change.proposed?.version).toBe(2);
    h.change.onViewAck(viewAck('b', 2));
    expect(h.member.view.version).toBe(1); // the active's own record is not on disk yet
    await settle();
    expect(h.member.view).toMatchObject({ version: 2, inSync: ['a', 'b'] });
    expect(h.member.durable.view).toEqual(h.member.view);
    expect(h.recorded()).toBe(1);
    expect(h.change.proposed).toBeUndefined();
  });

  it('takes a mirror out after a quarter of mirrorTimeoutMs once its address refuses a redial (it stopped), not one only silent', async () => {
    const h = await active([server('a'), server('b'), server('c')], ['a', 'b', 'c']);
    h.advance(MIRROR_TIMEOUT_MS / 4 + 1);
    h.mirrors[0]!.lastProgressMs += MIRROR_TIMEOUT_MS / 4 + 1; // b answers; c is silent, its connection merely dropped
    h.change.review();
    expect(h.change.proposed).toBeUndefined();
    h.refused.add('c'); // c's process is gone: nothing accepts at its address
    h.change.review();
    expect(h.change.proposed).toMatchObject({ version: 2, inSync: ['a', 'b'] });
  });

  it('lets a caught-up mirror that answers back into the in-sync set, and not one that lags', async () => {
    const h = await active([server('a'), server('b'), server('c')], ['a', 'b']);
    h.mirrors[1]!.ackedLsn = 9; // c lags one record
    h.change.review();
    expect(h.change.proposed).toBeUndefined();
    h.mirrors[1]!.ackedLsn = 10;
    h.change.review();
    expect(h.change.proposed).toMatchObject({ version: 2, inSync: ['a', 'b', 'c'] });
    // A mirror entering the set must hold every record committed from the moment it was proposed.
    expect([...h.change.inSyncNow()].sort()).toEqual(['a', 'b', 'c']);
    h.change.onViewAck(viewAck('c', 2));
    await settle();
    expect(h.member.view.inSync).toEqual(['a', 'b', 'c']);
  });

  it('counts a membership change only once a majority of the old members and of the new ones recorded it', async () => {
    const h = await active([server('a'), server('b'), server('c')], ['a', 'b', 'c']);
    const done = h.change.changeMembership((v) => withMirrorAdded(v, server('d'), false));
    expect(h.change.proposed?.members.map((m) => m.name)).toEqual(['a', 'b', 'c', 'd']);
    expect(h.followed.at(-1)).toEqual(expect.arrayContaining(['b', 'c', 'd'])); // d is shipped to at once
    h.change.onViewAck(viewAck('d', 2)); // new: a, d = 2 of 4; old: a = 1 of 3
    await settle();
    expect(h.member.view.version).toBe(1);
    h.change.onViewAck(viewAck('b', 1)); // an ack of another version counts for nothing
    await settle();
    expect(h.member.view.version).toBe(1);
    h.change.onViewAck(viewAck('b', 2)); // new: 3 of 4; old: 2 of 3
    const recorded = await done;
    expect(recorded.members.map((m) => m.name)).toEqual(['a', 'b', 'c', 'd']);
    expect(h.member.view).toEqual(recorded);
    expect(h.member.durable.view).toEqual(recorded);
  });

  it('answers a change that would not change the view at once, and one that is refused with its error', async () => {
    const h = await active([server('a'), server('b'), server('c')], ['a', 'b', 'c']);
    expect(await h.change.changeMembership((v) => v)).toBe(h.member.view);
    await expect(h.change.changeMembership((v) => withMirrorRemoved(v, 'a', 'a', false))).rejects.toThrow(/is the active/);
    expect(h.change.proposed).toBeUndefined();
  });

  it('fails the change in progress and the queued ones when the active steps down', async () => {
    const h = await active([server('a'), server('b'), server('c')], ['a', 'b', 'c']);
    const first = h.change.changeMembership((v) => withMirrorAdded(v, server('d'), false));
    const second = h.change.changeMembership((v) => withMirrorAdded(v, server('e'), false));
    h.change.abandon(new Error('stepped down'));
    await expect(first).rejects.toThrow('stepped down');
    await expect(second).rejects.toThrow('stepped down');
    expect(h.change.proposed).toBeUndefined();
  });

  it('records its members again, past the version given up, before it proposes the next membership change', async () => {
    // Two given-up additions to four members a..d: b recorded a..d+e, c a..d+f; majorities of the
    // two (b, e, a and c, d, f) need not meet, and two candidates could each win a term by one.
    const h = await active([server('a'), server('b'), server('c'), server('d')], ['a', 'b', 'c', 'd']);
    const first = h.change.changeMembership((v) => withMirrorAdded(v, server('e'), false));
    const second = h.change.changeMembership((v) => withMirrorAdded(v, server('f'), false));
    expect(h.change.proposed).toMatchObject({ version: 2, members: [{ name: 'a' }, { name: 'b' }, { name: 'c' }, { name: 'd' }, { name: 'e' }] });
    h.change.onViewAck(viewAck('b', 2)); // a, b: 2 of 4 old members, 2 of 5 new
    h.advance(5000);
    h.change.tick();
    await expect(first).rejects.toThrow(TimeoutError);
    // b may hold view 2: the next change is view 3 with the members a..d, not a..d+f.
    expect(h.change.proposed).toMatchObject({ term: 3, version: 3, members: h.member.view.members, inSync: ['a', 'b', 'c', 'd'] });
    h.change.onViewAck(viewAck('b', 3));
    h.change.onViewAck(viewAck('c', 3)); // a, b, c: more than half of a..d+e as well
    await settle();
    expect(h.member.durable.view).toMatchObject({ version: 3, members: h.member.view.members });
    expect(h.change.proposed).toMatchObject({ version: 4 });
    expect(h.change.proposed?.members.map((m) => m.name)).toEqual(['a', 'b', 'c', 'd', 'f']);
    for (const name of ['b', 'c', 'f']) h.change.onViewAck(viewAck(name, 4));
    expect((await second).version).toBe(4);
  });

  it('resends the recorded view each tick to members that have not acknowledged it', async () => {
    const h = await active([server('a'), server('b'), server('c')], ['a', 'b', 'c']);
    h.change.onViewAck(viewAck('b', 1));
    h.sent.length = 0;
    h.change.tick();
    expect(h.sent).toEqual([{ kind: 'view', term: 3, from: 'a', view: h.member.view }]);
  });
});
