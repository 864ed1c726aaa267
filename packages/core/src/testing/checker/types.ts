/**
 * The checker's input (a Jepsen-shaped history, the final logs read from every server after
 * healing, subscription delivery logs) and its output.
 */
import type { ExpectedVersion } from '../../log/events.js';

/** Where one event sits: its stream, its version in the stream (0-based), its record's LSN, its id. */
export interface EventPosition {
  /** The stream's name. */
  stream: string;
  /** Index of the event in its stream, from 0. */
  version: number;
  /** LSN of the record (transaction) that holds it, from 1. */
  lsn: number;
  /** The client-chosen unique id. */
  id: string;
}

/** One stream's part of a transaction as the client sent it. */
export interface HistoryAppend {
  /** The stream appended to. */
  stream: string;
  /** Ids of the events appended to `stream`, in order. */
  eventIds: string[];
  /** Omitted means `'any'`. */
  expectedVersion?: ExpectedVersion;
}

/** The versions one stream's events took, as an acknowledgement reports them. */
export interface HistoryAppendedRange {
  /** The stream. */
  stream: string;
  /** Version of its first event appended. */
  firstVersion: number;
  /** How many events were appended to it. */
  eventCount: number;
}

/** What a read (or a subscription delivery) asked for and returned. */
export interface HistoryRead {
  /** The stream read, or `null` for `$all`. */
  stream: string | null;
  /** First version (stream) or first LSN (`$all`) asked for. */
  from: number;
  /** The events returned, in order. Present on `ok` completions. */
  events?: EventPosition[];
  /**
   * The page size asked for, if any. A read that returned `maxCount` events may have been cut
   * short, so it is not checked for staleness or for ending inside a transaction.
   */
  maxCount?: number;
  /** For `$all` in a cluster of several stripes: the stripe whose log was read (by name). */
  stripe?: string;
}

/**
 * One entry of a history, Jepsen style. An `invoke` and its completion (`ok`, `fail` or `info`)
 * share `process` and are paired in order per process; a process has at most one operation in
 * flight. An invoke never completed counts as `info` (indeterminate).
 *
 * - `append`: the invoke carries `txn`; an `ok` carries `result`; a `fail` means the transaction
 *   is certainly not committed (its `error` names why, e.g. `WrongExpectedVersionError`); an
 *   `info` means it may or may not be. A later invoke whose first event id repeats an earlier
 *   transaction's is a resend of it (exactly-once): one logical transaction, several attempts.
 * - `read`: the invoke or the completion carries `read.stream` and `read.from`; an `ok` carries
 *   `read.events`. Reads are checked as linearizable (stale reads are anomalies).
 * - `subscribe-delivery`: a single `ok` entry (no invoke) recording events a subscription
 *   delivered, in `read`; checked like a read except for staleness.
 */
export interface HistoryOp {
  /** Position in the history; entries are given in this order. */
  index: number;
  /** The logical client thread. */
  process: number | string;
  /** `invoke` starts an operation; `ok`, `fail` (certainly not done) or `info` (unknown) ends it. */
  type: 'invoke' | 'ok' | 'fail' | 'info';
  /** The operation. */
  f: 'append' | 'read' | 'subscribe-delivery';
  /** The transaction (on the append invoke; optional on its completion). */
  txn?: {
    /** One entry per stream, in the order sent. */
    appends: HistoryAppend[];
  };
  /** On `ok` appends: the LSN and versions the acknowledgement reported. */
  result?: {
    /** The LSN of the transaction's record. */
    lsn: number;
    /**
     * True on a participant's part of a transaction over several stripes (`checkStripes` splits
     * such a transaction into parts): the part becomes visible at its outcome record, at an LSN of
     * its own stripe's log the client never learns, so `lsn` (the coordinator's) is not its
     * position. Its versions are still checked; its LSN, and its stripe's `$all` reads against it,
     * are not.
     */
    participant?: boolean;
    /** The versions each stream's events took. */
    streams: HistoryAppendedRange[];
  };
  /** On `fail` and `info`: the error's name. */
  error?: string;
  /** On reads and subscription deliveries. */
  read?: HistoryRead;
  /** A monotonic clock reading, in ms, taken when the entry happened. */
  timeMs: number;
}

/** Everything one subscription delivered, in delivery order. */
export interface SubscriptionLog {
  /** A name used in reports. */
  name: string;
  /** The stream subscribed to, or `null` for `$all`. */
  stream: string | null;
  /** First version (stream) or first LSN (`$all`) the subscription started from. */
  from: number;
  /** The events delivered, in order. */
  events: EventPosition[];
}

/** The anomaly classes the checker reports; each is a safety violation when above zero. */
export const anomalyClasses = [
  'lost',
  'lostPrefix',
  'lostMiddle',
  'lostPostfix',
  'duplicate',
  'unexpected',
  'divergentNodes',
  'staleReads',
  'realTimeViolations',
  'expectedVersionDoubleSuccess',
  'abortedReads',
  'tornTransactions',
  'wrongPosition',
  'readGaps',
  'subscriptionAnomalies',
  'wrongStripe',
  'fracturedTransactions',
  'duplicatedTransactions',
  'fracturedReads',
] as const;

/** One anomaly class. */
export type AnomalyClass = (typeof anomalyClasses)[number];

/**
 * What the checker counted. `attempted`, `acked`, `read`, `indeterminate` and `recovered` are
 * informational; every other count is an anomaly class (see {@link AnomalyClass}) and a safety
 * violation when above zero.
 */
export interface CheckCounts {
  /** Logical append transactions invoked (a resend is the same transaction). */
  attempted: number;
  /** Of them, acknowledged (`ok`). */
  acked: number;
  /** Reads that completed `ok`. */
  read: number;
  /** Acknowledged transactions missing, wholly or partly, from at least one server's final log (I1). */
  lost: number;
  /**
   * Lost transactions that none of their producer's (`process`'s) earlier acknowledged
   * transactions precedes on the first server that misses them.
   */
  lostPrefix: number;
  /** Lost transactions with the producer's acknowledged transactions present before and after. */
  lostMiddle: number;
  /** Lost transactions with none of the producer's later acknowledged transactions present (a lost tail). */
  lostPostfix: number;
  /** Event ids found at more than one position of a server's final log (I2). */
  duplicate: number;
  /** Event ids seen (final logs, reads, subscriptions) that no append invoked (I4). */
  unexpected: number;
  /**
   * Servers whose final log differs from the reference (the first final log), or is not a
   * well-formed log: LSNs non-decreasing, each stream's versions dense from 0 (I3).
   */
  divergentNodes: number;
  /** Reads that missed a transaction acknowledged before the read was invoked (I7). */
  staleReads: number;
  /** Transactions placed, in a stream, before one acknowledged before they were invoked (I6). */
  realTimeViolations: number;
  /**
   * Acknowledged appends whose expected version did not hold where they sit; two successes on one
   * `(stream, v)` always make one (I8).
   */
  expectedVersionDoubleSuccess: number;
  /** Failed transactions whose events are visible anywhere (I5). */
  abortedReads: number;
  /**
   * Transactions present in part, split across records, or not contiguous in a stream, plus
   * complete reads that end inside a transaction (I9).
   */
  tornTransactions: number;
  /** Transactions with no `ok` and at least one `info` (or unfinished) attempt. */
  indeterminate: number;
  /** Of the indeterminate transactions, those present in the final order. */
  recovered: number;
  /**
   * Acknowledgements and reads that put an event somewhere other than where the final order has it
   * (inconsistent offsets; a reader diverging from the log) (I3).
   */
  wrongPosition: number;
  /** Reads and deliveries that skipped positions (not a gap-free slice). */
  readGaps: number;
  /** Subscription deliveries duplicated, skipped (one per gap), reordered or misplaced (I10). */
  subscriptionAnomalies: number;
  /**
   * With several stripes (`checkStripes`): streams found in another stripe's log or delivery
   * (one per stripe, place and stream). Always 0 from `checkHistory`.
   */
  wrongStripe: number;
  /**
   * With several stripes: transactions over several stripes present in the final log of some of
   * their stripes and absent from another's (atomicity across stripes). Always 0 from `checkHistory`.
   */
  fracturedTransactions: number;
  /**
   * With several stripes: transactions over several stripes with an event found more than once
   * over their stripes' final logs (exactly once across stripes). Always 0 from `checkHistory`.
   */
  duplicatedTransactions: number;
  /**
   * With several stripes: reads that missed a part of a transaction over several stripes after a
   * read or delivery invoked earlier had seen another of its parts (one per read and part). Always
   * 0 from `checkHistory`.
   */
  fracturedReads: number;
}

/** The checker's verdict. */
export interface CheckResult {
  /** True when every anomaly count is zero and there was a final log to check against. */
  valid: boolean;
  /** Every count, anomalies and informational ones. */
  counts: CheckCounts;
  /** Up to 32 human-readable descriptions per anomaly class that occurred. */
  examples: Partial<Record<AnomalyClass, string[]>>;
  /**
   * Findings that do not decide validity (up to 32): a malformed history, and `fail:
   * WrongExpectedVersion` answers on a stream that provably had the expected version throughout
   * the operation (the weak check of §2.4 point 9).
   */
  warnings: string[];
}
