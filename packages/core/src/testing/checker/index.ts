/**
 * A purpose-built history checker for Kiln (RELIABILITY.md §2.4, invariants I1–I10 of §3.1).
 *
 * Every appended event carries a unique id, so the final log reveals the version order outright
 * and each invariant is a scan over it: linear, or n·log n where a check sorts by time. No search.
 *
 * ```ts
 * import { checkHistory } from '@kiln/core/testing/checker';
 * const result = checkHistory(history, [activeLog, mirrorLog1, mirrorLog2], subscriptions);
 * if (!result.valid) console.log(result.counts, result.examples);
 * ```
 *
 * One call checks one log: a mirror group (stripe). Give the active's final log first; it is the
 * reference the other servers, the reads and the subscriptions are compared with. A cluster of
 * several stripes is checked with `checkStripes`, stripe by stripe and across them.
 *
 * @module
 */
export type {
  AnomalyClass,
  CheckCounts,
  CheckResult,
  EventPosition,
  HistoryAppend,
  HistoryAppendedRange,
  HistoryOp,
  HistoryRead,
  SubscriptionLog,
} from './types.js';
export { anomalyClasses } from './types.js';
export { checkHistory } from './check-history.js';
export { checkStripes, type StripeLogs } from './stripes.js';
export { overlappingLeases, type LeaseInterval } from './leases.js';
export { staleLeaseReads, type ServedOnLease } from './lease-reads.js';
