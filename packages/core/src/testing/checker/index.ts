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
import { checkAckedPositions, checkAtomicity, checkExpectedVersions, checkLost, checkRealTime, countTransactions } from './appends.js';
import { pairHistory } from './history.js';
import { checkReads } from './reads.js';
import { Report } from './report.js';
import { checkSubscriptions } from './subscriptions.js';
import type { CheckResult, EventPosition, HistoryOp, SubscriptionLog } from './types.js';
import { checkObservedValues } from './values.js';
import { buildVersionOrder } from './version-order.js';

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
export { checkStripes, type StripeLogs } from './stripes.js';

/**
 * Checks a history against the final logs and the subscription logs.
 *
 * @param history the operations, in `index` order (see {@link HistoryOp} for pairing rules)
 * @param finalLogs one per server, each its whole log in LSN order as read after healing; the
 *   first is the reference (the active's). With none, the result is not valid (nothing to judge).
 * @param subscriptions what each subscription delivered, in order
 * @returns counts per anomaly class, up to 32 examples of each, and warnings; `valid` when every
 *   anomaly count is zero
 */
export function checkHistory(
  history: readonly HistoryOp[],
  finalLogs: ReadonlyArray<readonly EventPosition[]>,
  subscriptions: readonly SubscriptionLog[] = [],
): CheckResult {
  const report = new Report();
  if (finalLogs.length === 0) report.incomplete('no final log: the final read did not complete, so the run cannot be judged');
  const paired = pairHistory(history, report);
  const order = buildVersionOrder(finalLogs, report);
  countTransactions(paired, order, report);
  checkObservedValues(paired, finalLogs, subscriptions, report);
  checkLost(paired, order, report);
  const torn = checkAtomicity(paired, order, report);
  checkAckedPositions(paired, order, torn, report);
  checkExpectedVersions(paired, order, report);
  checkRealTime(paired, order, report);
  checkReads(paired, order, report);
  checkSubscriptions(subscriptions, paired, order, report);
  return report.result();
}
