/**
 * What a server counts about itself as it works, in plain numbers that only ever grow: the commit
 * path and sessions add to them, and whoever watches the server (the metrics endpoint) reads them
 * when asked. Nothing here formats or exports; counting must cost the hot path next to nothing.
 */
import type { EncodedRecord, LogRecord } from '../log/record.js';
import type { Clock } from '../time.js';
import { Histogram } from './histogram.js';

/** Seconds; from half a millisecond, where a memory-mode commit lands, to ten. */
const LATENCY_BOUNDS_S = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Records per group commit, powers of two up to the default `groupCommitRecordsMax`'s order. */
const GROUP_SIZE_BOUNDS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048];

/** A record committed, as the group writer holds it. */
export interface CommittedRecord {
  readonly encoded: EncodedRecord;
  readonly record: LogRecord;
}

/** What the commit path counts, on the active: what it committed, and how long commits and store writes took. */
export class CommitCounters {
  /** Records committed: each is one transaction, or one stripe's part of a transaction over several. */
  transactions = 0;
  /** Stream appends in those records. */
  appends = 0;
  events = 0;
  /** Encoded record bytes committed. */
  bytes = 0;
  /** From a record's acceptance (its timestamp) to its commit, in seconds. */
  readonly commitSeconds = new Histogram(LATENCY_BOUNDS_S);
  /** One store write (and its fsync, in restartable mode) per group commit, in seconds. */
  readonly storeWriteSeconds = new Histogram(LATENCY_BOUNDS_S);
  /** Records per group commit. */
  readonly groupCommitRecords = new Histogram(GROUP_SIZE_BOUNDS);

  constructor(readonly clock: Clock) {}

  /** A group commit was written locally, its store write having begun at `startedMs` (monotonic). */
  written(records: number, startedMs: number): void {
    this.groupCommitRecords.observe(records);
    this.storeWriteSeconds.observe((this.clock.monotonicMs() - startedMs) / 1000);
  }

  /** Records reached the commit index. */
  committed(done: readonly CommittedRecord[]): void {
    const nowMs = this.clock.wallMs();
    for (const { encoded, record } of done) {
      this.transactions++;
      this.bytes += encoded.bytes.length;
      for (const append of record.appends) {
        this.appends++;
        this.events += append.eventCount;
      }
      // The timestamp is the wall clock at acceptance; a clock step back reads as zero.
      this.commitSeconds.observe(Math.max(0, nowMs - record.timestampMs) / 1000);
    }
  }
}

/** Everything a server counts. */
export class ServerCounters {
  readonly commit: CommitCounters;
  /** Election rounds this member took part in (opened, or joined on hearing a candidacy). */
  elections = 0;
  /** Client frames refused, closing their connection or failing their request, by the error's name. */
  readonly framesRejected = new Map<string, number>();

  constructor(clock: Clock) {
    this.commit = new CommitCounters(clock);
  }

  rejectFrame(reason: string): void {
    this.framesRejected.set(reason, (this.framesRejected.get(reason) ?? 0) + 1);
  }
}
