/**
 * The write half of the commit path: records given their LSN wait in a queue, go to the store in
 * group commits (one store write, one fsync, per batch), and are committed once the commit index
 * reaches them: at once when durable on a lone server, or when a replicating active says so. The
 * committer decides what goes in (checks, versions, de-duplication); this decides when it is
 * durable and committed, and answers each record's waiter then.
 */
import { assert } from '../assert.js';
import type { LogLimits } from '../limits.js';
import { visibleAppends, type EncodedRecord, type LogRecord } from '../log/record.js';
import type { TransactionResult } from '../protocol/messages.js';
import type { CommitCounters } from '../observe/counters.js';
import type { CheckedStore } from '../store/checked-store.js';
import type { TimerHandle, Timers } from '../time.js';

/**
 * Who waits for a record's commit: answered once, with its result or the error that failed it.
 * An object with methods rather than two callbacks, so a waiter costs one allocation.
 */
export interface CommitAnswer {
  resolve(result: TransactionResult): void;
  reject(error: unknown): void;
}

/** Answers `answer` too when the transaction in flight `pending` is answered: a resend joins its original. */
export function join(pending: PendingCommit, answer: CommitAnswer): void {
  const first = pending.answer;
  pending.answer = {
    resolve(result) {
      first.resolve(result);
      answer.resolve(result);
    },
    reject(error) {
      first.reject(error);
      answer.reject(error);
    },
  };
}

/** A record given its LSN, and the waiter its commit answers. */
export interface PendingCommit {
  encoded: EncodedRecord;
  record: LogRecord;
  result: TransactionResult;
  /** Its key in the committer's in-flight map. */
  tag: string;
  answer: CommitAnswer;
}

export interface GroupWriterOptions {
  store: CheckedStore;
  limits: Pick<LogLimits, 'groupCommitRecordsMax' | 'groupCommitBytesMax'>;
  timers: Timers;
  /** The commit index to start from (at most the store's last LSN). */
  commitIndex: number;
  /** Called with each group commit just before it is written locally. */
  onWriting?: (records: readonly EncodedRecord[]) => void;
  /** Called after each group commit is durable locally; without it, records commit as soon as they are. */
  onWritten?: (records: readonly EncodedRecord[]) => void;
  /** A record's visible appends reached the store (its stream heads are no longer only in memory). */
  onDurable: (stream: string) => void;
  /** Records committed, in LSN order, before their waiters are answered. */
  onCommit: (committed: readonly PendingCommit[]) => void;
  /** A store write failed: everything is failed; `onFailed` is told once. */
  onStoreFailed: (error: unknown, batch: PendingCommit[]) => void;
  /** Counts group commits, store writes and commits, when someone watches. */
  counters?: CommitCounters;
}

export class GroupWriter {
  private queue: PendingCommit[] = [];
  /** Flushes the records nobody waits for that no other group commit took meanwhile (see {@link push}). */
  private lateFlush: TimerHandle | undefined;
  /** The group commit the store is writing now. */
  private writingBatch: PendingCommit[] = [];
  /** Written locally, waiting for the commit index to reach them, in LSN order. */
  private unacked: PendingCommit[] = [];
  private nextLsn: number;
  private writing = false;
  private flushScheduled = false;
  /** Set once the writer stops: a failed store write, or an abandoned term. */
  private stopped = false;
  /** The highest LSN committed: readers see nothing above it. */
  committedLsn: number;
  /** The last LSN durable in the local store. */
  writtenLsn: number;

  constructor(private readonly options: GroupWriterOptions) {
    this.writtenLsn = options.store.lastPosition.lsn;
    this.committedLsn = Math.min(options.commitIndex, this.writtenLsn);
    this.nextLsn = this.writtenLsn + 1;
  }

  /** The LSN the next record gets. */
  takeLsn(): number {
    return this.nextLsn++;
  }

  /** The LSN {@link takeLsn} gives next, not yet taken. */
  get upcomingLsn(): number {
    return this.nextLsn;
  }

  /**
   * Queues a record that took the last LSN handed out; the store gets it in the next group commit.
   * A record nobody waits for (`lateMs`) starts no group commit of its own: it rides in the next
   * one, or goes after `lateMs` if none comes, saving a store write and a replication round.
   */
  push(pending: PendingCommit, lateMs?: number): void {
    this.queue.push(pending);
    if (this.flushScheduled || this.writing) return;
    if (lateMs === undefined) return this.flushSoon();
    // One timer at a time, left to run out rather than cancelled by the group commit that took
    // the record: arming and cancelling one per record cost more than the records it sends early.
    this.lateFlush ??= this.options.timers.setTimeout(() => {
      this.lateFlush = undefined;
      this.flushSoon();
    }, lateMs);
  }

  /** Starts a group commit of what is queued at this turn's end: someone waits for it. */
  flushSoon(): void {
    if (this.flushScheduled || this.writing || this.queue.length === 0) return;
    this.flushScheduled = true;
    this.options.timers.defer(() => {
      this.flushScheduled = false;
      void this.flush();
    });
  }

  /** The record of LSN `lsn` and its waiter while in flight: queued, being written, or written and not yet committed. */
  pendingCommit(lsn: number): PendingCommit {
    for (const pendings of [this.unacked, this.writingBatch, this.queue]) {
      const found = pendings.find((p) => p.record.lsn === lsn);
      if (found) return found;
    }
    assert(false, `in-flight LSN ${lsn} is neither queued, being written nor awaiting commit`);
  }

  /** Moves the commit index up to `lsn` (at most the last record written locally), answering what it reaches. */
  commitThrough(lsn: number): void {
    const target = Math.min(lsn, this.writtenLsn);
    if (target <= this.committedLsn) return;
    this.committedLsn = target;
    let count = 0;
    while (count < this.unacked.length && this.unacked[count]!.record.lsn <= target) count++;
    const done = count === this.unacked.length ? this.unacked : this.unacked.slice(0, count);
    this.unacked = count === this.unacked.length ? [] : this.unacked.slice(count);
    this.options.counters?.committed(done);
    this.options.onCommit(done);
  }

  /**
   * Stops, and fails every record not committed with `error`: queued, being written (its write's
   * end finds the writer stopped and answers no one) and written. `batch` is one the caller has.
   */
  stop(error: unknown, batch: PendingCommit[] = this.writingBatch): void {
    this.stopped = true;
    this.lateFlush?.cancel();
    this.lateFlush = undefined;
    this.writing = false;
    const given = [...this.unacked, ...batch, ...this.queue];
    this.unacked = [];
    this.queue = [];
    for (const pending of given) pending.answer.reject(error);
  }

  /** Writes the queue in group commits until it is empty; records that arrive meanwhile join the next one. */
  private async flush(): Promise<void> {
    const { store, limits, counters } = this.options;
    while (this.queue.length > 0 && !this.stopped) {
      this.writing = true;
      const batch = this.takeBatch(limits.groupCommitRecordsMax, limits.groupCommitBytesMax);
      const encoded = batch.map((p) => p.encoded);
      this.options.onWriting?.(encoded);
      this.writingBatch = batch;
      const startedMs = counters?.clock.monotonicMs() ?? 0;
      try {
        await store.append(encoded);
      } catch (error) {
        if (!this.stopped) this.options.onStoreFailed(error, batch);
        return;
      } finally {
        this.writingBatch = [];
      }
      if (this.stopped) return; // abandoned while writing
      counters?.written(batch.length, startedMs);
      this.writtenLsn = batch[batch.length - 1]!.record.lsn;
      for (const pending of batch) {
        for (const append of visibleAppends(pending.record)) this.options.onDurable(append.stream);
        this.unacked.push(pending);
      }
      if (this.options.onWritten) this.options.onWritten(encoded);
      else this.commitThrough(this.writtenLsn);
    }
    this.writing = false;
  }

  private takeBatch(recordsMax: number, bytesMax: number): PendingCommit[] {
    let bytes = 0;
    let count = 0;
    for (const pending of this.queue) {
      if (count === recordsMax || (count > 0 && bytes + pending.encoded.bytes.length > bytesMax)) break;
      bytes += pending.encoded.bytes.length;
      count++;
    }
    assert(count > 0, 'a group commit must hold a record');
    // Usually the whole queue goes: hand it over instead of copying it.
    if (count === this.queue.length) {
      const batch = this.queue;
      this.queue = [];
      return batch;
    }
    return this.queue.splice(0, count);
  }
}
