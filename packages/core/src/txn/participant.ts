/**
 * A participant's side of a transaction over several stripes: it prepares its part (checks it
 * against committed and pending state, holds its streams, writes a prepare record) and votes yes
 * by answering; it ends the part with an outcome record when the coordinator's decision comes,
 * or when it asks for it. A read of a stream held by an undecided part asks the coordinator first,
 * so no reader sees one stripe's part of a committed transaction without the others'.
 *
 * A part whose coordinator has not been reached for longer than `txnTimeoutMs` is in doubt: reads
 * and writes of its streams fail at once with `TransactionInDoubtError` (the resolver keeps asking),
 * until the coordinator answers or an operator forces a decision (`kiln txn resolve`).
 */
import type { Committer } from '../commit/committer.js';
import { InvalidArgumentError, TransactionInDoubtError } from '../errors.js';
import { TXN_EARLY_ABORTS_MAX, TXN_OUTCOME_DELAY_MAX_MS, TXN_SETTLE_WAIT_MS } from '../limits.js';
import { Decision, RecordKind, type LogRecord, type RecordAppend, type StreamEntry } from '../log/record.js';
import { OldestKeys } from '../oldest-keys.js';
import type { DecideRequest, PrepareRequest, ResolveOutcome } from '../protocol/txn-messages.js';
import type { ForcedDecision } from '../replication/diverged-report.js';
import type { Clock, TimerHandle, Timers } from '../time.js';
import type { StripeCaller } from './stripe-caller.js';
import type { TxnLog } from './txn-log.js';

export interface ParticipantContext {
  committer: () => Committer;
  timers: Timers;
  caller: StripeCaller;
  txnLog: TxnLog;
  stripeName: (stripe: number) => string;
  clock: Clock;
  txnTimeoutMs: number;
  /** Keeps an operator's forced decision in the `diverged` report. */
  keepForced: (forced: ForcedDecision, prepareLsn: number) => Promise<void>;
}

/** A part's appends that write events (a prepare also names the streams it only checks, to hold them). */
const writes = (record: LogRecord): RecordAppend[] => record.appends.filter((a) => a.eventCount > 0);
const entriesOf = (record: LogRecord): StreamEntry[] => writes(record).map(({ stream, firstVersion, eventCount }) => ({ stream, firstVersion, eventCount }));

export class Participant {
  /** Outcomes being written, by transaction: a decision and a resolving read join one. */
  private readonly ending = new Map<string, Promise<void>>();
  /** Parts whose coordinator did not answer: since when (monotonic ms) it has not, by transaction. */
  private readonly unanswered = new Map<string, number>();
  /** Prepares being written, by transaction: a resend joins one, and a decision waits for it. */
  private readonly preparing = new Map<string, Promise<StreamEntry[]>>();
  /**
   * Transactions told aborted before any prepare of theirs came: since when (monotonic ms), by id,
   * oldest first. Their prepares are refused for twice `txnTimeoutMs`: the coordinator's link
   * sends a prepare (and resends it after a redial) only within `txnTimeoutMs` of its first send,
   * which came before the decision; the second `txnTimeoutMs` is for a copy still on its way.
   */
  private readonly abortedEarly = new Map<string, number>();
  private readonly oldestAbortedEarly = new OldestKeys(this.abortedEarly);

  constructor(private readonly context: ParticipantContext) {}

  /**
   * Prepares this stripe's part; resolves, with the part's stream ranges, once the prepare record
   * is committed. Asking again for a part prepared already, or being prepared (a coordinator's
   * resend after its link dropped), answers the same: one prepare record per part.
   * @throws StreamBusyError or WrongExpectedVersionError: the vote is no, and nothing is held
   * @throws InvalidArgumentError when the part ended here, or its abort came before it: nothing is written or held
   */
  prepare(request: PrepareRequest): Promise<StreamEntry[]> {
    const { txnLog } = this.context;
    const open = txnLog.prepared.get(request.txnId);
    if (open) return Promise.resolve(entriesOf(open.record));
    if (txnLog.ended.has(request.txnId)) return Promise.reject(new InvalidArgumentError('txnId', `transaction ${request.txnId} already ended on this stripe`));
    if (this.wasAbortedEarly(request.txnId)) return Promise.reject(new InvalidArgumentError('txnId', `transaction ${request.txnId} was aborted before its prepare reached this stripe`));
    const running = this.preparing.get(request.txnId);
    if (running) return running;
    const preparing = this.writePrepare(request).finally(() => this.preparing.delete(request.txnId));
    this.preparing.set(request.txnId, preparing);
    return preparing;
  }

  private async writePrepare(request: PrepareRequest): Promise<StreamEntry[]> {
    // A part of an earlier transaction still holding a stream, decided but not yet told, is ended first.
    const streams = request.part.appends.map((a) => a.stream);
    if (this.mustSettle(streams)) await this.settleHeld(streams);
    const committer = this.context.committer();
    const appends = await committer.reserve(request.txnId, request.part);
    const txn = { id: request.txnId, coordinator: request.coordinator, participants: request.participants, decision: Decision.None, prepareLsn: 0, streams: [] };
    try {
      await committer.writeStep(RecordKind.Prepare, txn, request.part.clientId, request.part.seq, appends);
    } catch (error) {
      committer.release(request.txnId);
      throw error;
    }
    return appends.filter((a) => a.eventCount > 0).map(({ stream, firstVersion, eventCount }) => ({ stream, firstVersion, eventCount }));
  }

  /** Forgets what it knew of coordinators' answers (a new office starts asking afresh). */
  forget(): void {
    this.unanswered.clear();
  }

  /**
   * Ends a prepared part with the coordinator's decision; done at once for a part ended or never
   * prepared here, an abort of one never prepared remembered to refuse its prepare. Only the
   * coordinator waits for this answer, to stop telling: the outcome rides in the next group commit
   * (the next prepare's, usually) rather than starting one of its own.
   */
  decide(request: DecideRequest): Promise<null> {
    // A decision may overtake its part's prepare (another participant voted no, or the coordinator
    // gave up waiting): it ends the part once the prepare is written, rather than leaving it to
    // hold its streams until the resolver asks.
    const preparing = this.preparing.get(request.txnId);
    if (preparing) return preparing.then(NOTHING, NOTHING).then(() => this.decide(request));
    // With presumed abort only an abort can come first (a commit needs this part's yes vote):
    // its prepare, should it come after, would hold its streams until the resolver asked.
    const { txnLog } = this.context;
    if (request.decision === Decision.Abort && !txnLog.prepared.has(request.txnId) && !txnLog.ended.has(request.txnId)) this.rememberAbortedEarly(request.txnId);
    return this.end(request.txnId, request.decision, TXN_OUTCOME_DELAY_MAX_MS).then(() => null);
  }

  private rememberAbortedEarly(txnId: string): void {
    const nowMs = this.context.clock.monotonicMs();
    // Oldest first: those past their time go from the front, and one more than the bound drops the oldest.
    for (const [id, sinceMs] of this.abortedEarly) {
      if (nowMs - sinceMs < this.abortedEarlyKeepMs()) break;
      this.abortedEarly.delete(id);
    }
    this.abortedEarly.delete(txnId);
    this.abortedEarly.set(txnId, nowMs);
    if (this.abortedEarly.size > TXN_EARLY_ABORTS_MAX) this.oldestAbortedEarly.deleteOldest();
  }

  private wasAbortedEarly(txnId: string): boolean {
    const sinceMs = this.abortedEarly.get(txnId);
    return sinceMs !== undefined && this.context.clock.monotonicMs() - sinceMs < this.abortedEarlyKeepMs();
  }

  private abortedEarlyKeepMs(): number {
    return 2 * this.context.txnTimeoutMs;
  }

  /**
   * Before a read of `streams`: ends every part holding one of them whose coordinator has decided.
   * @throws TransactionInDoubtError when a coordinator cannot be asked, or is known unreachable
   */
  async resolveHeld(streams: readonly string[]): Promise<void> {
    const { txnLog } = this.context;
    if (txnLog.prepared.size === 0) return;
    this.refuseInDoubt(streams);
    for (const stream of streams) {
      const open = txnLog.preparedHolding(stream);
      if (open) await this.resolve(open.record);
    }
  }

  /**
   * Before a read of this stripe's `$all` from `fromLsn`: ends every part prepared at or after it
   * whose coordinator has decided, as {@link resolveHeld} does for the streams a read names, so
   * that the read shows a committed part (at its outcome) to a reader who saw another stripe's.
   * @throws TransactionInDoubtError when a part in the range is in doubt, or its coordinator cannot be asked
   */
  async resolvePreparedFrom(fromLsn: number): Promise<void> {
    const open = [...this.context.txnLog.prepared.values()].filter(({ record }) => record.lsn >= fromLsn);
    for (const { record } of open) if (this.inDoubt(record.txn!.id)) throw new TransactionInDoubtError(record.txn!.id, this.context.stripeName(record.txn!.coordinator));
    await Promise.all(open.map(({ record }) => this.resolve(record)));
  }

  /**
   * Before a write to `streams`: ends every part holding one whose coordinator answers within
   * `TXN_SETTLE_WAIT_MS` that it decided. A write never waits longer: a part still held then
   * makes it fail with `StreamBusyError`, and the client retries.
   */
  async settleHeld(streams: readonly string[]): Promise<void> {
    if (!this.mustSettle(streams)) return;
    let timer: TimerHandle | undefined;
    const gaveUp = new Promise<void>((resolve) => (timer = this.context.timers.setTimeout(resolve, TXN_SETTLE_WAIT_MS)));
    await Promise.race([this.resolveHeld(streams).catch(() => undefined), gaveUp]);
    timer?.cancel();
  }

  /** Whether a prepared part holds one of `streams`: a part whose outcome has its LSN holds nothing any more (the write follows the outcome in the log). */
  private mustSettle(streams: readonly string[]): boolean {
    if (this.context.txnLog.prepared.size === 0) return false;
    const committer = this.context.committer();
    return streams.some((s) => committer.holderOf(s) !== undefined);
  }

  /**
   * Before a write of `streams`.
   * @throws TransactionInDoubtError when a part in doubt holds one of them
   */
  refuseInDoubt(streams: readonly string[]): void {
    if (this.unanswered.size === 0) return;
    for (const stream of streams) {
      const open = this.context.txnLog.preparedHolding(stream);
      if (open && this.inDoubt(open.record.txn!.id)) throw new TransactionInDoubtError(open.record.txn!.id, this.context.stripeName(open.record.txn!.coordinator));
    }
  }

  /** Whether the part of `txnId` has not reached its coordinator for longer than `txnTimeoutMs`. */
  inDoubt(txnId: string): boolean {
    const since = this.unanswered.get(txnId);
    return since !== undefined && this.context.clock.monotonicMs() - since >= this.context.txnTimeoutMs;
  }

  /**
   * Asks the coordinator about a prepared part, and ends it if it decided.
   * @throws TransactionInDoubtError when the coordinator cannot be asked
   */
  async resolve(prepare: LogRecord): Promise<void> {
    const txn = prepare.txn!;
    // Its decision came already: the coordinator need not be asked again.
    const ending = this.endingNow(txn.id);
    if (ending) return ending;
    const askedMs = this.context.clock.monotonicMs();
    let decision: Decision;
    try {
      decision = await this.context.caller.call(txn.coordinator, 'txnStatus', txn.id);
    } catch {
      if (!this.unanswered.has(txn.id) && this.context.txnLog.prepared.has(txn.id)) this.unanswered.set(txn.id, askedMs);
      throw new TransactionInDoubtError(txn.id, this.context.stripeName(txn.coordinator));
    }
    this.unanswered.delete(txn.id);
    if (decision !== Decision.None) await this.end(txn.id, decision);
  }

  /**
   * An operator's decision for a part in doubt: the coordinator is asked first, and its decision
   * wins if it answers; otherwise the forced decision goes to the `diverged` report, then the
   * part ends with it.
   */
  async force(request: DecideRequest): Promise<ResolveOutcome> {
    const { txnLog } = this.context;
    const open = txnLog.prepared.get(request.txnId);
    if (!open) return 'none';
    let forced = false;
    try {
      await this.resolve(open.record);
    } catch (error) {
      if (!(error instanceof TransactionInDoubtError)) throw error;
      // An outcome under way (the coordinator's decision came meanwhile) ends the part: nothing to force.
      if (!this.ending.has(request.txnId) && txnLog.prepared.has(request.txnId)) {
        await this.context.keepForced({ txnId: request.txnId, decision: request.decision === Decision.Commit ? 'commit' : 'abort' }, open.record.lsn);
        forced = true;
        await this.end(request.txnId, request.decision);
      }
    }
    await this.endingNow(request.txnId);
    const ended = txnLog.ended.get(request.txnId);
    if (ended === undefined) return 'deciding';
    if (forced && ended === request.decision) return 'forced';
    return ended === Decision.Commit ? 'commit' : 'abort';
  }

  /** The outcome being written for `txnId`, if any, committed at this turn's end: someone waits for it. */
  private endingNow(txnId: string): Promise<void> | undefined {
    const ending = this.ending.get(txnId);
    if (ending) this.context.committer().flushSoon();
    return ending;
  }

  /** Writes the part's outcome; `lateMs` when nobody but the coordinator waits for it (see {@link Committer.writeStep}). */
  private end(txnId: string, decision: Decision, lateMs?: number): Promise<void> {
    const running = lateMs === undefined ? this.endingNow(txnId) : this.ending.get(txnId);
    if (running) return running;
    const open = this.context.txnLog.prepared.get(txnId);
    if (!open) return Promise.resolve();
    const ending = this.writeOutcome(open.record, decision, lateMs).finally(() => {
      this.ending.delete(txnId);
      this.unanswered.delete(txnId);
    });
    this.ending.set(txnId, ending);
    return ending;
  }

  private async writeOutcome(prepare: LogRecord, decision: Decision, lateMs: number | undefined): Promise<void> {
    const committer = this.context.committer();
    const txn = { ...prepare.txn!, decision, prepareLsn: prepare.lsn, streams: [] };
    // Writing the outcome lets go of the part's streams.
    await committer.writeStep(RecordKind.Outcome, txn, prepare.clientId, prepare.seq, decision === Decision.Commit ? writes(prepare) : [], lateMs);
  }
}

const NOTHING = (): void => {};
