/**
 * Transactions over several stripes on one server: the coordinator and participant sides, the
 * state the log holds of them, and the calls to the other stripes. While the server is its
 * stripe's active, it rebuilds that state from the records recovery scanned, holds again the
 * streams of every part prepared and not ended, and asks the coordinators about such parts until
 * each has its outcome.
 */
import type { Committer } from '../commit/committer.js';
import type { ClusterLayout } from '../cluster/layout.js';
import type { ClusterDirectory } from '../cluster/directory.js';
import { InvalidArgumentError } from '../errors.js';
import { TXN_RESOLVE_AFTER_MS, TXN_RESOLVE_EVERY_MS, type ConnectionLimits, type LogLimits } from '../limits.js';
import { validateTransaction } from '../commit/transaction-rules.js';
import type { LogRecord, StreamEntry } from '../log/record.js';
import type { TransactionAppend, TransactionRequest, TransactionResult } from '../protocol/messages.js';
import type { DecideRequest, OpenTransaction, PrepareRequest, ResolveOutcome } from '../protocol/txn-messages.js';
import type { ForcedDecision } from '../replication/diverged-report.js';
import { Decision } from '../log/record.js';
import type { Clock, Random, TimerHandle, Timers } from '../time.js';
import type { Transport } from '../transport/transport.js';
import { Coordinator } from './coordinator.js';
import { Participant } from './participant.js';
import { StripeCaller } from './stripe-caller.js';
import type { Credentials } from '../protocol/handshake.js';
import { TxnLog } from './txn-log.js';

export interface TransactionsOptions {
  name: string;
  layout: ClusterLayout;
  stripe: number;
  committer: () => Committer;
  term: () => number;
  /** Resolves once this active may answer from its log (its read barrier). */
  readIndex: () => Promise<number>;
  transports: readonly Transport[];
  limits: Pick<ConnectionLimits, 'frameBytesMax' | 'sendQueueBytesMax' | 'inFlightMax' | 'idleTimeoutMs'>;
  txnTimeoutMs: number;
  logLimits: LogLimits;
  clock: Clock;
  timers: Timers;
  random: Random;
  log: (line: string) => void;
  /** Keeps an operator's forced decision on a part prepared at `prepareLsn` in the `diverged` report. */
  keepForced: (forced: ForcedDecision, prepareLsn: number) => Promise<void>;
  /** What this server presents to other stripes' actives, when they check credentials. */
  credentials?: Credentials;
  /** A client URL of a stripe's active as far as this server knows, or null (see {@link StripeCallerOptions.activeUrl}). */
  activeUrl?: (stripe: number) => string | null;
}


export class Transactions {
  private readonly txnLog = new TxnLog();
  /** Records recovery scanned for the office being taken, in LSN order. */
  private recovered: LogRecord[] = [];
  private readonly caller: StripeCaller;
  private readonly coordinator: Coordinator;
  private readonly participant: Participant;
  private resolveTimer: TimerHandle | undefined;
  private active = false;

  constructor(private readonly options: TransactionsOptions) {
    const { name, layout, transports, limits, txnTimeoutMs, clock, timers, random, log, stripe, committer, term, keepForced, credentials, activeUrl } = options;
    this.caller = new StripeCaller({ self: name, layout, transports, limits, callTimeoutMs: txnTimeoutMs, clock, timers, random, ...(credentials ? { credentials } : {}), ...(activeUrl ? { activeUrl } : {}) });
    this.coordinator = new Coordinator({ stripe, stripeName: this.stripeName(stripe), committer, term, caller: this.caller, txnLog: this.txnLog, clock, timers, log });
    this.participant = new Participant({ committer, timers, caller: this.caller, txnLog: this.txnLog, stripeName: (i) => this.stripeName(i), clock, txnTimeoutMs, keepForced });
  }

  /** A record recovery scanned while this server takes office. */
  recoveredRecord(record: LogRecord): void {
    if (record.txn !== undefined) this.recovered.push(record);
  }

  /** This server took office: the state of its transactions comes from its log, and their streams are held again. */
  tookOffice(): void {
    const now = this.options.clock.monotonicMs();
    this.txnLog.clear();
    this.participant.forget();
    for (const record of this.recovered) this.txnLog.see(record, now);
    this.recovered = [];
    const committer = this.options.committer();
    for (const [txnId, open] of this.txnLog.prepared) committer.hold(txnId, open.record.appends.map((a) => a.stream));
    this.active = true;
    this.scheduleResolve();
  }

  steppedDown(): void {
    this.leaveOffice();
    // The prepares this office still waits votes for are withdrawn: it can no longer decide them
    // (the next office presumes abort), and a link redialled seconds later would resend them, to
    // hold their streams until the participant asks. A decision told meanwhile is sent again.
    void this.caller.withdraw();
  }

  /** Records committed while active. */
  committed(records: readonly LogRecord[]): void {
    const now = this.options.clock.monotonicMs();
    for (const record of records) if (record.txn !== undefined) this.txnLog.see(record, now);
    this.scheduleResolve();
  }

  /**
   * A transaction whose streams lie on several stripes: coordinated here when this stripe is the lowest of them.
   * @throws WrongStripeError naming the lowest stripe otherwise
   */
  coordinate(request: TransactionRequest, directory: Pick<ClusterDirectory, 'stripeOf' | 'wrongStripe'>): Promise<TransactionResult> {
    const stripeOf = (stream: string): number => directory.stripeOf(stream);
    // The whole transaction keeps the rules of one (at least one event, no stream twice); its parts need not.
    validateTransaction(request, this.options.logLimits);
    const parts = new Map<number, TransactionAppend[]>();
    for (const append of request.appends) {
      const stripe = stripeOf(append.stream);
      const list = parts.get(stripe);
      if (list) list.push(append);
      else parts.set(stripe, [append]);
    }
    const lowest = Math.min(...parts.keys());
    if (lowest !== this.options.stripe) {
      throw directory.wrongStripe(request.appends.find((a) => stripeOf(a.stream) === lowest)!.stream);
    }
    this.refuseInDoubt(parts.get(lowest)!.map((a) => a.stream));
    return this.coordinator.transact(request, parts);
  }

  prepare(request: PrepareRequest): Promise<StreamEntry[]> {
    this.checkParticipant(request.participants);
    this.refuseInDoubt(request.part.appends.map((a) => a.stream));
    return this.participant.prepare(request);
  }

  decide(request: DecideRequest): Promise<null> {
    return this.participant.decide(request);
  }

  /**
   * Before a write of `streams` on this stripe.
   * @throws TransactionInDoubtError when one is held by a part whose coordinator has not answered for longer than `txnTimeoutMs`
   */
  refuseInDoubt(streams: readonly string[]): void {
    this.participant.refuseInDoubt(streams);
  }

  /** The transactions open on this active: those it is deciding, and the parts it prepared and has not ended. */
  list(): OpenTransaction[] {
    this.options.committer(); // only the active knows them
    const now = this.options.clock.monotonicMs();
    const names = (stripes: readonly number[]): string[] => stripes.map((i) => this.stripeName(i));
    const deciding = [...this.coordinator.open()].map(([txnId, t]): OpenTransaction => ({
      txnId,
      coordinator: this.stripeName(this.options.stripe),
      participants: names(t.participants),
      state: 'deciding',
      ageMs: Math.round(now - t.sinceMs),
      inDoubt: false,
    }));
    const prepared = [...this.txnLog.prepared].map(([txnId, open]): OpenTransaction => ({
      txnId,
      coordinator: this.stripeName(open.record.txn!.coordinator),
      participants: names(open.record.txn!.participants),
      state: 'prepared',
      ageMs: Math.round(now - open.sinceMs),
      inDoubt: this.participant.inDoubt(txnId),
    }));
    return [...deciding, ...prepared];
  }

  /** An operator's decision for this stripe's part of a transaction in doubt (see {@link Participant.force}). */
  async resolveByOperator(request: DecideRequest): Promise<ResolveOutcome> {
    this.options.committer(); // only the active holds parts
    await this.options.readIndex();
    const outcome = await this.participant.force(request);
    if (outcome === 'forced') this.options.log(`transaction ${request.txnId}: an operator forced ${request.decision === Decision.Commit ? 'commit' : 'abort'} of this stripe's part (kept in the diverged report)`);
    return outcome;
  }

  async status(txnId: string): Promise<Decision> {
    // A new active answers only once its inherited log is committed: a decision in it counts then.
    await this.options.readIndex();
    return this.coordinator.status(txnId);
  }

  /** Before a read of `streams`: ends every part holding one whose coordinator decided. @throws TransactionInDoubtError when one cannot be asked */
  resolveHeld(streams: readonly string[]): Promise<void> {
    return this.participant.resolveHeld(streams);
  }

  /** Before a read of `$all` from `fromLsn`: ends the parts prepared in its range whose coordinator decided. */
  resolvePreparedFrom(fromLsn: number): Promise<void> {
    return this.participant.resolvePreparedFrom(fromLsn);
  }

  /** True while a part prepared here is not ended: only then may a write find a stream held. */
  get holdsAny(): boolean {
    return this.txnLog.prepared.size > 0;
  }

  /** Before a write to `streams`: ends what a coordinator answers at once it decided; waits no longer. */
  settleHeld(streams: readonly string[]): Promise<void> {
    return this.participant.settleHeld(streams);
  }

  async close(): Promise<void> {
    this.leaveOffice();
    await this.caller.close();
  }

  private leaveOffice(): void {
    this.active = false;
    this.recovered = [];
    this.resolveTimer?.cancel();
    this.resolveTimer = undefined;
    this.coordinator.steppedDown();
  }

  private stripeName(stripe: number): string {
    return this.options.layout.stripes[stripe]?.name ?? String(stripe);
  }

  private checkParticipant(participants: readonly number[]): void {
    if (!participants.includes(this.options.stripe)) throw new InvalidArgumentError('participants', `does not name this server's stripe (${this.options.stripe})`);
    // A part whose coordinator is no stripe of the cluster would hold its streams until an operator forced it.
    const stripes = this.options.layout.stripes.length;
    if (participants.some((p) => p >= stripes)) throw new InvalidArgumentError('participants', `names a stripe the cluster does not have (it has ${stripes})`);
  }

  /**
   * Looks at old prepared parts every `TXN_RESOLVE_EVERY_MS` while there are any: an idle server
   * (nothing prepared) keeps no timer, so it is not woken four times a second for nothing.
   */
  private scheduleResolve(): void {
    if (this.resolveTimer !== undefined || !this.active || this.txnLog.prepared.size === 0) return;
    this.resolveTimer = this.options.timers.setTimeout(() => {
      if (!this.active) return;
      void this.resolveOld().finally(() => {
        this.resolveTimer = undefined;
        this.scheduleResolve();
      });
    }, TXN_RESOLVE_EVERY_MS);
  }

  /** Asks the coordinators about parts prepared a while ago and not yet ended. */
  private async resolveOld(): Promise<void> {
    const before = this.options.clock.monotonicMs() - TXN_RESOLVE_AFTER_MS;
    const old = [...this.txnLog.prepared.values()].filter((open) => open.sinceMs <= before);
    await Promise.all(old.map((open) => this.participant.resolve(open.record).catch(() => undefined)));
  }
}
