/**
 * The active's changes of the group's view, one recorded change at a time: an operator's
 * membership change first, then a silent mirror out of the in-sync set or a caught-up one back
 * in. A change takes effect once a majority of the old view's members and a majority of the new
 * one's recorded it; the active records its own copy before it acts on the change. An operator's
 * change that no such majorities record within an election time is given up, so that it cannot hold
 * the in-sync set (and with it every commit) behind members that do not answer.
 *
 * Why elections stay safe across changes. A member votes once a term; every candidacy and vote
 * carries the sender's view, and a candidate counts its votes by the newest view it heard of. So
 * two candidates win one term only with majorities of their views that do not meet. Majorities
 * of two memberships one member apart always meet; it is enough that, whenever members may hold
 * views two or more members apart, every majority of the older one holds a member that recorded a
 * newer view (whose vote then makes its candidate count by that). One change at a time gives this:
 * the next change is proposed only once a majority of the current members recorded the last one,
 * and a majority of members one apart is more than half of the other's members (it meets each of
 * its majorities). A new active records its view again in its term before any change, which ends
 * any view of an earlier term in the same way, so nothing has to survive a failover.
 *
 * A change given up breaks the chain: members that recorded it keep it. Members a, b, c, d,
 * view 1 (even-sized), active a: view 2 adds e; only b records it (e not running, a's view
 * messages to c and d lost while their heartbeats pass), given up. Built from a's view 1 again,
 * view 3 adds f; only c records it, given up. Cut into a, b, e and c, d, f, b elects by a..e
 * (majority 3: b, e and a, which holds view 1) and c by a..d, f (c, d, f): both win term 2, and
 * each drops the other side from the in-sync set and commits alone (over an odd-sized membership
 * the two majorities always meet). Hence, after a give-up, the active first records its current
 * members again in a higher version, as a new active does, and proposes the next change only once
 * that is recorded: a majority of a..d is more than half of a..e, so view 2 ends there.
 *
 * All this assumes recorded views survive. A member without a disk (memory mode) that restarts
 * forgets its view and follows the configuration's members again. Servers a, b, c, active a; d and
 * e added, recorded by a, b, d, e (a's view messages to c lost); b restarts. Cut into a, d, e and
 * b, c: a keeps a majority of five, while b's vote carries the configuration's view, so c wins two
 * of the three it knows (memory-restart.ts scripts it). The active had counted b as holding its
 * view and never sent it again. Hence a member restarted without a disk answers the active's first
 * append with a `view-ack` of version 0, below any an active proposes, and the active sends its
 * view again: b holds it again long before its quiet period (which keeps it from voting twice in a
 * term) lets it vote. What remains: such a member that hears no active during its whole quiet
 * period (cut off as it restarts) still votes by the configuration's members. Closing that too
 * (no vote until an active sent the view, except when every server forgot) also stops a memory
 * group electing when a server is down at a cold start, or when its active dies before a
 * restarted mirror got the view (test/group.test.ts): from inside, a live active cut off with
 * members added and a dead one look alike.
 */
import { TimeoutError } from '../errors.js';
import { majority, silenceAllowedMs } from './election.js';
import { isNewerView, serversOf, withInSync, type GroupMemberConfig, type GroupView } from './group-view.js';
import type { MemberState } from './member-state.js';
import type { PeerSender } from './outbox.js';
import type { ViewAckMessage } from './peer-protocol.js';

/** A view the active asked the group to record, with who has recorded it. */
interface Proposal {
  view: GroupView;
  /** The view it replaces: a majority of its members must record the change too. */
  previous: GroupView;
  acks: Set<string>;
  startedMs: number;
  /** Set once enough members recorded it, while this member's own record is being written. */
  recording: boolean;
  settle?: { resolve: (view: GroupView) => void; reject: (error: unknown) => void };
}

/** A membership change an operator asked for, waiting for the proposal before it to settle. */
interface MembershipChange {
  apply: (view: GroupView) => GroupView;
  resolve: (view: GroupView) => void;
  reject: (error: unknown) => void;
}

/** A mirror's progress, as the active's shipper to it knows it. */
export interface MirrorProgress {
  readonly mirror: string;
  readonly ackedLsn: number;
  /** When the mirror last kept up (answered holding all shipped, or acknowledged further), on the monotonic clock. */
  readonly lastProgressMs: number;
}

export interface ViewChangeContext {
  member: MemberState;
  outbox: PeerSender;
  log: (line: string) => void;
  /** Each mirror shipped to. */
  mirrors: () => Iterable<MirrorProgress>;
  /** The last LSN durable in the active's log: a mirror holding it has caught up. */
  lastWrittenLsn: () => number;
  /** Ships to these servers from now on, and to no others. */
  followMirrors: (servers: readonly string[]) => void;
  /** Stays connected to these members. */
  setPeers: (members: readonly GroupMemberConfig[]) => void;
  /** Whether the last dial to a member was refused: nothing accepts at its address, its process is gone. */
  isRefused: (name: string) => boolean;
  /** A view was recorded: the set a commit waits for may have changed. */
  onRecorded: () => void;
}

export class ViewChange {
  private proposal: Proposal | undefined;
  /** Members known to hold the active's current view; the others are sent it again each tick. */
  private readonly holdView = new Set<string>();
  /** The highest version proposed: a view after a change given up gets a higher one, as some members may hold it. */
  private lastProposedVersion = 0;
  private readonly membershipChanges: MembershipChange[] = [];

  constructor(private readonly context: ViewChangeContext) {}

  /** The view being recorded, if any. */
  get proposed(): GroupView | undefined {
    return this.proposal?.view;
  }

  /** No view is being recorded and no operator's change waits: nothing for a tick to resend or give up. */
  get settled(): boolean {
    return this.proposal === undefined && this.membershipChanges.length === 0;
  }

  /**
   * The servers a commit waits for: the in-sync set, and while a change is recorded the proposed
   * one too (a mirror entering it must hold every record committed from the moment it was proposed).
   */
  inSyncNow(): Iterable<string> {
    const { view } = this.context.member;
    return this.proposal ? new Set([...view.inSync, ...this.proposal.view.inSync]) : view.inSync;
  }

  /** Queues an operator's change of the membership; resolves with the view once it is recorded. */
  changeMembership(apply: (view: GroupView) => GroupView): Promise<GroupView> {
    return new Promise((resolve, reject) => {
      this.membershipChanges.push({ apply, resolve, reject });
      this.review();
    });
  }

  /**
   * Makes the next change of the view, one recorded change at a time: an operator's membership
   * change first, then silent mirrors out of the in-sync set and caught-up ones in.
   */
  review(): void {
    if (this.proposal) return;
    const { member } = this.context;
    const change = this.membershipChanges.shift();
    if (change) {
      let view: GroupView;
      try {
        view = change.apply(member.view);
      } catch (error) {
        change.reject(error);
        return this.review();
      }
      if (view === member.view) {
        change.resolve(view);
        return this.review();
      }
      return this.propose(view, change);
    }
    const now = member.clock.monotonicMs();
    const { inSync } = member.view;
    for (const mirror of this.context.mirrors()) {
      // Silent, or answering without taking what is shipped: commits would wait on it. A mirror that
      // stopped (a shutdown, a crash) refuses the redial: commits need not wait the whole timeout for it.
      const stalled = now - mirror.lastProgressMs > silenceAllowedMs(member.options.mirrorTimeoutMs, this.context.isRefused(mirror.mirror));
      const caughtUp = mirror.ackedLsn >= this.context.lastWrittenLsn();
      const held = inSync.includes(mirror.mirror);
      // Built only for a change: this runs every tick, and most find none.
      if (held && stalled) this.propose(withInSync(member.view, inSync.filter((name) => name !== mirror.mirror)));
      else if (!held && caughtUp && !stalled) this.propose(withInSync(member.view, [...inSync, mirror.mirror]));
      else continue;
      return;
    }
  }

  /** Asks every voting member, old and new, to record a new view; it takes effect once majorities of both have. */
  propose(proposed: GroupView, settle?: Proposal['settle']): void {
    const { member } = this.context;
    const view = { ...proposed, term: member.term, version: Math.max(proposed.version, this.lastProposedVersion + 1) };
    this.lastProposedVersion = view.version;
    this.proposal = { view, previous: member.view, acks: new Set([member.self.name]), startedMs: member.clock.monotonicMs(), recording: false, ...(settle ? { settle } : {}) };
    this.context.log(`${member.self.name}: proposes view ${view.version} (term ${view.term}): servers ${serversOf(view).join(', ')}; in sync ${view.inSync.join(', ')}`);
    // A mirror being added is shipped to from now: it catches up while the change is recorded.
    this.context.setPeers([...member.view.members, ...view.members]);
    this.context.followMirrors([...serversOf(member.view), ...serversOf(view)]);
    this.context.outbox.broadcast({ kind: 'view', term: member.term, from: member.self.name, view });
  }

  /** A member recorded a view of the current term. */
  onViewAck(message: ViewAckMessage): void {
    const { member } = this.context;
    if (member.view.term === member.term && message.version === member.view.version) this.holdView.add(message.from);
    // An older version: the member restarted without a disk and forgot the view; the next tick sends it again.
    else if (message.version < member.view.version) this.holdView.delete(message.from);
    const proposal = this.proposal;
    if (proposal && proposal.view.term === member.term && message.version === proposal.view.version) {
      proposal.acks.add(message.from);
      this.check();
    }
  }

  /** Sends the proposal again (or the view to members that missed it), and checks whether it counts now. */
  tick(): void {
    const { member, outbox } = this.context;
    this.review();
    if (this.proposal) {
      outbox.broadcast({ kind: 'view', term: member.term, from: member.self.name, view: this.proposal.view });
      this.check();
      this.giveUpIfStuck();
      return;
    }
    // A member that missed the recorded view (paused, cut off) would go on with an older one.
    for (const m of member.view.members) {
      if (m.name !== member.self.name && !this.holdView.has(m.name)) outbox.send(m.name, { kind: 'view', term: member.term, from: member.self.name, view: member.view });
    }
  }

  /** This member is no longer the active: every change waiting fails with `error`. */
  abandon(error: Error): void {
    this.proposal?.settle?.reject(error);
    this.proposal = undefined;
    for (const change of this.membershipChanges.splice(0)) change.reject(error);
  }

  /**
   * Gives up an operator's change that majorities have not recorded within an election time: a
   * member added that does not run yet, with another member down, would otherwise keep it pending
   * for good, and every change behind it, the in-sync set's included. The operator's request fails.
   * Some members may hold the view given up, so the current members are recorded again past it
   * before any other change (see the module comment); a majority of them suffices, as for any
   * in-sync change, so this cannot hold the group where the change given up did.
   */
  private giveUpIfStuck(): void {
    const { member } = this.context;
    const proposal = this.proposal;
    const timeoutMs = member.options.electionTimeMs;
    if (!proposal?.settle || proposal.recording || member.clock.monotonicMs() - proposal.startedMs < timeoutMs) return;
    this.proposal = undefined;
    const silent = proposal.view.members.filter((m) => !proposal.acks.has(m.name)).map((m) => m.name);
    this.context.log(`${member.self.name}: gives up view ${proposal.view.version}: ${silent.join(', ')} did not record it within ${timeoutMs} ms`);
    this.context.setPeers(member.view.members);
    this.context.followMirrors(serversOf(member.view));
    proposal.settle.reject(new TimeoutError(`the membership change (view ${proposal.view.version}, not recorded by ${silent.join(', ')})`, timeoutMs));
    if (member.options.plantedGiveUpWithoutRecording) this.review();
    else this.propose({ ...member.view });
  }

  private check(): void {
    const { member } = this.context;
    const proposal = this.proposal;
    if (!proposal || proposal.recording) return;
    const recordedBy = (view: GroupView): number => view.members.filter((m) => proposal.acks.has(m.name)).length;
    const recorded = recordedBy(proposal.previous) >= majority(proposal.previous.members.length) && recordedBy(proposal.view) >= majority(proposal.view.members.length);
    // Availability: an in-sync change no majority recorded within the window counts anyway.
    const alone = member.availability && !proposal.settle && member.clock.monotonicMs() - proposal.startedMs >= member.options.electionTimeMs;
    if (!recorded && !alone) return;
    proposal.recording = true;
    // This member counted itself among those that recorded the view: it does, before acting on it.
    void member.durable.save({ view: proposal.view }).then(() => this.recorded(proposal));
  }

  private recorded(proposal: Proposal): void {
    const { member } = this.context;
    if (this.proposal !== proposal) {
      // Stepped down meanwhile: the view is recorded all the same.
      if (isNewerView(proposal.view, member.view)) member.adoptView(proposal.view);
      return;
    }
    this.proposal = undefined;
    member.adoptView(proposal.view);
    this.holdView.clear();
    for (const name of proposal.acks) this.holdView.add(name);
    this.context.followMirrors(serversOf(proposal.view));
    proposal.settle?.resolve(proposal.view);
    this.context.onRecorded();
    this.review();
  }
}
