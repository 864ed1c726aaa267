/**
 * What a member knows about itself and its group, whatever its role: its term, vote and recorded
 * view (on disk, through {@link DurableState}), the view it follows, the active it last heard,
 * and its state as status names it. The roles read it; the changes go through its methods.
 */
import { assert } from '../assert.js';
import type { Clock } from '../time.js';
import { DurableState } from './durable-state.js';
import type { CommitPoint } from './election.js';
import { isNewerView, type GroupMemberConfig, type GroupView } from './group-view.js';
import type { GroupOptions, MemberContext } from './member-context.js';
import type { ServerState } from './status.js';

export class MemberState {
  state: ServerState = 'START';
  readonly self: GroupMemberConfig;
  /** The view followed: the recorded one, or the configuration's until the group recorded one. */
  view: GroupView;
  /** Set once this member learned a view without itself: it holds on, but takes no part. */
  removed = false;
  /** The active this member last heard from in the current term. */
  leader: string | undefined;
  /** The highest commit index an active told this member (a server; a voter holds no log to commit). */
  knownCommitIndex = 0;
  /**
   * The highest commit point an active told this member, voters included (see {@link learnCommit}):
   * it votes for no candidate whose log lacks it. In memory only: with disks, a majority of logs
   * holds every committed record anyway, and without them it is lost with a crash like the rest.
   */
  knownCommit: CommitPoint = { term: 0, lsn: 0 };
  /** When this member last heard from an active (or of an election in progress): its patience runs from there. */
  lastFromActiveMs: number;
  /**
   * Until then this member neither votes nor stands. A member without a disk (memory mode) forgets
   * its votes when it restarts; sitting out one election window and one mirror timeout lets every
   * round it may have voted in close first, so it never votes twice in a term.
   */
  quietUntilMs = 0;
  /**
   * Set while this member, started without a disk (memory mode), may have forgotten a view it
   * recorded and no active has sent it one: the active that counted it as holding its view would
   * otherwise never send it again (see view-change.ts). It asks on the active's next append.
   */
  awaitingView = false;
  /**
   * Set while this server, started without a disk, has not matched an active's log through that
   * active's commit index: it may have forgotten committed records, though the recorded in-sync
   * set still names it (see `forgetfulMayTakeOffice`).
   */
  forgotLog = false;
  private durableState: DurableState | undefined;

  /** @param onViewAdopted called whenever the followed view changes (the peers to talk to may have) */
  constructor(
    readonly options: GroupOptions,
    private readonly context: Pick<MemberContext, 'store' | 'clock' | 'log' | 'onFailed' | 'standalone'>,
    private readonly onViewAdopted: (view: GroupView) => void,
  ) {
    const self = options.members.find((m) => m.name === options.self);
    assert(self, `member ${options.self} is not in the group`);
    this.self = self;
    const servers = options.members.filter((m) => m.kind === 'server').map((m) => m.name);
    this.view = { term: 0, version: 0, members: options.members, inSync: options.joining ? [] : servers };
    this.lastFromActiveMs = context.clock.monotonicMs();
  }

  /**
   * Loads term, vote and recorded view. A term that stands in the log but whose record a crash
   * lost is recorded again before the member acts in it.
   * @param onWritten called after each write of the durable state
   */
  async load(onWritten: () => void): Promise<void> {
    const { store, standalone } = this.context;
    this.durableState = await DurableState.load(store, onWritten, this.context.onFailed);
    const recorded = this.durableState.view;
    if (recorded && !standalone) this.adoptView(recorded);
    const term = Math.max(this.durableState.term, store.lastPosition.term);
    if (term > this.durableState.term && !standalone) await this.durableState.save({ term });
    if (!store.persistent) this.quietUntilMs = this.clock.monotonicMs() + this.options.electionTimeMs + this.options.mirrorTimeoutMs;
    this.awaitingView = !store.persistent && !standalone;
    this.forgotLog = !store.persistent && !standalone && this.self.kind === 'server';
    this.state = this.self.kind === 'voter' ? 'PASSIVE-STANDBY' : 'PASSIVE-UNINITIALIZED';
  }

  get durable(): DurableState {
    assert(this.durableState, 'the member state is not loaded');
    return this.durableState;
  }

  /** The current term: the highest this member has seen. */
  get term(): number {
    return this.durableState?.term ?? 0;
  }

  /** The highest term on disk: nothing is said in a higher one. */
  get durableTerm(): number {
    return this.durableState?.durableTerm ?? 0;
  }

  get clock(): Clock {
    return this.context.clock;
  }

  get availability(): boolean {
    return this.options.failoverPriority === 'availability';
  }

  get isActive(): boolean {
    return this.state === 'ACTIVE-COORDINATOR';
  }

  /** Moves to a higher term (recorded, not awaited: messages of the term wait for it) and forgets the leader. */
  adoptTerm(term: number): void {
    void this.durable.save({ term });
    this.leader = undefined;
  }

  /** An active of the current term spoke: it is the leader, and the patience starts again. */
  heardFromActive(name: string, commit: CommitPoint): void {
    this.leader = name;
    this.lastFromActiveMs = this.clock.monotonicMs();
    if (this.self.kind === 'server') this.knownCommitIndex = Math.max(this.knownCommitIndex, commit.lsn);
    this.learnCommit(commit);
  }

  /**
   * Merges a commit point told by an active (or reached as one). Committed records form a prefix
   * of every later active's log, their terms growing with their LSNs, so the higher LSN and the
   * higher term of two points are a point too.
   */
  learnCommit(point: CommitPoint): void {
    this.knownCommit = { term: Math.max(this.knownCommit.term, point.term), lsn: Math.max(this.knownCommit.lsn, point.lsn) };
  }

  /** Adopts and records a view newer than the one this member holds; resolves once it is on disk. */
  learnView(view: GroupView): Promise<void> {
    // Newer than the recorded view too: the active's own record of its proposal may be on its way.
    const recorded = this.durable.view;
    // Not newer: it may still be on its way to the disk; whoever waits for this waits for that.
    if (!isNewerView(view, this.view) || (recorded && !isNewerView(view, recorded))) return this.durable.settled();
    this.adoptView(view);
    return this.durable.save({ view });
  }

  /** Follows a view: who to talk to, whether this member is in sync, and whether it is a member still. */
  adoptView(view: GroupView): void {
    this.view = view;
    // A mirror is standby exactly while the view lists it in sync. An active lists a mirror in sync
    // once it holds all the active wrote: the view says so even when the active falls silent
    // before its next append could (else the mirror never stands).
    if (this.self.kind === 'server' && (this.state === 'PASSIVE-STANDBY' || this.state === 'PASSIVE-SYNCING')) {
      this.state = view.inSync.includes(this.self.name) ? 'PASSIVE-STANDBY' : 'PASSIVE-SYNCING';
    }
    const member = view.members.some((m) => m.name === this.self.name);
    if (!member && !this.removed) this.context.log(`${this.self.name}: removed from the group (view ${view.version}); it takes no further part`);
    this.removed = !member;
    this.onViewAdopted(view);
  }

  /** The end of this member's log, as elections compare logs. */
  get tip(): { lastTerm: number; lastLsn: number } {
    const last = this.context.store.lastPosition;
    return { lastTerm: last.term, lastLsn: last.lsn };
  }

  /** Only a server in the recorded in-sync set, holding a log, may stand. */
  get eligible(): boolean {
    if (this.clock.monotonicMs() < this.quietUntilMs) return false;
    return this.self.kind === 'server' && !this.removed && this.view.inSync.includes(this.self.name) && this.state !== 'PASSIVE-SYNCING';
  }

  /** A client URL of the active this member knows of. */
  activeHint(): string | null {
    const leader = this.view.members.find((m) => m.name === this.leader);
    return leader?.clientUrls[0] ?? null;
  }
}
