/**
 * The commit path: the one writer of a log. It checks each transaction's expected versions
 * against committed and pending state in log order, gives it the next LSN, and writes
 * transactions in group commits: one store write (one fsync in restartable mode) per batch,
 * never one per transaction. A transaction is acknowledged, and becomes visible to readers and
 * subscribers, only once its batch is durable.
 */
import { KilnError, SequenceExpiredError, SequenceReusedError, ServerFailedError, ServerShuttingDownError, StreamBusyError } from '../errors.js';
import type { LogLimits } from '../limits.js';
import { encodeRecord, RecordKind, type EncodedRecord, type LogRecord, type RecordAppend, type TxnInfo } from '../log/record.js';
import type { TransactionAppend, TransactionRequest, TransactionResult } from '../protocol/messages.js';
import type { CheckedStore } from '../store/checked-store.js';
import type { Clock, Timers } from '../time.js';
import { DedupTable, rebuildDedupTable, type RecoveryProgress } from './dedup-table.js';
import { GroupWriter, join, type CommitAnswer, type GroupWriterOptions, type PendingCommit } from './group-writer.js';

export type { CommitAnswer } from './group-writer.js';
import { StreamHeads } from './stream-heads.js';
import { WaitingLine } from './waiting-line.js';
import { answersClient, checkExpected, checkRecordBytes, OUTCOME_EXTRA_BYTES, sameDecided, sameWrites, validateTransaction } from './transaction-rules.js';

/** What the committer needs from the server around it, and what counts its commits (when someone watches). */
export interface CommitterOptions extends Pick<GroupWriterOptions, 'counters'> {
  store: CheckedStore;
  limits: LogLimits;
  clock: Clock;
  timers: Timers;
  /** The term this server writes records in. */
  term: number;
  /** Called with newly committed records, in LSN order, as the commit index moves. */
  onCommitted: (records: readonly LogRecord[]) => void;
  /**
   * Called after each group commit is durable in the local store. A replicating active ships the
   * records and calls {@link Committer.commitThrough} once every in-sync mirror holds them.
   * Without it, records commit as soon as they are durable locally.
   */
  onWritten?: (records: readonly EncodedRecord[]) => void;
  /**
   * Called with each group commit just before it is written locally, so a replicating active
   * ships it to its mirrors while its own disk syncs, instead of after.
   */
  onWriting?: (records: readonly EncodedRecord[]) => void;
  /** The commit index to start from. @default the store's last LSN */
  commitIndex?: number;
  /** Called once if a store write fails; the committer then refuses all work. */
  onFailed: (error: unknown) => void;
  /** The largest record, encoded, it writes: a larger one is refused (see `APPEND_FRAME_HEADROOM_BYTES`). @default no limit */
  recordBytesMax?: number;
}

/** The events of a stream a transaction only checks. */
const NO_EVENTS = new Uint8Array(0);

export type { RecoveryProgress } from './dedup-table.js';

export class Committer {
  private readonly heads: StreamHeads;
  private readonly dedup: DedupTable;
  /**
   * The LSNs of transactions not yet committed, by `clientId#seq`, so a resend joins them. Only
   * the LSN: a long-lived map reaching each record (and the request bytes behind it) doubled the
   * bytes the collector promoted per append.
   */
  private readonly inFlight = new Map<string, number>();
  private readonly writer: GroupWriter;
  private readonly waiting: WaitingLine;
  /** Streams held by a transaction over several stripes, by its id: nobody else writes them until its outcome. */
  private readonly holds = new Map<string, string>();
  private failure: unknown;
  private closing = false;
  private drained: (() => void) | undefined;
  /** Resends of transactions recovered from the log above the commit index, answered once it reaches them. */
  private resendsAwaitingCommit: Array<{ result: TransactionResult; resolve: (result: TransactionResult) => void; reject: (error: unknown) => void }> = [];

  constructor(private readonly options: CommitterOptions) {
    this.heads = new StreamHeads(options.store, options.limits.streamHeadCacheMax);
    this.dedup = new DedupTable(options.limits.dedupWindow, options.limits.dedupClientsMax);
    this.waiting = new WaitingLine(this.heads, (request, eventCounts, answer) => this.admit(request, eventCounts, answer));
    this.writer = new GroupWriter({
      store: options.store,
      limits: options.limits,
      timers: options.timers,
      commitIndex: options.commitIndex ?? options.store.lastPosition.lsn,
      ...(options.onWriting ? { onWriting: options.onWriting } : {}),
      ...(options.onWritten ? { onWritten: options.onWritten } : {}),
      ...(options.counters && { counters: options.counters }),
      onDurable: (stream) => this.heads.settle(stream),
      onCommit: (done) => this.committed(done),
      onStoreFailed: (error, batch) => {
        this.failure = error;
        this.rejectEverything(new ServerFailedError({ cause: error }), batch);
        options.onFailed(error);
      },
    });
  }

  /** The highest LSN that is durable and acknowledged: readers see nothing above it. */
  get commitIndex(): number {
    return this.writer.committedLsn;
  }

  /** The last LSN durable in the local store, committed or not. */
  get lastWrittenLsn(): number {
    return this.writer.writtenLsn;
  }

  /**
   * Moves the commit index up to `lsn` (at most the last record written locally): the
   * transactions up to there are acknowledged and handed to subscribers.
   */
  commitThrough(lsn: number): void {
    this.writer.commitThrough(lsn);
  }

  private committed(done: readonly PendingCommit[]): void {
    for (const pending of done) {
      const { record } = pending;
      // A participant's steps are the coordinator's transaction: its client's sequence is the coordinator's, not this stripe's.
      if (answersClient(record)) this.dedup.remember(record.clientId, record.seq, pending.result);
      this.inFlight.delete(pending.tag);
    }
    if (done.length > 0) this.options.onCommitted(done.map((p) => p.record));
    // Answers may be sent at once (see `submit`): after subscribers were handed the records, as when every answer was a promise's.
    for (const pending of done) pending.answer.resolve(pending.result);
    if (this.resendsAwaitingCommit.length > 0) {
      const target = this.writer.committedLsn;
      const due = this.resendsAwaitingCommit.filter((r) => r.result.lsn <= target);
      this.resendsAwaitingCommit = this.resendsAwaitingCommit.filter((r) => r.result.lsn > target);
      for (const resend of due) resend.resolve(resend.result);
    }
    if (this.inFlight.size === 0) this.drained?.();
  }

  /**
   * Gives up every transaction not yet committed, failing each with `error`, and accepts no
   * more: for an active that lost its term. A resend to the new active finds out what happened.
   */
  abandon(error: Error): void {
    this.failure = error;
    // The batch in the store's hands too: its write's end finds the committer abandoned and answers no one.
    this.rejectEverything(error);
  }

  /** Transactions accepted and not yet durable, including those waiting for their turn. */
  get pendingCount(): number {
    return this.inFlight.size + this.waiting.length;
  }

  /**
   * Rebuilds the de-duplication table from the log's tail, `dedupRecoveryRecordsMax` records at
   * most, reporting progress along the way.
   */
  recover(onProgress?: (progress: RecoveryProgress) => void, observe?: (record: LogRecord) => void): Promise<void> {
    return rebuildDedupTable(this.dedup, this.options.store, this.options.limits, onProgress, observe);
  }

  /**
   * Commits a transaction, or returns the original result when `(clientId, seq)` already
   * committed with the same writes. Transactions are checked in the order they arrive: one that
   * waits for a stream head to load from the store holds back those behind it, so a client
   * pipelining appends to one stream with expected versions sees them applied in the order it
   * sent them.
   * @throws WrongExpectedVersionError when an expected version does not hold; nothing is written
   * @throws InvalidArgumentError when the transaction breaks a rule; nothing is written
   * @throws SequenceReusedError when `(clientId, seq)` is taken by a transaction with other writes; nothing is written
   */
  transact(request: TransactionRequest): Promise<TransactionResult> {
    return new Promise((resolve, reject) => this.submit(request, { resolve, reject }));
  }

  /**
   * {@link transact} answering `answer` instead of a promise: no promise per transaction on the
   * common path. `answer` is called once: before this returns (a refusal), or later, from within
   * a group commit's end or a failure.
   */
  submit(request: TransactionRequest, answer: CommitAnswer): void {
    try {
      this.checkAccepting();
      const eventCounts = validateTransaction(request, this.options.limits);
      if (this.waiting.length === 0 && this.headsCached(request)) this.admit(request, eventCounts, answer);
      else this.waiting.push(request, eventCounts, answer);
    } catch (error) {
      answer.reject(error);
    }
  }

  /** True when the heads of every stream of the transaction are cached: a plain loop, as every transaction asks. */
  private headsCached(request: TransactionRequest): boolean {
    for (let i = 0; i < request.appends.length; i++) if (this.heads.get(request.appends[i]!.stream) === undefined) return false;
    return true;
  }

  /** De-duplicates, then checks and queues. Synchronous: it is the serial order. */
  private admit(request: TransactionRequest, eventCounts: number[], answer: CommitAnswer): void {
    this.checkAccepting();
    const known = this.dedup.lookup(request.clientId, request.seq);
    if (known.kind === 'committed') {
      this.resendOfCommitted(request, known.result, (original) => sameWrites(request.appends, eventCounts, original.appends)).then(
        (result) => answer.resolve(result),
        (error: unknown) => answer.reject(error),
      );
      return;
    }
    if (known.kind === 'expired') throw new SequenceExpiredError(request.clientId, request.seq);
    const tag = `${request.clientId}#${request.seq}`;
    const joined = this.inFlight.get(tag);
    if (joined === undefined) return this.enqueue(request, eventCounts, tag, answer);
    const original = this.writer.pendingCommit(joined);
    if (!sameWrites(request.appends, eventCounts, original.record.appends)) throw new SequenceReusedError(request.clientId, request.seq);
    join(original, answer);
  }

  /**
   * The answer to a resend found in the de-duplication table. A new active recovers the table from
   * its whole log, which may end in records its predecessor never committed (a mirror in sync
   * lacks them): their resends are answered once the commit index reaches them, as reads are, or
   * fail with the term. Answering at once would acknowledge a write a failover can still drop.
   */
  private async resendOfCommitted(request: TransactionRequest, result: TransactionResult, same: (original: LogRecord) => boolean): Promise<TransactionResult> {
    // The original's record is in the log (the table holds only what reached it): a resend must
    // write exactly what it wrote, or it is another transaction under a taken (clientId, seq).
    const [original] = await this.options.store.readRecords(result.lsn, { direction: 'forward', maxCount: 1, maxBytes: 1 });
    if (!original || !same(original)) throw new SequenceReusedError(request.clientId, request.seq);
    return this.afterCommit(result);
  }

  private afterCommit(result: TransactionResult): Promise<TransactionResult> {
    if (result.lsn <= this.writer.committedLsn) return Promise.resolve(result);
    return new Promise((resolve, reject) => this.resendsAwaitingCommit.push({ result, resolve, reject }));
  }

  /** Stops accepting transactions and resolves once every accepted one is durable or failed. */
  async drain(): Promise<void> {
    this.closing = true;
    if (this.inFlight.size === 0) return;
    await new Promise<void>((resolve) => (this.drained = resolve));
  }

  private checkAccepting(): void {
    if (this.failure instanceof KilnError) throw this.failure;
    if (this.failure !== undefined) throw new ServerFailedError({ cause: this.failure });
    if (this.closing) throw new ServerShuttingDownError();
  }

  /** Checks expected versions against committed and pending state and queues the record. */
  private enqueue(request: TransactionRequest, eventCounts: number[], tag: string, answer: CommitAnswer): void {
    // Plain loops and arrays of their final length: this runs for every transaction, and closures
    // per call, or an array grown from empty (room for 17 items at the first push), cost more than the work.
    const count = request.appends.length;
    const current = new Array<number>(count);
    let visible = 0;
    for (let i = 0; i < count; i++) {
      const append = request.appends[i]!;
      if (this.holds.size > 0) this.checkNotHeld(append.stream);
      const head = this.heads.get(append.stream)!;
      checkExpected(append.stream, append.expectedVersion, head);
      current[i] = head;
      if (eventCounts[i]! > 0) visible++;
    }
    const appends = new Array<RecordAppend>(visible);
    visible = 0;
    for (let i = 0; i < count; i++) {
      const eventCount = eventCounts[i]!;
      if (eventCount === 0) continue;
      const { stream, events } = request.appends[i]!;
      const firstVersion = current[i]! + 1;
      appends[visible++] = { stream, firstVersion, eventCount, events: events! };
    }
    const record: LogRecord = {
      lsn: this.writer.upcomingLsn,
      term: this.options.term,
      kind: RecordKind.Commit,
      clientId: request.clientId,
      seq: request.seq,
      timestampMs: this.options.clock.wallMs(),
      appends,
    };
    const encoded = encodeRecord(record);
    // Nothing has changed yet: a record too large is refused alone.
    checkRecordBytes(encoded, this.options.recordBytesMax);
    this.writer.takeLsn();
    for (let i = 0; i < appends.length; i++) this.heads.advance(appends[i]!.stream, appends[i]!.firstVersion + appends[i]!.eventCount - 1);
    // The result names the ranges the store indexes: one list serves both (neither changes it).
    const result: TransactionResult = { lsn: record.lsn, streams: encoded.streams };
    this.queue({ encoded, record, result, tag, answer });
  }

  private queue(pending: PendingCommit, lateMs?: number): void {
    this.writer.push(pending, lateMs);
    this.inFlight.set(pending.tag, pending.record.lsn);
  }

  /**
   * Reserves this stripe's part of a transaction over several stripes: checks that nobody holds
   * its streams and that their expected versions hold (committed and pending state), then holds
   * them for `txnId` until {@link release}. Returns every stream's append at the versions it will
   * take; a stream only checked has no events (a prepare records it, so a new active holds it too).
   * @throws StreamBusyError when another transaction holds a stream; nothing is held
   * @throws WrongExpectedVersionError when an expected version does not hold; nothing is held
   */
  async reserve(txnId: string, request: TransactionRequest): Promise<RecordAppend[]> {
    this.checkAccepting();
    const eventCounts = validateTransaction(request, this.options.limits, true);
    // No await when the heads are cached (as for streams written lately): three promises and two hops less per part.
    if (!this.headsCached(request)) await this.heads.load(request.appends.map((a) => a.stream));
    this.checkAccepting();
    const appends: RecordAppend[] = [];
    for (const [i, append] of request.appends.entries()) {
      this.checkNotHeld(append.stream, txnId);
      const head = this.heads.get(append.stream)!;
      checkExpected(append.stream, append.expectedVersion, head);
      appends.push({ stream: append.stream, firstVersion: head + 1, eventCount: eventCounts[i]!, events: append.events ?? NO_EVENTS });
    }
    for (const append of request.appends) this.holds.set(append.stream, txnId);
    return appends;
  }

  /**
   * What a transaction over several stripes got, if its `(clientId, seq)` decided commit here:
   * answered once its decide is committed; undefined when unknown. `own` is this stripe's part.
   * @throws SequenceExpiredError when it is older than the de-duplication window
   * @throws SequenceReusedError (rejects) when `(clientId, seq)` is taken by a transaction with other writes
   */
  recordedResult(request: TransactionRequest, own: TransactionAppend[]): Promise<TransactionResult> | undefined {
    const known = this.dedup.lookup(request.clientId, request.seq);
    if (known.kind === 'committed') return this.resendOfCommitted(request, known.result, (original) => sameDecided(request, own, original, this.options.limits));
    if (known.kind === 'expired') throw new SequenceExpiredError(request.clientId, request.seq);
    return undefined;
  }

  /** Holds streams for `txnId` again, as a new active recovering a prepare does. */
  hold(txnId: string, streams: readonly string[]): void {
    for (const stream of streams) this.holds.set(stream, txnId);
  }

  /** Lets go of the streams `txnId` holds. */
  release(txnId: string): void {
    for (const [stream, holder] of this.holds) if (holder === txnId) this.holds.delete(stream);
  }

  /** The transaction holding `stream`, if any. */
  holderOf(stream: string): string | undefined {
    return this.holds.get(stream);
  }

  /**
   * Writes a step of a transaction over several stripes (prepare, decide or outcome) at its reserved versions; resolves once
   * committed (asking again joins it). A decide or an outcome lets go of its streams as it takes its LSN: later writes follow it.
   * A step nobody waits for gives `lateMs`: it rides in the next group commit, or goes after `lateMs` (see {@link flushSoon}).
   */
  async writeStep(kind: typeof RecordKind.Prepare | typeof RecordKind.Decide | typeof RecordKind.Outcome, txn: TxnInfo, clientId: string, seq: number, appends: RecordAppend[], lateMs?: number): Promise<TransactionResult> {
    const tag = `${txn.id}@${kind}`;
    const joined = this.inFlight.get(tag);
    if (joined !== undefined) return new Promise((resolve, reject) => join(this.writer.pendingCommit(joined), { resolve, reject }));
    const visible = kind !== RecordKind.Prepare;
    if (visible && appends.some((a) => this.heads.get(a.stream) === undefined)) await this.heads.load(appends.map((a) => a.stream)); // no await when cached: let go before the next request is read
    this.checkAccepting();
    const record: LogRecord = { lsn: this.writer.upcomingLsn, term: this.options.term, kind, clientId, seq, timestampMs: this.options.clock.wallMs(), appends, txn };
    const encoded = encodeRecord(record);
    // An outcome is never refused: its prepare left it room.
    if (kind !== RecordKind.Outcome) checkRecordBytes(encoded, this.options.recordBytesMax, kind === RecordKind.Prepare ? OUTCOME_EXTRA_BYTES : 0);
    this.writer.takeLsn();
    if (visible) for (const a of appends) this.heads.advance(a.stream, a.firstVersion + a.eventCount - 1);
    if (visible) this.release(txn.id);
    const result = kind === RecordKind.Decide ? { lsn: record.lsn, streams: txn.streams } : { lsn: record.lsn, streams: encoded.streams };
    return new Promise((resolve, reject) => this.queue({ encoded, record, result, tag, answer: { resolve, reject } }, lateMs));
  }

  /** Commits at this turn's end the steps queued to ride late: someone now waits for one. */
  flushSoon(): void {
    this.writer.flushSoon();
  }

  /** @throws StreamBusyError when a transaction (other than `own`) holds `stream` */
  private checkNotHeld(stream: string, own?: string): void {
    const holder = this.holds.get(stream);
    if (holder !== undefined && holder !== own) throw new StreamBusyError(stream, holder);
  }

  /** Fails every transaction not committed (written, being written, queued, waiting, resent) with `error`. */
  private rejectEverything(error: Error, batch?: PendingCommit[]): void {
    this.writer.stop(error, batch);
    this.waiting.rejectAll(error);
    for (const resend of this.resendsAwaitingCommit.splice(0)) resend.reject(error);
    this.inFlight.clear();
    this.heads.clear();
    this.holds.clear();
    this.drained?.();
  }
}
