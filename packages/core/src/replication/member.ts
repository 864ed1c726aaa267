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
import { decode, encode } from '@msgpack/msgpack';
import { assert } from '../assert.js';
import { NotActiveError } from '../errors.js';
import type { ConnectionLimits, LogLimits } from '../limits.js';
import { decodeRecord, type EncodedRecord } from '../log/record.js';
import type { Committer } from '../server/committer.js';
import type { ServerState } from '../server/server.js';
import type { CheckedStore } from '../store/checked-store.js';
import type { Clock, Random, TimerHandle, Timers } from '../time.js';
import type { Transport } from '../transport/transport.js';
import { chooseCandidate, majority, type Candidate } from './election.js';
import { PeerNetwork } from './peer-network.js';
import type { AckMessage, AppendMessage, CandidacyMessage, InSyncMessage, PeerMessage } from './peer-protocol.js';
import { RecentRecords, Shipper } from './shipper.js';

/** A voting member of the group, as every member knows it from the configuration. */
export interface GroupMemberConfig {
  name: string;
  kind: 'server' | 'voter';
  /** Peer URL. */
  peer: string;
  /** Client URLs (servers only), for pointing clients at the active. */
  clientUrls: readonly string[];
  weight: number;
}

/** The group settings every member shares. */
export interface GroupOptions {
  /** This member's name. */
  self: string;
  /** Every voting member, this one included. */
  members: readonly GroupMemberConfig[];
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
  /** Makes (and recovers) the committer of a new active term, starting from `commitIndex`. */
  startCommitter: (
    term: number,
    commitIndex: number,
    hooks: { onWriting: (records: readonly EncodedRecord[]) => void; onWritten: (records: readonly EncodedRecord[]) => void },
  ) => Promise<Committer>;
  /** Called when this member stops being the active. */
  onStepDown: () => void;
}

interface InSyncSet {
  version: number;
  members: string[];
}

interface Round {
  term: number;
  deadlineMs: number;
  candidates: Map<string, Candidate>;
  heard: Set<string>;
  closed: boolean;
  votesForMe: Set<string>;
}

const META_TERM = 'term';
const META_VOTE = 'vote';
const META_IN_SYNC = 'in-sync';
const RECENT_RECORDS = 65_536;

/** Per-mirror replication state, for status. */
export interface MirrorStatus {
  name: string;
  ackedLsn: number;
  lag: number;
  inSync: boolean;
}

export class GroupMember {
  state: ServerState = 'START';
  term = 0;
  private votedFor: { term: number; name: string } | undefined;
  private inSync: InSyncSet;
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
  // Active only:
  private committer: Committer | undefined;
  private readonly shippers = new Map<string, Shipper>();
  private readonly lastHeardMs = new Map<string, number>();
  private recent = new RecentRecords(RECENT_RECORDS);
  private proposal: (InSyncSet & { acks: Set<string> }) | undefined;
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
    this.inSync = { version: 0, members: options.members.filter((m) => m.kind === 'server').map((m) => m.name) };
    this.lastFromActiveMs = context.clock.monotonicMs();
    this.network = new PeerNetwork({
      self: options.self,
      peers: options.members.filter((m) => m.name !== options.self).map((m) => ({ name: m.name, url: m.peer })),
      transports: context.transports,
      timers: context.timers,
      limits: context.connectionLimits,
      onMessage: (message) => this.onMessage(message),
      onError: (error) => context.log(`${options.self}: dropped a peer connection: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`),
      onLinkChange: () => this.checkRound(),
    });
  }

  /** Loads term, vote and in-sync set, then joins the group as a mirror (or voter). */
  async start(): Promise<void> {
    const { store } = this.context;
    this.term = Math.max(Number(await this.meta(META_TERM)) || 0, store.lastPosition.term);
    const vote = (await this.meta(META_VOTE)) as [number, string] | undefined;
    if (vote) this.votedFor = { term: vote[0], name: vote[1] };
    const inSync = (await this.meta(META_IN_SYNC)) as [number, string[]] | undefined;
    if (inSync) this.inSync = { version: inSync[0], members: inSync[1] };
    this.state = this.self.kind === 'voter' ? 'PASSIVE-STANDBY' : 'PASSIVE-UNINITIALIZED';
    this.network.start();
    this.scheduleTick();
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

  /** A client URL of the active this member knows of. */
  activeHint(): string | null {
    const leader = this.options.members.find((m) => m.name === this.leader);
    return leader?.clientUrls[0] ?? null;
  }

  /** For status: the leader, the in-sync set, and each mirror's progress. */
  describe(): { leader: string | null; inSync: string[]; inSyncVersion: number; mirrors: MirrorStatus[] } {
    const written = this.committer?.lastWrittenLsn ?? this.context.store.lastPosition.lsn;
    return {
      leader: this.leader ?? null,
      inSync: [...this.inSync.members],
      inSyncVersion: this.inSync.version,
      mirrors: [...this.shippers.values()].map((s) => ({ name: s.mirror, ackedLsn: s.ackedLsn, lag: written - s.ackedLsn, inSync: this.inSync.members.includes(s.mirror) })),
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.tickTimer?.cancel();
    this.network.close();
    await this.applying;
  }

  // ---- messages ------------------------------------------------------------------------------

  private onMessage(message: PeerMessage): void {
    if (this.stopped) return;
    if (message.term > this.term) this.adoptTerm(message.term);
    switch (message.kind) {
      case 'append':
        this.onAppend(message);
        return;
      case 'ack':
        this.onAck(message);
        return;
      case 'in-sync':
        void this.onInSync(message);
        return;
      case 'in-sync-ack':
        if (this.proposal && message.term === this.term && message.version === this.proposal.version) {
          this.proposal.acks.add(message.from);
          this.checkProposal();
        }
        return;
      case 'candidacy':
        this.onCandidacy(message);
        return;
      case 'vote':
        this.onVote(message.term, message.from, message.votedFor);
        return;
    }
  }

  /** A higher term: step down if active, forget the leader, and persist it. */
  private adoptTerm(term: number): void {
    if (this.state === 'ACTIVE-COORDINATOR') this.stepDown(`saw term ${term}`);
    this.term = term;
    this.leader = undefined;
    void this.putMeta(META_TERM, term);
  }

  private onAppend(message: AppendMessage): void {
    if (message.term < this.term) {
      this.network.send(message.from, { kind: 'ack', term: this.term, from: this.self.name, lastLsn: 0, matched: false });
      return;
    }
    assert(this.state !== 'ACTIVE-COORDINATOR', `two actives in term ${this.term}`);
    this.leader = message.from;
    this.lastFromActiveMs = this.context.clock.monotonicMs();
    if (this.round && this.round.term <= this.term) this.round = undefined;
    this.knownCommitIndex = Math.max(this.knownCommitIndex, message.commitIndex);
    if (this.self.kind === 'voter') {
      this.network.send(message.from, { kind: 'ack', term: this.term, from: this.self.name, lastLsn: 0, matched: true });
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
      void this.network.send(message.from, { kind: 'ack', term: this.term, from: this.self.name, lastLsn, matched });
    const last = store.lastPosition;
    if (last.lsn < message.prevLsn) return reply(last.lsn, false);
    if ((await this.termAt(message.prevLsn)) !== message.prevTerm) return reply(Math.max(message.prevLsn - 1, 0), false);
    const records: EncodedRecord[] = [];
    let lsn = message.prevLsn;
    for (const bytes of message.records) {
      lsn++;
      // Copy: the bytes are a view into a network buffer.
      const record = decodeRecord(bytes, lsn);
      records.push({ lsn, term: record.term, bytes: bytes.slice(), streams: record.appends.map((a) => ({ stream: a.stream, firstVersion: a.firstVersion, eventCount: a.eventCount })) });
    }
    // Keep what already matches; replace everything after the first difference.
    let skip = 0;
    while (skip < records.length && records[skip]!.lsn <= store.lastPosition.lsn && (await this.termAt(records[skip]!.lsn)) === records[skip]!.term) skip++;
    const fresh = records.slice(skip);
    if (fresh.length > 0) {
      if (store.lastPosition.lsn >= fresh[0]!.lsn) await store.truncateAfter(fresh[0]!.lsn - 1);
      await store.append(fresh);
    }
    this.state = this.inSync.members.includes(this.self.name) ? 'PASSIVE-STANDBY' : 'PASSIVE-SYNCING';
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

  private async onInSync(message: InSyncMessage): Promise<void> {
    if (message.term < this.term) return;
    await this.learnInSync(message.version, message.members);
    this.network.send(message.from, { kind: 'in-sync-ack', term: this.term, from: this.self.name, version: message.version });
  }

  /** Adopts (and records) an in-sync set newer than the one this member holds. */
  private async learnInSync(version: number, members: string[]): Promise<void> {
    if (version <= this.inSync.version) return;
    this.inSync = { version, members };
    if (this.state === 'PASSIVE-STANDBY' && !members.includes(this.self.name)) this.state = 'PASSIVE-SYNCING';
    await this.putMeta(META_IN_SYNC, [version, members]);
  }

  // ---- elections -----------------------------------------------------------------------------

  private get tip(): { lastTerm: number; lastLsn: number } {
    const last = this.context.store.lastPosition;
    return { lastTerm: last.term, lastLsn: last.lsn };
  }

  /** Only a server in the recorded in-sync set, holding a log, may stand. */
  private get eligible(): boolean {
    return this.self.kind === 'server' && this.inSync.members.includes(this.self.name) && this.state !== 'PASSIVE-SYNCING';
  }

  private startElection(): void {
    const term = this.term + 1;
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
    const standing = this.eligible && this.leader === undefined;
    if (standing) round.candidates.set(this.self.name, { name: this.self.name, weight: this.self.weight, ...this.tip });
    this.network.broadcast({
      kind: 'candidacy',
      term,
      from: this.self.name,
      standing,
      weight: this.self.weight,
      ...this.tip,
      inSyncVersion: this.inSync.version,
      inSync: this.inSync.members,
    });
    return round;
  }

  private onCandidacy(message: CandidacyMessage): void {
    if (message.term < this.term || this.state === 'ACTIVE-COORDINATOR') return;
    this.learnInSync(message.inSyncVersion, message.inSync);
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
    const everyoneHeard = this.options.members.every((m) => round.heard.has(m.name) || !this.network.isConnected(m.name));
    if (now < round.deadlineMs && !everyoneHeard) return;
    round.closed = true;
    if (this.votedFor && this.votedFor.term >= round.term) return;
    const inSync = new Set(this.inSync.members);
    const choice = chooseCandidate(round.candidates.values(), inSync, inSync.has(this.self.name) ? this.tip : undefined);
    if (!choice) return;
    this.votedFor = { term: round.term, name: choice.name };
    void this.putMeta(META_VOTE, [round.term, choice.name]).then(() => {
      this.network.broadcast({ kind: 'vote', term: round.term, from: this.self.name, votedFor: choice.name });
      this.onVote(round.term, this.self.name, choice.name);
    });
  }

  private onVote(term: number, from: string, votedFor: string): void {
    const round = this.round;
    if (!round || round.term !== term || term !== this.term) return;
    round.heard.add(from);
    if (votedFor === this.self.name) {
      round.votesForMe.add(from);
      if (round.votesForMe.size >= majority(this.options.members.length) && this.state !== 'ACTIVE-COORDINATOR' && !this.promoting) {
        this.promoting = true;
        void this.becomeActive(term).finally(() => (this.promoting = false));
      }
    }
    this.checkRound();
  }

  // ---- the active ----------------------------------------------------------------------------

  private async becomeActive(term: number): Promise<void> {
    const { store } = this.context;
    const recent = new RecentRecords(RECENT_RECORDS);
    let shippable = store.lastPosition.lsn;
    const committer = await this.context.startCommitter(term, this.knownCommitIndex, {
      // Ship while the local disk syncs: the commit waits for both anyway.
      onWriting: (records) => {
        recent.add(records);
        shippable = records[records.length - 1]!.lsn;
        for (const shipper of this.shippers.values()) void shipper.pump();
      },
      onWritten: () => this.maybeCommit(),
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
    for (const m of this.options.members) this.lastHeardMs.set(m.name, now);
    const shipperContext = {
      self: this.self.name,
      term: this.term,
      network: this.network,
      store,
      recent: this.recent,
      limits: this.context.logLimits,
      shippableLsn: () => shippable,
      commitIndex: () => committer.commitIndex,
      now: () => this.context.clock.monotonicMs(),
    };
    this.shippers.clear();
    for (const m of this.options.members) {
      if (m.kind === 'server' && m.name !== this.self.name) this.shippers.set(m.name, new Shipper(m.name, shipperContext, store.lastPosition));
    }
    this.context.log(`${this.self.name} is ACTIVE-COORDINATOR in term ${this.term} at LSN ${store.lastPosition.lsn}`);
    this.heartbeat();
    this.maybeCommit();
  }

  private stepDown(reason: string): void {
    this.context.log(`${this.self.name}: steps down from term ${this.term} (${reason})`);
    this.committer?.abandon(new NotActiveError(null));
    this.committer = undefined;
    for (const waiter of this.barrierWaiters.splice(0)) waiter.reject(new NotActiveError(null));
    this.shippers.clear();
    this.proposal = undefined;
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
    // A mirror being added must hold every record committed from the moment it was proposed.
    const members = this.proposal ? new Set([...this.inSync.members, ...this.proposal.members]) : this.inSync.members;
    for (const name of members) {
      if (name === this.self.name) continue;
      lsn = Math.min(lsn, this.shippers.get(name)?.ackedLsn ?? 0);
    }
    committer.commitThrough(lsn);
    if (this.barrierWaiters.length > 0 && committer.commitIndex >= this.readBarrier) {
      for (const waiter of this.barrierWaiters.splice(0)) waiter.resolve(committer.commitIndex);
    }
  }

  /** True while a majority of voting members answered within `leaseMs`. */
  private leaseHeld(): boolean {
    const now = this.context.clock.monotonicMs();
    let fresh = 1;
    for (const m of this.options.members) {
      if (m.name !== this.self.name && now - (this.lastHeardMs.get(m.name) ?? -Infinity) <= this.options.leaseMs) fresh++;
    }
    return fresh >= majority(this.options.members.length);
  }

  private heartbeat(): void {
    for (const shipper of this.shippers.values()) shipper.heartbeat();
    for (const m of this.options.members) {
      if (m.kind === 'voter') {
        this.network.send(m.name, { kind: 'append', term: this.term, from: this.self.name, prevLsn: 0, prevTerm: 0, commitIndex: 0, records: [] });
      }
    }
  }

  /** Drops silent mirrors from the in-sync set and adds caught-up ones, one recorded change at a time. */
  private reviewInSync(): void {
    if (this.proposal || !this.committer) return;
    const now = this.context.clock.monotonicMs();
    const current = new Set(this.inSync.members);
    for (const shipper of this.shippers.values()) {
      const silent = now - shipper.lastAckMs > this.options.mirrorTimeoutMs;
      const caughtUp = shipper.ackedLsn >= this.committer.lastWrittenLsn;
      if (current.has(shipper.mirror) && silent) current.delete(shipper.mirror);
      else if (!current.has(shipper.mirror) && caughtUp && !silent) current.add(shipper.mirror);
      else continue;
      this.propose([...current].sort());
      return;
    }
  }

  /** Asks every voting member to record a new in-sync set; it takes effect once a majority has. */
  private propose(members: string[]): void {
    this.proposal = { version: this.inSync.version + 1, members, acks: new Set([this.self.name]) };
    this.context.log(`${this.self.name}: proposes in-sync set ${members.join(', ')} (version ${this.proposal.version})`);
    this.network.broadcast({ kind: 'in-sync', term: this.term, from: this.self.name, version: this.proposal.version, members });
  }

  private checkProposal(): void {
    const proposal = this.proposal;
    if (!proposal || proposal.acks.size < majority(this.options.members.length)) return;
    this.proposal = undefined;
    this.inSync = { version: proposal.version, members: proposal.members };
    void this.putMeta(META_IN_SYNC, [proposal.version, proposal.members]);
    this.maybeCommit();
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
      this.reviewInSync();
      if (this.proposal) {
        this.network.broadcast({ kind: 'in-sync', term: this.term, from: this.self.name, version: this.proposal.version, members: this.proposal.members });
      }
      for (const shipper of this.shippers.values()) void shipper.pump();
      this.maybeCommit();
      return;
    }
    this.checkRound();
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

  // ---- metadata --------------------------------------------------------------------------------

  private async meta(key: string): Promise<unknown> {
    const bytes = await this.context.store.getMeta(key);
    return bytes === undefined ? undefined : decode(bytes);
  }

  private async putMeta(key: string, value: unknown): Promise<void> {
    if (!this.context.store.isOpen) return;
    await this.context.store.putMeta(key, encode(value));
  }
}

function byteLength(records: readonly Uint8Array[]): number {
  let bytes = 0;
  for (const record of records) bytes += record.length;
  return bytes;
}
