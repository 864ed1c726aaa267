/**
 * One member of a mirror group: its role (active, mirror or voter), its term and vote, the
 * recorded in-sync set, elections, and the lease. It reads time only through the `Clock` and
 * `Timers` it is given, so a simulation can drive it.
 *
 * - The active ships every record to each mirror and commits a record once every in-sync mirror
 *   holds it. A mirror silent for `mirrorTimeoutMs` leaves the in-sync set, but only after a
 *   majority of voting members recorded the smaller set; a mirror that caught up re-enters it the
 *   same way. An active that hears from no majority for `leaseMs` steps down.
 * - A mirror applies what the active ships after the common prefix, truncating a divergent tail.
 * - A member that hears from no active for `mirrorTimeoutMs` opens an election for the next term.
 *   For `electionTimeMs`, or until it heard from every member it can reach, it collects
 *   candidacies; then it votes once for the best in-sync candidate at least as up to date as
 *   itself. A candidate with a majority becomes the active.
 */
import { assert } from '../assert.js';
import { NotActiveError } from '../errors.js';
import type { ConnectionLimits, LogLimits } from '../limits.js';
import { indexRecord, type EncodedRecord, type LogRecord } from '../log/record.js';
import { Committer, type RecoveryProgress } from '../commit/committer.js';
import type { CheckedStore } from '../store/checked-store.js';
import type { Clock, Random, TimerHandle, Timers } from '../time.js';
import type { Transport } from '../transport/transport.js';
import { DivergedReport, type DivergedEntry } from './diverged-report.js';
import { DurableState } from './durable-state.js';
import { chooseCandidate, majority, nextOwnTerm, type Candidate } from './election.js';
import { isNewerView, serversOf, withInSync, withMirrorAdded, withMirrorRemoved, type GroupMemberConfig, type GroupView } from './group-view.js';
import { Outbox } from './outbox.js';
import { PeerNetwork } from './peer-network.js';
import type { AckMessage, AppendMessage, CandidacyMessage, PeerMessage, ViewMessage } from './peer-protocol.js';
import { RecentRecords, Shipper } from './shipper.js';
import type { GroupStatus, ServerState } from './status.js';

export type { GroupMemberConfig } from './group-view.js';
export type { GroupStatus, MirrorStatus } from './status.js';

/** The group settings every member shares. */
export interface GroupOptions {
  /** This member's name. */
  self: string;
  /**
   * Every voting member, this one included, as the configuration names them. Once the group
   * recorded a view of its own (after any change of membership or of the in-sync set), the
   * recorded view wins over this list at start.
   */
  members: readonly GroupMemberConfig[];
  /**
   * Set on a server added to a running group: it starts outside the in-sync set, so it neither
   * stands for election nor disturbs the group until the active adds it and it has caught up.
   * @default false
   */
  joining?: boolean;
  /**
   * `consistency`: no split brain, ever. `availability`: a lone server takes over after the
   * election window; the losing side's divergent transactions go to the `diverged` report.
   * @default 'consistency'
   */
  failoverPriority?: 'consistency' | 'availability';
  /** @default 5000 */
  electionTimeMs: number;
  /** @default 2000 */
  mirrorTimeoutMs: number;
  /** @default 3000 */
  leaseMs: number;
}

/** What a member needs from the server around it. */
export interface MemberContext {
  store: CheckedStore;
  logLimits: LogLimits;
  connectionLimits: ConnectionLimits;
  transports: readonly Transport[];
  clock: Clock;
  timers: Timers;
  random: Random;
  log: (line: string) => void;
  /** Called with newly committed records, in LSN order, while this member is the active. */
  onCommitted: (records: readonly LogRecord[]) => void;
  /** Called once if a store write fails; the member's committer then refuses all work. */
  onFailed: (error: unknown) => void;
  /** Called when this member stops being the active. */
  onStepDown: () => void;
  /**
   * A server outside any mirror group: the group is the configuration's one member, which opens
   * a new term and becomes the active at once. A view recorded while the log served in a group
   * is kept on disk but not followed.
   * @default false
   */
  standalone?: boolean;
}

/** A view the active asked the group to record, with who has recorded it. */
interface Proposal {
  view: GroupView;
  /** The view it replaces: a majority of its members must record the change too. */
  previous: GroupView;
  acks: Set<string>;
  startedMs: number;
  /** Set once enough members recorded it, while this member's own record is being written. */
  recording?: boolean;
  settle?: { resolve: (view: GroupView) => void; reject: (error: unknown) => void };
}

/** A membership change an operator asked for, waiting for the proposal before it to settle. */
interface MembershipChange {
  apply: (view: GroupView) => GroupView;
  resolve: (view: GroupView) => void;
  reject: (error: unknown) => void;
}

interface Round {
  term: number;
  deadlineMs: number;
  candidates: Map<string, Candidate>;
  heard: Set<string>;
  closed: boolean;
  votesForMe: Set<string>;
}

const RECENT_RECORDS = 65_536;

export class GroupMember {
  state: ServerState = 'START';
  /** Term, vote and recorded view, on disk; loaded at start. */
  private durable!: DurableState;
  /** Every message leaves through it: none before its term is on disk. */
  private readonly outbox: Outbox;
  private view: GroupView;
  /** Set once this member learned a view without itself: it holds on, but takes no part. */
  private removed = false;
  private leader: string | undefined;
  private knownCommitIndex = 0;
  private lastFromActiveMs: number;
  private readonly self: GroupMemberConfig;
  private readonly network: PeerNetwork;
  private tickTimer: TimerHandle | undefined;
  private round: Round | undefined;
  private applying: Promise<void> = Promise.resolve();
  /** Appends received and not yet applied, in order. */
  private readonly inbox: AppendMessage[] = [];
  private stopped = false;
  /**
   * Until then this member neither votes nor stands. A member without a disk (memory mode) forgets
   * its votes when it restarts; sitting out one election window and one mirror timeout lets every
   * round it may have voted in close first, so it never votes twice in a term.
   */
  private quietUntilMs = 0;
  // Active only:
  private committer: Committer | undefined;
  private readonly shippers = new Map<string, Shipper>();
  private readonly lastHeardMs = new Map<string, number>();
  private shipperContext: ConstructorParameters<typeof Shipper>[1] | undefined;
  private recent = new RecentRecords(RECENT_RECORDS);
  private proposal: Proposal | undefined;
  /** Members known to hold the active's current view; the others are sent it again each tick. */
  private readonly holdView = new Set<string>();
  private readonly membershipChanges: MembershipChange[] = [];
  /** Per mirror, an acknowledged LSN a few seconds back, for the catch-up rate. */
  private readonly rateSamples = new Map<string, { ms: number; lsn: number; rate: number }>();
  private readonly diverged: DivergedReport;
  private promoting = false;
  /** The log's last LSN when this member became the active: reads wait until it is committed. */
  private readBarrier = 0;
  private barrierWaiters: Array<{ resolve: (commitIndex: number) => void; reject: (error: unknown) => void }> = [];

  constructor(
    private readonly options: GroupOptions,
    private readonly context: MemberContext,
  ) {
    const self = options.members.find((m) => m.name === options.self);
    assert(self, `member ${options.self} is not in the group`);
    this.self = self;
    const servers = options.members.filter((m) => m.kind === 'server').map((m) => m.name);
    this.view = { term: 0, version: 0, members: options.members, inSync: options.joining ? [] : servers };
    this.lastFromActiveMs = context.clock.monotonicMs();
    this.diverged = new DivergedReport(context.store, context.logLimits.readBytesMax);
    this.network = new PeerNetwork({
      self: options.self,
      peers: peersOf(this.view.members),
      transports: context.transports,
      timers: context.timers,
      limits: context.connectionLimits,
      onMessage: (message) => this.onMessage(message),
      onError: (error) => context.log(`${options.self}: dropped a peer connection: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`),
      onLinkChange: () => this.checkRound(),
    });
    this.outbox = new Outbox(this.network, () => (this.durable === undefined ? 0 : this.durable.durableTerm));
  }

  /** The current term: the highest this member has seen. */
  get term(): number {
    return this.durable === undefined ? 0 : this.durable.term;
  }

  private get votedFor(): { term: number; name: string } | undefined {
    return this.durable.vote;
  }

  /** Loads term, vote and in-sync set, then joins the group as a mirror (or voter). */
  async start(): Promise<void> {
    const { store } = this.context;
    this.durable = await DurableState.load(store, () => this.outbox.release(), this.context.onFailed);
    const recorded = this.durable.view;
    if (recorded && !this.context.standalone) this.adoptView(recorded);
    // A term whose record a crash lost still stands in the log: record it before acting in it.
    const term = Math.max(this.durable.term, store.lastPosition.term);
    if (term > this.durable.term && !this.context.standalone) await this.durable.save({ term });
    await this.diverged.load();
    if (!store.persistent) this.quietUntilMs = this.context.clock.monotonicMs() + this.options.electionTimeMs + this.options.mirrorTimeoutMs;
    this.state = this.self.kind === 'voter' ? 'PASSIVE-STANDBY' : 'PASSIVE-UNINITIALIZED';
    if (this.context.standalone) return this.takeOfficeAlone();
    this.network.start();
    this.scheduleTick();
  }

  /**
   * A standalone server is its whole group: it becomes the active at once, in a new term per
   * start, so records tell which run of the active wrote them. It has no peers to hear from or
   * ship to, and so nothing to check on a timer.
   */
  private async takeOfficeAlone(): Promise<void> {
    const term = Math.max(this.durable.term, this.context.store.lastPosition.term) + 1;
    await this.durable.save({ term });
    await this.becomeActive(term);
  }

  private get availability(): boolean {
    return this.options.failoverPriority === 'availability';
  }

  /** The peer network, for the server to hand incoming peer connections to. */
  get peers(): PeerNetwork {
    return this.network;
  }

  /** The committer while this member is the active; otherwise `NotActiveError` pointing at the active. */
  activeCommitter(): Committer {
    if (this.committer && this.state === 'ACTIVE-COORDINATOR') return this.committer;
    throw new NotActiveError(this.activeHint());
  }

  /**
   * The commit index a read may use. Only an active holding its lease serves reads, and a new
   * active only once it has committed the log it was elected with: an earlier commit index would
   * hide transactions its predecessor acknowledged.
   */
  readIndex(): Promise<number> {
    const committer = this.activeCommitter();
    if (!this.leaseHeld()) return Promise.reject(new NotActiveError(null));
    if (committer.commitIndex >= this.readBarrier) return Promise.resolve(committer.commitIndex);
    return new Promise((resolve, reject) => this.barrierWaiters.push({ resolve, reject }));
  }

  /** The highest acknowledged LSN this member knows of; readers see nothing above it. */
  get commitIndex(): number {
    return this.committer?.commitIndex ?? this.knownCommitIndex;
  }

  /** Transactions accepted by this member's committer and not yet committed. */
  get pendingCount(): number {
    return this.committer?.pendingCount ?? 0;
  }

  /**
   * Stops taking transactions and waits, up to `timeoutMs`, for those in flight to commit; then
   * fails what is left with `error`.
   */
  async drainCommits(timeoutMs: number, error: Error): Promise<void> {
    const committer = this.committer;
    if (!committer) return;
    await new Promise<void>((resolve) => {
      const timer = this.context.timers.setTimeout(resolve, timeoutMs);
      void committer.drain().then(() => {
        timer.cancel();
        resolve();
      });
    });
    committer.abandon(error);
  }

  /** A client URL of the active this member knows of. */
  activeHint(): string | null {
    const leader = this.view.members.find((m) => m.name === this.leader);
    return leader?.clientUrls[0] ?? null;
  }

  /** The client URLs of every server in the recorded view: what clients follow the group by. */
  clientUrls(): string[] {
    return this.view.members.flatMap((m) => m.clientUrls);
  }

  /** For status: the leader, the recorded view, and each mirror's progress. */
  describe(): GroupStatus {
    const written = this.committer?.lastWrittenLsn ?? this.context.store.lastPosition.lsn;
    return {
      leader: this.leader ?? null,
      members: this.view.members.map((m) => ({ name: m.name, kind: m.kind })),
      inSync: [...this.view.inSync],
      viewVersion: this.view.version,
      removed: this.removed,
      diverged: this.diverged.summary,
      mirrors: [...this.shippers.values()].map((s) => ({
        name: s.mirror,
        ackedLsn: s.ackedLsn,
        lag: written - s.ackedLsn,
        inSync: this.view.inSync.includes(s.mirror),
        rate: this.rateSamples.get(s.mirror)?.rate ?? 0,
      })),
    };
  }

  /** One entry of the `diverged` report (availability mode); undefined past the last. */
  divergedEntry(index: number): Promise<DivergedEntry | undefined> {
    return this.diverged.read(index);
  }

  /**
   * Adds a mirror to the group without pausing the active: once a majority of the old members
   * and of the new ones recorded the new view, the active ships it the log; it joins the in-sync
   * set when caught up. Resolves with the recorded view. Asking again for a mirror already
   * added, with the same addresses, resolves at once.
   *
   * @throws NotActiveError (pointing at the active) on any other member
   * @throws InvalidArgumentError when a name or an address is taken
   */
  addMirror(mirror: GroupMemberConfig): Promise<GroupView> {
    return this.changeMembership((view) => {
      const same = view.members.find((m) => m.name === mirror.name);
      if (same && same.kind === 'server' && same.peer === mirror.peer && same.weight === mirror.weight && same.clientUrls.join() === mirror.clientUrls.join()) return view;
      return withMirrorAdded(view, mirror, this.availability);
    });
  }

  /**
   * Removes a mirror from the group without pausing the active: from the in-sync set and the
   * voting members at once, recorded like any change. The removed server then takes no part.
   *
   * @throws NotActiveError (pointing at the active) on any other member
   * @throws InvalidArgumentError when `name` is not a mirror, or is the active
   */
  removeMirror(name: string): Promise<GroupView> {
    return this.changeMembership((view) => withMirrorRemoved(view, name, this.self.name, this.availability));
  }

  private changeMembership(apply: (view: GroupView) => GroupView): Promise<GroupView> {
    this.activeCommitter();
    return new Promise((resolve, reject) => {
      this.membershipChanges.push({ apply, resolve, reject });
      this.reviewInSync();
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.tickTimer?.cancel();
    this.outbox.clear();
    this.network.close();
    await this.applying;
  }

  // ---- messages ------------------------------------------------------------------------------

  private onMessage(message: PeerMessage): void {
    if (this.stopped || !this.knows(message.from)) return;
    if (message.term > this.term) this.adoptTerm(message.term);
    switch (message.kind) {
      case 'append':
        this.onAppend(message);
        return;
      case 'ack':
        this.onAck(message);
        return;
      case 'view':
        void this.onView(message);
        return;
      case 'view-ack':
        if (message.term !== this.term) return;
        if (this.view.term === this.term && message.version === this.view.version) this.holdView.add(message.from);
        if (this.proposal && this.proposal.view.term === this.term && message.version === this.proposal.view.version) {
          this.proposal.acks.add(message.from);
          this.checkProposal();
        }
        return;
      case 'candidacy':
        this.onCandidacy(message);
        return;
      case 'vote':
        void this.learnView(message.view);
        this.onVote(message.term, message.from, message.votedFor);
        return;
    }
  }

  /** A higher term: step down if active, forget the leader, and persist it. */
  private adoptTerm(term: number): void {
    if (this.state === 'ACTIVE-COORDINATOR') this.stepDown(`saw term ${term}`);
    void this.durable.save({ term });
    this.leader = undefined;
  }

  /** A member of the recorded view, or of the one being recorded: others are not listened to. */
  private knows(name: string): boolean {
    return this.view.members.some((m) => m.name === name) || (this.proposal?.view.members.some((m) => m.name === name) ?? false);
  }

  private onAppend(message: AppendMessage): void {
    if (this.removed) return;
    if (message.term < this.term) {
      this.outbox.send(message.from, { kind: 'ack', term: this.term, from: this.self.name, lastLsn: 0, matched: false });
      return;
    }
    assert(this.state !== 'ACTIVE-COORDINATOR', `two actives in term ${this.term}`);
    this.leader = message.from;
    this.lastFromActiveMs = this.context.clock.monotonicMs();
    if (this.round && this.round.term <= this.term) this.round = undefined;
    this.knownCommitIndex = Math.max(this.knownCommitIndex, message.commitIndex);
    if (this.self.kind === 'voter') {
      this.outbox.send(message.from, { kind: 'ack', term: this.term, from: this.self.name, lastLsn: 0, matched: true });
      return;
    }
    this.inbox.push(message);
    if (this.inbox.length === 1) {
      this.applying = this.applying.then(() => this.applyInbox());
    }
  }

  /**
   * Applies queued appends in order. Appends that queued up behind a store write and follow one
   * another go to the store together: one write (one sync) and one acknowledgement for all.
   */
  private async applyInbox(): Promise<void> {
    while (this.inbox.length > 0) {
      const first = this.inbox[0]!;
      let merged = first;
      let taken = 1;
      // One store write holds at most one group commit's worth, as the store requires.
      const { groupCommitRecordsMax, groupCommitBytesMax } = this.context.logLimits;
      let bytes = byteLength(first.records);
      while (taken < this.inbox.length && merged.records.length > 0) {
        const next = this.inbox[taken]!;
        if (next.term !== merged.term || next.from !== merged.from || next.records.length === 0) break;
        if (next.prevLsn !== merged.prevLsn + merged.records.length) break;
        const nextBytes = byteLength(next.records);
        if (merged.records.length + next.records.length > groupCommitRecordsMax || bytes + nextBytes > groupCommitBytesMax) break;
        merged = { ...merged, records: [...merged.records, ...next.records], commitIndex: next.commitIndex };
        bytes += nextBytes;
        taken++;
      }
      try {
        await this.apply(merged);
      } catch (error) {
        // Not acknowledged: the active re-ships from the last acknowledged LSN.
        this.context.log(`${this.self.name}: cannot apply records: ${String(error)}`);
      } finally {
        this.inbox.splice(0, taken);
      }
    }
  }

  /** Checks the records follow this log, truncates a divergent tail, appends, and acknowledges. */
  private async apply(message: AppendMessage): Promise<void> {
    const { store } = this.context;
    if (this.stopped || message.term !== this.term) return;
    const reply = (lastLsn: number, matched: boolean): void =>
      void this.outbox.send(message.from, { kind: 'ack', term: this.term, from: this.self.name, lastLsn, matched });
    const last = store.lastPosition;
    if (last.lsn < message.prevLsn) return reply(last.lsn, false);
    if ((await this.termAt(message.prevLsn)) !== message.prevTerm) return reply(Math.max(message.prevLsn - 1, 0), false);
    // Copy out of the network buffer, into one buffer for the whole append: one allocation, not one per record.
    const copy = new Uint8Array(byteLength(message.records));
    const records: EncodedRecord[] = [];
    let lsn = message.prevLsn;
    let offset = 0;
    for (const bytes of message.records) {
      copy.set(bytes, offset);
      records.push(indexRecord(copy.subarray(offset, offset + bytes.length), ++lsn));
      offset += bytes.length;
    }
    // Keep what already matches; replace everything after the first difference.
    let skip = 0;
    while (skip < records.length && records[skip]!.lsn <= store.lastPosition.lsn && (await this.termAt(records[skip]!.lsn)) === records[skip]!.term) skip++;
    const fresh = records.slice(skip);
    if (fresh.length > 0) {
      if (store.lastPosition.lsn >= fresh[0]!.lsn) {
        // Under availability both sides of a partition may have acknowledged: keep what goes.
        if (this.availability) {
          const kept = await this.diverged.keepAfter(fresh[0]!.lsn - 1, message.term, this.context.clock.wallMs());
          this.context.log(`${this.self.name}: ${kept} record(s) after LSN ${fresh[0]!.lsn - 1} diverged from the active of term ${message.term}; kept in the diverged report`);
        }
        await store.truncateAfter(fresh[0]!.lsn - 1);
      }
      await store.append(fresh);
    }
    this.state = this.view.inSync.includes(this.self.name) ? 'PASSIVE-STANDBY' : 'PASSIVE-SYNCING';
    reply(message.prevLsn + records.length, true);
  }

  private async termAt(lsn: number): Promise<number> {
    if (lsn === 0) return 0;
    const last = this.context.store.lastPosition;
    if (lsn === last.lsn) return last.term;
    const [record] = await this.context.store.readRecords(lsn, { direction: 'forward', maxCount: 1, maxBytes: 1 });
    return record?.term ?? -1;
  }

  private onAck(message: AckMessage): void {
    if (this.state !== 'ACTIVE-COORDINATOR' || message.term !== this.term) return;
    this.lastHeardMs.set(message.from, this.context.clock.monotonicMs());
    const shipper = this.shippers.get(message.from);
    if (!shipper) return;
    void shipper.onAck(message).then(() => {
      this.maybeCommit();
      void shipper.pump();
    });
  }

  private async onView(message: ViewMessage): Promise<void> {
    if (message.term < this.term) return;
    await this.learnView(message.view);
    this.outbox.send(message.from, { kind: 'view-ack', term: this.term, from: this.self.name, version: message.view.version });
  }

  /** Adopts (and records) a view newer than the one this member holds. */
  private async learnView(view: GroupView): Promise<void> {
    // Newer than the recorded view too: the active's own record of its proposal may be on its way.
    const recorded = this.durable.view;
    // Not newer: it may still be on its way to the disk; whoever waits for this waits for that.
    if (!isNewerView(view, this.view) || (recorded && !isNewerView(view, recorded))) return this.durable.settled();
    this.adoptView(view);
    await this.durable.save({ view });
  }

  /** Follows a view: who to talk to, whether this member is in sync, and whether it is a member still. */
  private adoptView(view: GroupView): void {
    this.view = view;
    if (this.state === 'PASSIVE-STANDBY' && this.self.kind === 'server' && !view.inSync.includes(this.self.name)) this.state = 'PASSIVE-SYNCING';
    const member = view.members.some((m) => m.name === this.self.name);
    if (!member && !this.removed) this.context.log(`${this.self.name}: removed from the group (view ${view.version}); it takes no further part`);
    this.removed = !member;
    this.network.setPeers(this.proposal ? peersOf([...view.members, ...this.proposal.view.members]) : peersOf(view.members));
  }

  // ---- elections -----------------------------------------------------------------------------

  private get tip(): { lastTerm: number; lastLsn: number } {
    const last = this.context.store.lastPosition;
    return { lastTerm: last.term, lastLsn: last.lsn };
  }

  /** Only a server in the recorded in-sync set, holding a log, may stand. */
  private get eligible(): boolean {
    if (this.context.clock.monotonicMs() < this.quietUntilMs) return false;
    return this.self.kind === 'server' && !this.removed && this.view.inSync.includes(this.self.name) && this.state !== 'PASSIVE-SYNCING';
  }

  private startElection(): void {
    const term = this.nextTerm();
    this.adoptTerm(term);
    this.context.log(`${this.self.name}: no active heard; election for term ${term}`);
    this.joinRound(term);
  }

  /** Opens (once) the round of `term`, announcing this member as a candidate or a voter. */
  private joinRound(term: number): Round {
    if (this.round?.term === term) return this.round;
    const round: Round = {
      term,
      deadlineMs: this.context.clock.monotonicMs() + this.options.electionTimeMs,
      candidates: new Map(),
      heard: new Set([this.self.name]),
      closed: false,
      votesForMe: new Set(),
    };
    this.round = round;
    // A round in progress counts as news of an active: the patience before the next election
    // starts again, so the round's winner has time to take office before anyone opens another.
    this.lastFromActiveMs = this.context.clock.monotonicMs();
    const standing = this.eligible && this.leader === undefined;
    if (standing) round.candidates.set(this.self.name, { name: this.self.name, weight: this.self.weight, ...this.tip });
    this.outbox.broadcast({
      kind: 'candidacy',
      term,
      from: this.self.name,
      standing,
      weight: this.self.weight,
      ...this.tip,
      view: this.view,
    });
    return round;
  }

  private onCandidacy(message: CandidacyMessage): void {
    if (message.term < this.term || this.state === 'ACTIVE-COORDINATOR' || this.removed) return;
    void this.learnView(message.view);
    const round = this.joinRound(message.term);
    round.heard.add(message.from);
    if (message.standing) round.candidates.set(message.from, { name: message.from, lastTerm: message.lastTerm, lastLsn: message.lastLsn, weight: message.weight });
    this.checkRound();
  }

  /** Ends the round once its window passed or every reachable member was heard, and votes. */
  private checkRound(): void {
    const round = this.round;
    if (!round || round.closed || round.term !== this.term) return;
    const now = this.context.clock.monotonicMs();
    const everyoneHeard = this.view.members.every((m) => round.heard.has(m.name) || !this.network.isConnected(m.name));
    if (now < round.deadlineMs && !everyoneHeard) return;
    round.closed = true;
    if (this.votedFor && this.votedFor.term >= round.term) return;
    if (now < this.quietUntilMs) return;
    const inSync = new Set(this.view.inSync);
    const choice = chooseCandidate(round.candidates.values(), inSync, inSync.has(this.self.name) ? this.tip : undefined);
    if (!choice) return;
    this.lastFromActiveMs = now;
    void this.durable.save({ vote: { term: round.term, name: choice.name } }).then(() => {
      this.outbox.broadcast({ kind: 'vote', term: round.term, from: this.self.name, votedFor: choice.name, view: this.view });
      this.onVote(round.term, this.self.name, choice.name);
    });
  }

  /**
   * The term this member opens next. Under availability a member may promote itself without a
   * majority, so two members must never open the same term: each opens only terms of its own
   * slot (its place in the view).
   */
  private nextTerm(): number {
    if (!this.availability) return this.term + 1;
    return nextOwnTerm(this.term, this.view.members.findIndex((m) => m.name === this.self.name));
  }

  /**
   * Availability mode: a member that stood, voted for itself and heard from no other server by
   * the end of the window takes over alone, in a term of its own slot that it never announced
   * (so no majority election can have used it).
   */
  private promoteAlone(): void {
    const round = this.round;
    if (!this.availability || !round || !round.closed || round.term !== this.term || this.promoting || this.state === 'ACTIVE-COORDINATOR') return;
    if (this.context.clock.monotonicMs() < round.deadlineMs || this.votedFor?.term !== round.term || this.votedFor.name !== this.self.name) return;
    if (this.view.members.some((m) => m.kind === 'server' && m.name !== this.self.name && round.heard.has(m.name))) return;
    const term = this.nextTerm();
    this.context.log(`${this.self.name}: heard no other server in the window; takes over alone in term ${term} (availability)`);
    this.adoptTerm(term);
    this.promoting = true;
    void this.durable
      .save({ vote: { term, name: this.self.name } })
      .then(() => this.becomeActive(term))
      .finally(() => (this.promoting = false));
  }

  private onVote(term: number, from: string, votedFor: string): void {
    const round = this.round;
    if (!round || round.term !== term || term !== this.term) return;
    round.heard.add(from);
    if (votedFor === this.self.name) {
      round.votesForMe.add(from);
      const votes = this.view.members.filter((m) => round.votesForMe.has(m.name)).length;
      if (votes >= majority(this.view.members.length) && this.state !== 'ACTIVE-COORDINATOR' && !this.promoting) {
        this.promoting = true;
        void this.becomeActive(term).finally(() => (this.promoting = false));
      }
    }
    this.checkRound();
  }

  // ---- the active ----------------------------------------------------------------------------

  private async becomeActive(term: number): Promise<void> {
    const { store } = this.context;
    // The term and the vote that won it are on disk before this member ships in it.
    await this.durable.settled();
    if (this.term !== term || this.stopped) return;
    const recent = new RecentRecords(RECENT_RECORDS);
    let shippable = store.lastPosition.lsn;
    const committer = new Committer({
      store,
      limits: this.context.logLimits,
      clock: this.context.clock,
      timers: this.context.timers,
      term,
      commitIndex: this.knownCommitIndex,
      // Ship while the local disk syncs: the commit waits for both anyway.
      onWriting: (records) => {
        recent.add(records);
        shippable = records[records.length - 1]!.lsn;
        for (const shipper of this.shippers.values()) void shipper.pump();
      },
      onWritten: () => this.maybeCommit(),
      onCommitted: this.context.onCommitted,
      onFailed: this.context.onFailed,
    });
    await committer.recover((p: RecoveryProgress) => {
      if (p.scanned === p.total || p.scanned % 65_536 < this.context.logLimits.readCountMax) this.context.log(`recovery: de-duplication table ${p.scanned}/${p.total} records`);
    });
    if (this.term !== term || this.stopped) {
      committer.abandon(new NotActiveError(null));
      return;
    }
    this.committer = committer;
    this.recent = recent;
    this.readBarrier = store.lastPosition.lsn;
    this.state = 'ACTIVE-COORDINATOR';
    this.leader = this.self.name;
    this.round = undefined;
    const now = this.context.clock.monotonicMs();
    for (const m of this.view.members) this.lastHeardMs.set(m.name, now);
    this.shipperContext = {
      self: this.self.name,
      term: this.term,
      network: this.outbox,
      store,
      recent: this.recent,
      limits: this.context.logLimits,
      shippableLsn: () => shippable,
      commitIndex: () => committer.commitIndex,
      inSync: (mirror) => this.view.inSync.includes(mirror),
      now: () => this.context.clock.monotonicMs(),
    };
    this.shippers.clear();
    this.rateSamples.clear();
    this.followMirrors(serversOf(this.view));
    this.context.log(`${this.self.name} is ACTIVE-COORDINATOR in term ${this.term} at LSN ${store.lastPosition.lsn}`);
    this.heartbeat();
    // Record the view again in this term: it outranks any proposal of an earlier active that some
    // members adopted but no majority recorded, so every member converges on this one. A
    // standalone server has no one to tell, and records no view.
    if (!this.context.standalone) this.propose({ ...this.view, version: this.view.version + 1 });
    this.maybeCommit();
  }

  private stepDown(reason: string): void {
    this.context.log(`${this.self.name}: steps down from term ${this.term} (${reason})`);
    this.committer?.abandon(new NotActiveError(null));
    this.committer = undefined;
    for (const waiter of this.barrierWaiters.splice(0)) waiter.reject(new NotActiveError(null));
    this.shippers.clear();
    this.shipperContext = undefined;
    this.proposal?.settle?.reject(new NotActiveError(null));
    this.proposal = undefined;
    for (const change of this.membershipChanges.splice(0)) change.reject(new NotActiveError(null));
    this.leader = undefined;
    this.state = 'PASSIVE-UNINITIALIZED';
    this.lastFromActiveMs = this.context.clock.monotonicMs();
    this.context.onStepDown();
  }

  /** Commit index: the lowest LSN that this active and every in-sync mirror hold. */
  private maybeCommit(): void {
    const committer = this.committer;
    if (!committer || !this.leaseHeld()) return;
    let lsn = committer.lastWrittenLsn;
    // A mirror entering the in-sync set must hold every record committed from the moment it was proposed.
    const members = this.proposal ? new Set([...this.view.inSync, ...this.proposal.view.inSync]) : this.view.inSync;
    for (const name of members) {
      if (name === this.self.name) continue;
      lsn = Math.min(lsn, this.shippers.get(name)?.ackedLsn ?? 0);
    }
    committer.commitThrough(lsn);
    if (this.barrierWaiters.length > 0 && committer.commitIndex >= this.readBarrier) {
      for (const waiter of this.barrierWaiters.splice(0)) waiter.resolve(committer.commitIndex);
    }
  }

  /** True while a majority of voting members answered within `leaseMs`; always under availability, which serves alone. */
  private leaseHeld(): boolean {
    if (this.availability) return true;
    const now = this.context.clock.monotonicMs();
    let fresh = 1;
    for (const m of this.view.members) {
      if (m.name !== this.self.name && now - (this.lastHeardMs.get(m.name) ?? -Infinity) <= this.options.leaseMs) fresh++;
    }
    return fresh >= majority(this.view.members.length);
  }

  private heartbeat(): void {
    for (const shipper of this.shippers.values()) shipper.heartbeat();
    for (const m of this.view.members) {
      if (m.kind === 'voter') {
        this.outbox.send(m.name, { kind: 'append', term: this.term, from: this.self.name, prevLsn: 0, prevTerm: 0, commitIndex: 0, records: [] });
      }
    }
  }

  /**
   * Makes the next change of the view, one recorded change at a time: an operator's membership
   * change first, then silent mirrors out of the in-sync set and caught-up ones in.
   */
  private reviewInSync(): void {
    if (this.proposal || !this.committer) return;
    const change = this.membershipChanges.shift();
    if (change) {
      let view: GroupView;
      try {
        view = change.apply(this.view);
      } catch (error) {
        change.reject(error);
        return this.reviewInSync();
      }
      if (view === this.view) {
        change.resolve(view);
        return this.reviewInSync();
      }
      return this.propose(view, change);
    }
    const now = this.context.clock.monotonicMs();
    const current = new Set(this.view.inSync);
    for (const shipper of this.shippers.values()) {
      const silent = now - shipper.lastAckMs > this.options.mirrorTimeoutMs;
      const caughtUp = shipper.ackedLsn >= this.committer.lastWrittenLsn;
      if (current.has(shipper.mirror) && silent) current.delete(shipper.mirror);
      else if (!current.has(shipper.mirror) && caughtUp && !silent) current.add(shipper.mirror);
      else continue;
      this.propose(withInSync(this.view, [...current]));
      return;
    }
  }

  /** Asks every voting member, old and new, to record a new view; it takes effect once majorities of both have. */
  private propose(proposed: GroupView, settle?: Proposal['settle']): void {
    const view = { ...proposed, term: this.term };
    this.proposal = { view, previous: this.view, acks: new Set([this.self.name]), startedMs: this.context.clock.monotonicMs(), ...(settle ? { settle } : {}) };
    this.context.log(`${this.self.name}: proposes view ${view.version} (term ${view.term}): servers ${serversOf(view).join(', ')}; in sync ${view.inSync.join(', ')}`);
    // A mirror being added is shipped to from now: it catches up while the change is recorded.
    this.network.setPeers(peersOf([...this.view.members, ...view.members]));
    this.followMirrors([...serversOf(this.view), ...serversOf(view)]);
    this.outbox.broadcast({ kind: 'view', term: this.term, from: this.self.name, view });
  }

  private checkProposal(): void {
    const proposal = this.proposal;
    if (!proposal) return;
    const recordedBy = (view: GroupView): number => view.members.filter((m) => proposal.acks.has(m.name)).length;
    const recorded = recordedBy(proposal.previous) >= majority(proposal.previous.members.length) && recordedBy(proposal.view) >= majority(proposal.view.members.length);
    // Availability: an in-sync change no majority recorded within the window counts anyway.
    const alone = this.availability && !proposal.settle && this.context.clock.monotonicMs() - proposal.startedMs >= this.options.electionTimeMs;
    if ((!recorded && !alone) || proposal.recording) return;
    proposal.recording = true;
    // This member counted itself among those that recorded the view: it does, before acting on it.
    void this.durable.save({ view: proposal.view }).then(() => {
      if (this.proposal !== proposal) {
        // Stepped down meanwhile: the view is recorded all the same.
        if (isNewerView(proposal.view, this.view)) this.adoptView(proposal.view);
        return;
      }
      this.proposal = undefined;
      this.adoptView(proposal.view);
      this.holdView.clear();
      for (const name of proposal.acks) this.holdView.add(name);
      this.followMirrors(serversOf(proposal.view));
      proposal.settle?.resolve(proposal.view);
      this.maybeCommit();
      this.reviewInSync();
    });
  }

  /** Keeps one shipper per mirror named: new ones start at the log's end and walk back to what the mirror holds. */
  private followMirrors(servers: readonly string[]): void {
    const context = this.shipperContext;
    if (!context) return;
    const wanted = new Set(servers.filter((name) => name !== this.self.name));
    for (const name of this.shippers.keys()) {
      if (!wanted.has(name)) {
        this.shippers.delete(name);
        this.rateSamples.delete(name);
      }
    }
    for (const name of wanted) {
      if (!this.shippers.has(name)) this.shippers.set(name, new Shipper(name, context, this.context.store.lastPosition));
    }
  }

  /** Samples each mirror's acknowledged LSN, at most once a second, for the catch-up rate. */
  private sampleRates(now: number): void {
    for (const shipper of this.shippers.values()) {
      const sample = this.rateSamples.get(shipper.mirror);
      if (!sample) this.rateSamples.set(shipper.mirror, { ms: now, lsn: shipper.ackedLsn, rate: 0 });
      else if (now - sample.ms >= 1000) {
        this.rateSamples.set(shipper.mirror, { ms: now, lsn: shipper.ackedLsn, rate: Math.max(0, Math.round(((shipper.ackedLsn - sample.lsn) * 1000) / (now - sample.ms))) });
      }
    }
  }

  // ---- time ----------------------------------------------------------------------------------

  private scheduleTick(): void {
    const every = Math.max(10, Math.min(this.options.mirrorTimeoutMs, this.options.leaseMs, this.options.electionTimeMs) / 5);
    this.tickTimer = this.context.timers.setTimeout(() => {
      if (this.stopped) return;
      this.tick();
      this.scheduleTick();
    }, every);
  }

  private tick(): void {
    const now = this.context.clock.monotonicMs();
    if (this.state === 'ACTIVE-COORDINATOR') {
      if (!this.leaseHeld()) {
        this.stepDown('lease lost: no majority answered');
        return;
      }
      this.heartbeat();
      this.sampleRates(now);
      this.reviewInSync();
      if (this.proposal) {
        this.outbox.broadcast({ kind: 'view', term: this.term, from: this.self.name, view: this.proposal.view });
        this.checkProposal();
      } else {
        // A member that missed the recorded view (paused, cut off) would go on with an older one.
        for (const m of this.view.members) {
          if (m.name !== this.self.name && !this.holdView.has(m.name)) this.outbox.send(m.name, { kind: 'view', term: this.term, from: this.self.name, view: this.view });
        }
      }
      for (const shipper of this.shippers.values()) void shipper.pump();
      this.maybeCommit();
      return;
    }
    this.checkRound();
    this.promoteAlone();
    const silentMs = now - this.lastFromActiveMs;
    // A refused redial to the active says its process is gone: a shorter silence will do.
    const timeoutMs = this.leader !== undefined && this.network.isRefused(this.leader) ? this.options.mirrorTimeoutMs / 4 : this.options.mirrorTimeoutMs;
    // Jitter keeps members that lost the active together from always colliding.
    const patienceMs = timeoutMs + (this.round ? this.options.electionTimeMs : 0) + this.context.random.next() * 50;
    if (this.eligible && silentMs > patienceMs && (!this.round || this.round.closed)) {
      this.lastFromActiveMs = now;
      this.startElection();
    }
  }
}

const peersOf = (members: readonly GroupMemberConfig[]): Array<{ name: string; url: string }> => members.map((m) => ({ name: m.name, url: m.peer }));

function byteLength(records: readonly Uint8Array[]): number {
  let bytes = 0;
  for (const record of records) bytes += record.length;
  return bytes;
}
