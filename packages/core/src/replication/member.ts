/**
 * One member of a mirror group, as a router between its roles: it hands each peer message to the
 * role it is for, runs the timer and switches roles. Time comes only through the `Clock` and
 * `Timers` it is given, so a simulation can drive it. The roles: {@link MemberState} (term, vote
 * and view, on disk; the leader), {@link Follower}, {@link Election}, {@link Active} (committer,
 * shippers, commit index, lease, read barrier) with its {@link ViewChange}, and `status.ts`.
 */
import { assert } from '../assert.js';
import { NotActiveError, StoreClosedError } from '../errors.js';
import { APPEND_FRAME_HEADROOM_BYTES } from '../limits.js';
import type { Committer } from '../commit/committer.js';
import type { TimerHandle } from '../time.js';
import { Active } from './active.js';
import { DivergedReport, type DivergedEntry, type ForcedDecision } from './diverged-report.js';
import { Election } from './election-round.js';
import { commitPointOf } from './election.js';
import { Follower } from './follower.js';
import { withMirrorAdded, withMirrorRemoved, type GroupMemberConfig, type GroupView } from './group-view.js';
import type { GroupOptions, MemberContext } from './member-context.js';
import { MemberState } from './member-state.js';
import { MirrorCommit } from './mirror-commit.js';
import { Outbox } from './outbox.js';
import { PeerNetwork } from './peer-network.js';
import { SINGLE_STRIPE, type AppendMessage, type GroupMessage, type ViewMessage } from './peer-protocol.js';
import { groupStatus, type GroupStatus, type ServerState } from './status.js';

export type { GroupMemberConfig } from './group-view.js';
export type { GroupOptions, MemberContext } from './member-context.js';
export type { GroupStatus, MirrorStatus } from './status.js';

export class GroupMember {
  private readonly member: MemberState;
  private readonly network: PeerNetwork;
  /** Every message leaves through it: none before its term is on disk. */
  private readonly outbox: Outbox;
  private readonly diverged: DivergedReport;
  private readonly follower: Follower;
  /** How far this member, as a mirror, knows its log is committed. */
  private readonly mirrorCommit = new MirrorCommit();
  private readonly election: Election;
  /** The active role, while this member holds office. */
  private active: Active | undefined;
  private tickTimer: TimerHandle | undefined;
  private stopped = false;
  /** When this member last asked the active for its view (see askForView), monotonic ms. */
  private viewAskedMs = -Infinity;

  constructor(
    private readonly options: GroupOptions,
    private readonly context: MemberContext,
  ) {
    this.member = new MemberState(options, context, (view) => this.setPeers(view.members));
    this.diverged = new DivergedReport(context.store, context.logLimits.readBytesMax);
    this.network = new PeerNetwork({
      self: options.self,
      peers: peersOf(this.member.view.members),
      transports: context.transports,
      timers: context.timers,
      limits: context.connectionLimits,
      stripe: context.stripe ?? SINGLE_STRIPE,
      onLinkChange: () => this.election.checkRound(),
      mutualTls: options.mutualTls ?? false,
    });
    this.outbox = new Outbox(this.network, () => this.member.durableTerm);
    const { store, logLimits, log } = context;
    this.follower = new Follower({ member: this.member, outbox: this.outbox, store, logLimits, diverged: this.diverged, commit: this.mirrorCommit, log, stopped: () => this.stopped, onFailed: context.onFailed, defer: (callback) => context.timers.defer(callback) });
    this.election = new Election({
      member: this.member,
      outbox: this.outbox,
      random: context.random,
      log,
      isConnected: (name) => this.network.isConnected(name),
      isRefused: (name) => this.network.isRefused(name),
      speaksPreVote: (name) => this.network.speaksPreVote(name),
      becomeActive: (term, askedAtMs) => this.becomeActive(term, askedAtMs),
      roundOpened: () => {
        if (context.counters) context.counters.elections++;
      },
    });
  }

  get state(): ServerState {
    return this.member.state;
  }

  /** The current term: the highest this member has seen. */
  get term(): number {
    return this.member.term;
  }

  /** Loads term, vote and in-sync set, then joins the group as a mirror (or voter). */
  async start(): Promise<void> {
    await this.member.load(() => this.outbox.release());
    await this.diverged.load();
    if (this.context.standalone) return this.takeOfficeAlone();
    this.network.start();
    this.scheduleTick();
  }

  /**
   * A standalone server is its whole group: the active at once, in a new term per start (records
   * tell which run wrote them). With no peers it has nothing to check on a timer.
   */
  private async takeOfficeAlone(): Promise<void> {
    const term = Math.max(this.member.term, this.context.store.lastPosition.term) + 1;
    await this.member.durable.save({ term });
    await this.becomeActive(term, this.member.clock.monotonicMs());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.tickTimer?.cancel();
    this.outbox.clear();
    this.network.close();
    await this.follower.idle();
  }

  /** Takes a message of this member's stripe from the process's peer inbox. */
  receive(message: GroupMessage): void {
    this.onMessage(message);
  }

  /** The committer while this member is the active; otherwise `NotActiveError` pointing at the active. */
  activeCommitter(): Committer {
    return this.requireActive().committer;
  }

  /** The commit index a read may use: the active's, once its lease and read barrier allow. */
  readIndex(): Promise<number> {
    return this.requireActive().readIndex();
  }

  /**
   * The commit index a read served by this member as a mirror may use (a backup from a mirror):
   * see {@link MirrorCommit.readIndex}. An in-sync mirror hears the active's commit index more
   * often than `mirrorTimeoutMs`, so it waits that long at most.
   */
  mirrorReadIndex(throughLsn: number): Promise<number> {
    return this.mirrorCommit.readIndex(this.member, throughLsn, this.options.mirrorTimeoutMs, this.context.timers);
  }

  /** The highest acknowledged LSN this member knows of; readers see nothing above it. */
  get commitIndex(): number {
    return this.active?.committer.commitIndex ?? this.member.knownCommitIndex;
  }

  /** Transactions accepted by this member's committer and not yet committed. */
  get pendingCount(): number {
    return this.active?.committer.pendingCount ?? 0;
  }

  /** On the active: waits up to `timeoutMs` for the transactions in flight, then fails the rest with `error`. */
  drainCommits(timeoutMs: number, error: Error): Promise<void> {
    return this.active?.drain(timeoutMs, error) ?? Promise.resolve();
  }

  /** The client URLs of every server in the recorded view: what clients follow the group by. */
  clientUrls(): string[] {
    return this.member.view.members.flatMap((m) => m.clientUrls);
  }

  /** The active's name as far as this member knows, or null. */
  get leaderName(): string | null {
    return this.member.leader ?? null;
  }

  /** The servers of the recorded view, with their client URLs: what the topology lists for this stripe. */
  servers(): Array<{ name: string; urls: string[] }> {
    return this.member.view.members.filter((m) => m.kind === 'server').map((m) => ({ name: m.name, urls: [...m.clientUrls] }));
  }

  /** For status: the leader, the recorded view, and each mirror's progress. */
  describe(): GroupStatus {
    return groupStatus(this.member, this.diverged.summary, this.active?.mirrorStatuses() ?? []);
  }

  /** On the active, each mirror's lag in seconds; empty elsewhere. */
  mirrorLagSeconds(): Array<{ mirror: string; seconds: number }> {
    return this.active?.mirrorLagSeconds() ?? [];
  }

  /** One entry of the `diverged` report (availability mode); undefined past the last. */
  divergedEntry(index: number): Promise<DivergedEntry | undefined> {
    return this.diverged.read(index);
  }

  /** Keeps an operator's forced decision on a part prepared at `prepareLsn` in the `diverged` report. */
  keepForcedDecision(forced: ForcedDecision, prepareLsn: number): Promise<void> {
    return this.diverged.keepForced(forced, prepareLsn, this.member.term, this.context.clock.wallMs());
  }

  /**
   * Adds a mirror without pausing the active; resolves once majorities of the old and the new
   * members recorded the view (asking again for the same mirror resolves at once). Every refusal
   * is a rejection, never a throw: a caller that lost the active meanwhile handles one path.
   * @throws NotActiveError (pointing at the active) on any other member
   * @throws InvalidArgumentError when a name or an address is taken
   */
  async addMirror(mirror: GroupMemberConfig): Promise<GroupView> {
    return this.changeMembership((view) => {
      const same = view.members.find((m) => m.name === mirror.name);
      if (same && same.kind === 'server' && same.peer === mirror.peer && same.weight === mirror.weight && same.clientUrls.join() === mirror.clientUrls.join()) return view;
      return withMirrorAdded(view, mirror, this.member.availability);
    });
  }

  /**
   * Removes a mirror without pausing the active, from the in-sync set and the voting members at once.
   * @throws NotActiveError (pointing at the active) on any other member
   * @throws InvalidArgumentError when `name` is not a mirror, or is the active
   */
  async removeMirror(name: string): Promise<GroupView> {
    return this.changeMembership((view) => withMirrorRemoved(view, name, this.member.self.name, this.member.availability));
  }

  private changeMembership(apply: (view: GroupView) => GroupView): Promise<GroupView> {
    const change = this.requireActive().viewChange.changeMembership(apply);
    // Ticks record the change (resend the view, give it up): an active that rested alone needs them again.
    this.keepTicking();
    return change;
  }

  private requireActive(): Active {
    if (this.active && this.member.isActive) return this.active;
    throw new NotActiveError(this.member.activeHint());
  }

  // ---- messages ------------------------------------------------------------------------------

  private onMessage(message: GroupMessage): void {
    if (this.stopped || !this.knows(message.from)) return;
    if (message.term > this.term) this.adoptTerm(message.term);
    switch (message.kind) {
      case 'append':
        return this.onAppend(message);
      case 'ack':
        if (this.member.isActive && message.term === this.term) this.active?.onAck(message);
        return;
      case 'view':
        void this.onView(message);
        return;
      case 'view-ack':
        if (message.term === this.term) this.active?.viewChange.onViewAck(message);
        return;
      case 'candidacy':
        return this.election.onCandidacy(message);
      case 'pre-candidacy':
        return this.election.onPreCandidacy(message.from, message.term);
      case 'pre-vote':
        return this.election.onPreVote(message.from, message.term, message.granted);
      case 'vote':
        void this.member.learnView(message.view);
        return this.election.onVote(message.term, message.from, message.votedFor);
    }
  }

  /** A higher term: step down if active, forget the leader, and record it. */
  private adoptTerm(term: number): void {
    if (this.member.isActive) this.stepDown(`saw term ${term}`);
    this.member.adoptTerm(term);
  }

  /** A member of the recorded view, or of the one being recorded: others are not listened to. */
  private knows(name: string): boolean {
    const proposed = this.active?.viewChange.proposed;
    return this.member.view.members.some((m) => m.name === name) || (proposed?.members.some((m) => m.name === name) ?? false);
  }

  private onAppend(message: AppendMessage): void {
    const { member } = this;
    if (member.removed) return;
    if (message.term < member.term) {
      this.outbox.send(message.from, { kind: 'ack', term: member.term, from: member.self.name, lastLsn: 0, matched: false });
      return;
    }
    assert(!member.isActive, `two actives in term ${member.term}`);
    member.heardFromActive(message.from, commitPointOf(message.commitIndex, message.term, message.termStartLsn));
    if (member.awaitingView) this.askForView(message.from);
    this.election.onActiveHeard();
    this.follower.receive(message);
  }

  private async onView(message: ViewMessage): Promise<void> {
    if (message.term < this.term) return;
    await this.member.learnView(message.view);
    // Only an active sends views: this is the group's, whatever this member forgot.
    this.member.awaitingView = false;
    this.outbox.send(message.from, { kind: 'view-ack', term: this.term, from: this.member.self.name, version: message.view.version });
  }

  /**
   * Tells the active this member holds none of its views (a `view-ack` of version 0, which no
   * active proposes), at most once a lease: the active had counted it as holding its view since
   * before it restarted without a disk, and sends it again.
   */
  private askForView(active: string): void {
    const now = this.context.clock.monotonicMs();
    if (now - this.viewAskedMs < this.options.leaseMs) return;
    this.viewAskedMs = now;
    this.outbox.send(active, { kind: 'view-ack', term: this.term, from: this.member.self.name, version: 0 });
  }

  /** Talks to the members of `members`, and of the view being recorded. */
  private setPeers(members: readonly GroupMemberConfig[]): void {
    const proposed = this.active?.viewChange.proposed;
    this.network.setPeers(peersOf(proposed ? [...members, ...proposed.members] : members));
  }

  // ---- role switch ---------------------------------------------------------------------------

  /** @param askedAtMs when this member asked for the votes that elected it: its lease counts them from then */
  private async becomeActive(term: number, askedAtMs: number): Promise<void> {
    // The term and the vote that won it are on disk before this member ships in it.
    await this.member.durable.settled();
    if (this.term !== term || this.stopped) return;
    const { store, logLimits, timers, log, onCommitted, onFailed, onRecoveredRecord } = this.context;
    const active = new Active(term, {
      member: this.member,
      outbox: this.outbox,
      store,
      logLimits,
      timers,
      log,
      onCommitted,
      onFailed,
      ...(onRecoveredRecord ? { onRecoveredRecord } : {}),
      setPeers: (members) => this.network.setPeers(peersOf(members)),
      isRefused: (name) => this.network.isRefused(name),
      standalone: this.context.standalone ?? false,
      recordBytesMax: this.context.connectionLimits.frameBytesMax - APPEND_FRAME_HEADROOM_BYTES,
      ...(this.context.counters ? { counters: this.context.counters.commit } : {}),
    });
    try {
      await active.recover();
    } catch (error) {
      active.close(new NotActiveError(null));
      // The store closed under the promotion: the member is stopping, and takes no office.
      if (error instanceof StoreClosedError) return;
      // A lone server's start fails with the cause; a group member's store failed under it, and
      // the server stops acknowledging anything, as after a failed write.
      if (this.context.standalone) throw error;
      onFailed(error);
      return;
    }
    if (this.term !== term || this.stopped || !store.isOpen) {
      active.close(new NotActiveError(null));
      return;
    }
    this.active = active;
    this.member.state = 'ACTIVE-COORDINATOR';
    this.member.leader = this.member.self.name;
    // Its log is now the group's: whatever it forgot before is no longer committed anywhere.
    this.member.forgotLog = false;
    this.election.onTookOffice();
    active.open(askedAtMs);
    this.context.onTookOffice?.(term);
  }

  private stepDown(reason: string): void {
    this.context.log(`${this.member.self.name}: steps down from term ${this.term} (${reason})`);
    this.active?.close(new NotActiveError(null));
    this.active = undefined;
    this.member.leader = undefined;
    this.member.state = 'PASSIVE-UNINITIALIZED';
    this.member.lastFromActiveMs = this.member.clock.monotonicMs();
    this.context.onStepDown();
    this.keepTicking();
  }

  // ---- time ----------------------------------------------------------------------------------

  private scheduleTick(): void {
    const every = Math.max(10, Math.min(this.options.mirrorTimeoutMs, this.options.leaseMs, this.options.electionTimeMs) / 5);
    this.tickTimer = this.context.timers.setTimeout(() => {
      this.tickTimer = undefined;
      if (this.stopped) return;
      this.tick();
      // An active alone in its group has nothing to tick for (Active.restsAlone): in a cluster of
      // many one-server stripes, every process would otherwise wake several times a second for nothing.
      if (!(this.active && this.member.isActive && this.active.restsAlone)) this.keepTicking();
    }, every);
  }

  /** Schedules the next tick unless one is due (a step down inside a tick schedules it) or the member never ticks. */
  private keepTicking(): void {
    if (this.tickTimer === undefined && !this.stopped && !this.context.standalone) this.scheduleTick();
  }

  private tick(): void {
    const now = this.member.clock.monotonicMs();
    if (this.active && this.member.isActive) {
      if (!this.active.tick(now)) this.stepDown('lease lost: no majority answered');
      return;
    }
    this.election.tick(now);
  }
}

const peersOf = (members: readonly GroupMemberConfig[]): Array<{ name: string; url: string }> => members.map((m) => ({ name: m.name, url: m.peer }));
