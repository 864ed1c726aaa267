/** {@link checkHistory}: every check of one stripe's history against its logs, in order. */
import { checkAckedPositions, checkAtomicity, checkExpectedVersions, checkLost, checkRealTime, countTransactions } from './appends.js';
import { pairHistory } from './history.js';
import { checkReads } from './reads.js';
import { Report } from './report.js';
import { checkSubscriptions } from './subscriptions.js';
import type { CheckResult, EventPosition, HistoryOp, SubscriptionLog } from './types.js';
import { checkObservedValues } from './values.js';
import { buildVersionOrder } from './version-order.js';

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
