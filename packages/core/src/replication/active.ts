/**
 * The active's role for one term: it owns the log's writer (the committer), ships every record to
 * each mirror, and commits a record once every in-sync mirror holds it. It holds a lease while a
 * majority of voting members answer within `leaseMs`, and serves reads only then, and only once
 * it has committed the log it was elected with. Changes of the view go through its
 * {@link ViewChange}. Made anew for each term this member wins; dropped when it steps down.
 */
import { Committer, type RecoveryProgress } from '../commit/committer.js';
import { RECENT_RECORDS, RECENT_RECORDS_BYTES_MAX, RECOVERY_PROGRESS_EVERY, type LogLimits } from '../limits.js';
import type { EncodedRecord, LogRecord } from '../log/record.js';
import type { CommitCounters } from '../observe/counters.js';
import type { CheckedStore } from '../store/checked-store.js';
import type { Timers } from '../time.js';
import { commitPointOf, majority } from './election.js';
import { serversOf, type GroupMemberConfig } from './group-view.js';
import type { MemberState } from './member-state.js';
import type { PeerSender } from './outbox.js';
import type { AckMessage } from './peer-protocol.js';
import { RecentRecords, Shipper, type ShipperContext } from './shipper.js';
import { MirrorRates, WrittenHistory, type MirrorStatus } from './status.js';
import { ViewChange } from './view-change.js';

export interface ActiveContext {
  member: MemberState;
  outbox: PeerSender;
  store: CheckedStore;
  logLimits: LogLimits;
  timers: Timers;
  log: (line: string) => void;
  /** Called with newly committed records, in LSN order. */
  onCommitted: (records: readonly LogRecord[]) => void;
  /** Called with each record recovery scans before this active takes office, in LSN order. */
  onRecoveredRecord?: (record: LogRecord) => void;
  /** Called once if a store write fails. */
  onFailed: (error: unknown) => void;
  /** Stays connected to these members. */
  setPeers: (members: readonly GroupMemberConfig[]) => void;
  /** Whether the last dial to a member was refused: nothing accepts at its address, its process is gone. */
  isRefused: (name: string) => boolean;
  /** A group of one that records no view (a server started without a group). */
  standalone: boolean;
  /** Counts what is committed, when someone watches. */
  counters?: CommitCounters;
  /** The largest record the committer writes: one that fits an append frame to the mirrors. */
  recordBytesMax: number;
}

export class Active {
  readonly committer: Committer;
  readonly viewChange: ViewChange;
  private readonly shippers = new Map<string, Shipper>();
  private readonly lastHeardMs = new Map<string, number>();
  private readonly recent = new RecentRecords(RECENT_RECORDS, RECENT_RECORDS_BYTES_MAX);
  /** The last LSN handed to the local store: it may be shipped while the local disk syncs. */
  private shippable: number;
  private readonly rates = new MirrorRates();
  private readonly written = new WrittenHistory();
  private readonly shipperContext: ShipperContext;
  /**
   * The log's last LSN when this member took office: reads wait until it is committed, and mirrors
   * drop an earlier term's records past it (appends carry it as `termStartLsn`).
   */
  private readBarrier = 0;
  /** When this active last sent every member a heartbeat: an answer that echoes no ask counts for the lease from then. */
  private heartbeatMs = -Infinity;
  /** When this active took office (monotonic ms). */
  private openedMs = -Infinity;
  private readonly barrierWaiters: Array<{ resolve: (commitIndex: number) => void; reject: (error: unknown) => void }> = [];

  constructor(
    readonly term: number,
    private readonly context: ActiveContext,
  ) {
    const { member, store } = context;
    this.shippable = store.lastPosition.lsn;
    // A standalone server has no mirror to wait for: what is durable is committed, as it is written.
    const replicationGate = context.standalone
      ? {}
      : {
          commitIndex: member.knownCommitIndex,
          // Ship while the local disk syncs: the commit waits for both anyway.
          onWriting: (records: readonly EncodedRecord[]) => {
            this.shippable = records[records.length - 1]!.lsn;
            // No mirror to ship to (voters only): keeping records would only hold memory; a mirror
            // added later is shipped what it misses from the store.
            if (this.shippers.size === 0) return;
            this.recent.add(records);
            let mirrorWaits = false;
            for (const shipper of this.shippers.values()) {
              mirrorWaits ||= shipper.allAcknowledged;
              void shipper.pump();
            }
            // This runs at a turn's end (the group commit's deferred flush), where a write left to
            // the transport waits for the next turn's end, behind the next turn's requests. A mirror
            // with nothing in flight waits on this write alone: it goes now. Behind appends in
            // flight it joins the next turn's, one write and one wake-up of the mirror for both.
            if (mirrorWaits) context.outbox.writeNow();
          },
          onWritten: () => {
            this.maybeCommit();
            this.forgetShipped();
            // Alone, the active's tick rests (restsAlone): a mirror added later reads its lag in seconds from these samples.
            if (this.shippers.size === 0) this.written.sample(this.committer.lastWrittenLsn, member.clock.monotonicMs());
          },
        };
    this.committer = new Committer({
      store,
      limits: context.logLimits,
      clock: member.clock,
      timers: context.timers,
      term,
      ...replicationGate,
      onCommitted: context.onCommitted,
      onFailed: context.onFailed,
      recordBytesMax: context.recordBytesMax,
      ...(context.counters ? { counters: context.counters } : {}),
    });
    this.viewChange = new ViewChange({
      member,
      outbox: context.outbox,
      log: context.log,
      mirrors: () => this.shippers.values(),
      lastWrittenLsn: () => this.committer.lastWrittenLsn,
      followMirrors: (servers) => this.followMirrors(servers),
      setPeers: context.setPeers,
      isRefused: context.isRefused,
      onRecorded: () => this.maybeCommit(),
    });
    this.shipperContext = {
      self: member.self.name,
      term,
      network: context.outbox,
      store,
      recent: this.recent,
      limits: context.logLimits,
      recordsBytesMax: context.recordBytesMax,
      shippableLsn: () => this.shippable,
      commitIndex: () => this.committer.commitIndex,
      termStartLsn: () => this.readBarrier,
      inSync: (mirror) => member.view.inSync.includes(mirror),
      now: () => member.clock.monotonicMs(),
      askedAtMs: () => Math.floor(member.clock.monotonicMs()),
      onReadFailed: context.onFailed,
    };
  }

  /** Rebuilds the committer's de-duplication table from the log, logging progress. */
  recover(): Promise<void> {
    const { log, logLimits } = this.context;
    return this.committer.recover((p: RecoveryProgress) => {
      if (p.scanned === p.total || p.scanned % RECOVERY_PROGRESS_EVERY < logLimits.readCountMax) log(`recovery: de-duplication table ${p.scanned}/${p.total} records`);
    }, this.context.onRecoveredRecord);
  }

  /**
   * Takes office: ships to every mirror, and records the view again in this term. The votes that
   * elected it count for the lease from `askedAtMs`, when this member asked for them: votes that
   * waited (through a pause of this process, or a long recovery) may hold no lease by now.
   */
  open(askedAtMs: number): void {
    const { member, store } = this.context;
    this.readBarrier = store.lastPosition.lsn;
    this.openedMs = member.clock.monotonicMs();
    for (const m of member.view.members) this.lastHeardMs.set(m.name, askedAtMs);
    this.followMirrors(serversOf(member.view));
    // A standalone server says so once it listens, with its addresses.
    if (!this.context.standalone) this.context.log(`${member.self.name} is ACTIVE-COORDINATOR in term ${this.term} at LSN ${store.lastPosition.lsn}`);
    // Its votes hold a lease from now, before its first tick: a lease observer sees it begin.
    if (this.leaseHeld()) this.observeLease();
    this.heartbeat();
    // Record the view again in this term: it outranks any proposal of an earlier active that some
    // members adopted but no majority recorded, so every member converges on this one. A
    // standalone server has no one to tell, and records no view.
    if (!this.context.standalone) this.viewChange.propose({ ...member.view, version: member.view.version + 1 });
    this.maybeCommit();
  }

  /** Leaves office: everything waiting on this term fails with `error`. */
  close(error: Error): void {
    this.committer.abandon(error);
    for (const waiter of this.barrierWaiters.splice(0)) waiter.reject(error);
    this.viewChange.abandon(error);
  }

  /**
   * The commit index a read may use. Only an active holding its lease serves reads, and a new
   * active only once it has committed the log it was elected with: an earlier commit index would
   * hide transactions its predecessor acknowledged. A read that comes while a new active still
   * waits for its lease (votes that aged in a slow election hold none) waits with it, as it waits
   * for the barrier: the active gains the lease from its first answers, or steps down within
   * `leaseMs` and the read fails then.
   */
  readIndex(): Promise<number> {
    if (this.leaseHeld() && this.committer.commitIndex >= this.readBarrier) return Promise.resolve(this.servedOnLease());
    return new Promise((resolve, reject) => this.barrierWaiters.push({ resolve, reject }));
  }

  /** The commit index a read is served at, told to lease observers (the simulation's checks). */
  private servedOnLease(): number {
    this.observeLease();
    this.context.member.options.observeServed?.({ kind: 'read', term: this.term, commitIndex: this.committer.commitIndex });
    return this.committer.commitIndex;
  }

  /** Tells a lease observer (the simulation's check) the lease this active holds now. */
  private observeLease(): void {
    const observe = this.context.member.options.observeLease;
    if (observe) observe(this.term, this.leaseUntilMs());
  }

  /**
   * Stops taking transactions and waits, up to `timeoutMs`, for those in flight to commit; then
   * fails what is left with `error`.
   */
  async drain(timeoutMs: number, error: Error): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = this.context.timers.setTimeout(resolve, timeoutMs);
      void this.committer.drain().then(() => {
        timer.cancel();
        resolve();
      });
    });
    this.committer.abandon(error);
  }

  /**
   * Alone in its group (a stripe of one server in a cluster of several), with no view to record
   * and no change asked for: no one to hear from, ship or resend a view to, and its lease cannot
   * lapse. Its tick has nothing to do until an operator changes the membership.
   */
  get restsAlone(): boolean {
    return this.context.member.view.members.length === 1 && this.shippers.size === 0 && this.barrierWaiters.length === 0 && this.viewChange.settled;
  }

  /**
   * Runs the active's timers; false when the lease is lost and this member must step down. A new
   * active whose votes hold no lease any more waits up to `leaseMs` for its first answers, serving
   * and committing nothing meanwhile.
   */
  tick(now: number): boolean {
    if (this.leaseHeld()) this.observeLease();
    else if (now - this.openedMs > this.leaseMs) return false;
    this.heartbeat();
    this.rates.sample(this.shippers.values(), now);
    this.written.sample(this.committer.lastWrittenLsn, now);
    this.viewChange.tick();
    for (const shipper of this.shippers.values()) void shipper.pump();
    this.maybeCommit();
    return true;
  }

  onAck(message: AckMessage): void {
    // A late answer to an older ask never takes back what a newer one proved.
    const heard = this.lastHeardMs.get(message.from) ?? -Infinity;
    this.lastHeardMs.set(message.from, Math.max(heard, this.askedAt(message)));
    const shipper = this.shippers.get(message.from);
    if (!shipper) return;
    const next = (): void => {
      this.maybeCommit();
      this.forgetShipped();
      void shipper.pump();
    };
    // A matched ack commits in this turn; only a walk-back may read the store first.
    if (message.matched) {
      shipper.onMatched(message);
      next();
    } else void shipper.onAck(message).then(next);
  }

  /**
   * When the member that answered last heard from this active, as far as the answer proves. An
   * answer may have waited, in the network or for this process while it stalled, so it counts
   * from when this active asked (the append's `askedAtMs`, echoed), never from its arrival. From
   * a member of an older version, which echoes nothing, it counts from the last heartbeat sent
   * before it arrived: a bound that still credits a slow answer to an older heartbeat too late.
   */
  private askedAt(message: AckMessage): number {
    const asked = message.askedAtMs;
    // An echo later than now is not of this active's clock: only the bound is left.
    return asked !== undefined && asked <= this.context.member.clock.monotonicMs() ? asked : this.heartbeatMs;
  }

  /** Each mirror's progress, for status. */
  mirrorStatuses(): MirrorStatus[] {
    const written = this.committer.lastWrittenLsn;
    const { view, clock, options } = this.context.member;
    const now = clock.monotonicMs();
    return [...this.shippers.values()].map((s) => ({
      name: s.mirror,
      ackedLsn: s.ackedLsn,
      lag: written - s.ackedLsn,
      inSync: view.inSync.includes(s.mirror),
      rate: this.rates.rate(s.mirror),
      reachable: now - (this.lastHeardMs.get(s.mirror) ?? -Infinity) <= options.leaseMs,
    }));
  }

  /** Each mirror's lag in time: how long ago this active wrote the oldest record the mirror has not acknowledged. */
  mirrorLagSeconds(): Array<{ mirror: string; seconds: number }> {
    const now = this.context.member.clock.monotonicMs();
    const written = this.committer.lastWrittenLsn;
    return [...this.shippers.values()].map((s) => ({ mirror: s.mirror, seconds: s.ackedLsn >= written ? 0 : this.written.msSinceWritten(s.ackedLsn + 1, now) / 1000 }));
  }

  /** Commit index: the lowest LSN that this active and every in-sync mirror hold. */
  private maybeCommit(): void {
    if (!this.leaseHeld()) return;
    const self = this.context.member.self.name;
    let lsn = this.committer.lastWrittenLsn;
    for (const name of this.viewChange.inSyncNow()) {
      if (name === self) continue;
      lsn = Math.min(lsn, this.shippers.get(name)?.ackedLsn ?? 0);
    }
    const before = this.committer.commitIndex;
    this.committer.commitThrough(lsn);
    if (this.committer.commitIndex > before) {
      const { commitIndex } = this.committer;
      this.context.member.options.observeServed?.({ kind: 'commit', term: this.term, commitIndex });
      // Kept past stepping down: as a member again, it refuses candidates that lack these records.
      this.context.member.learnCommit(commitPointOf(commitIndex, this.term, this.readBarrier));
    }
    if (this.barrierWaiters.length > 0 && this.committer.commitIndex >= this.readBarrier) {
      for (const waiter of this.barrierWaiters.splice(0)) waiter.resolve(this.servedOnLease());
    }
  }

  /** Forgets the recent records that every mirror acknowledged and the local store holds. */
  private forgetShipped(): void {
    let lsn = this.committer.lastWrittenLsn;
    for (const shipper of this.shippers.values()) lsn = Math.min(lsn, shipper.ackedLsn);
    this.recent.forgetThrough(lsn);
  }

  /** True while a majority of voting members answered within `leaseMs`; always under availability, which serves alone. */
  private leaseHeld(): boolean {
    const { member } = this.context;
    if (member.availability) return true;
    const now = member.clock.monotonicMs();
    let fresh = 1;
    for (const m of member.view.members) {
      if (m.name !== member.self.name && now - (this.lastHeardMs.get(m.name) ?? -Infinity) <= this.leaseMs) fresh++;
    }
    return fresh >= majority(member.view.members.length);
  }

  /**
   * Until when (monotonic ms) the lease holds if no one answers again: `leaseMs` after the answer
   * that completes the freshest majority (this member counts itself); for ever under availability.
   * Only an observer asks, so {@link leaseHeld} on the commit path sorts nothing.
   */
  private leaseUntilMs(): number {
    const { member } = this.context;
    if (member.availability) return Infinity;
    const heard = member.view.members.filter((m) => m.name !== member.self.name).map((m) => this.lastHeardMs.get(m.name) ?? -Infinity);
    const others = majority(member.view.members.length) - 1;
    if (others === 0) return Infinity;
    heard.sort((a, b) => b - a);
    return (heard[others - 1] ?? -Infinity) + this.leaseMs;
  }

  private get leaseMs(): number {
    const { options } = this.context.member;
    return options.plantedLeaseMs ?? options.leaseMs;
  }

  private heartbeat(): void {
    const { member, outbox } = this.context;
    this.heartbeatMs = member.clock.monotonicMs();
    const askedAtMs = Math.floor(this.heartbeatMs);
    for (const shipper of this.shippers.values()) shipper.heartbeat();
    for (const m of member.view.members) {
      // The commit point too, though a voter holds no log: it votes for no candidate that lacks it.
      if (m.kind === 'voter') outbox.send(m.name, { kind: 'append', term: this.term, from: member.self.name, prevLsn: 0, prevTerm: 0, commitIndex: this.committer.commitIndex, termStartLsn: this.readBarrier, records: [], askedAtMs });
    }
  }

  /** Keeps one shipper per mirror named: new ones start at the log's end and walk back to what the mirror holds. */
  private followMirrors(servers: readonly string[]): void {
    const wanted = new Set(servers.filter((name) => name !== this.context.member.self.name));
    for (const name of this.shippers.keys()) {
      if (!wanted.has(name)) {
        this.shippers.delete(name);
        this.rates.forget(name);
      }
    }
    for (const name of wanted) {
      if (!this.shippers.has(name)) this.shippers.set(name, new Shipper(name, this.shipperContext, this.context.store.lastPosition));
    }
  }
}
