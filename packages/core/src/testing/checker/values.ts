/**
 * I4 and I5 (§2.4 points 4 and 5) over everything anyone saw: every event id in a final log, a
 * read or a subscription must have been invoked, and none may come from a failed transaction.
 */
import type { PairedHistory, Txn } from './history.js';
import type { Report } from './report.js';
import type { EventPosition, SubscriptionLog } from './types.js';

/** Where an observation came from, for the report. */
type Source = () => string;

/**
 * Counts `unexpected` once per never-invoked id and `abortedReads` once per failed transaction
 * seen anywhere.
 */
export function checkObservedValues(
  history: PairedHistory,
  finalLogs: ReadonlyArray<readonly EventPosition[]>,
  subscriptions: readonly SubscriptionLog[],
  report: Report,
): void {
  const unexpected = new Set<string>();
  const aborted = new Set<Txn>();
  const observe = (events: readonly EventPosition[], source: Source): void => {
    for (const e of events) {
      const txn = history.byId.get(e.id);
      if (!txn) {
        if (unexpected.has(e.id)) continue;
        unexpected.add(e.id);
        report.anomaly('unexpected', () => `event ${e.id} at ${e.stream}/${e.version}#${e.lsn} in ${source()} was never invoked`);
      } else if (txn.status === 'fail' && !aborted.has(txn)) {
        aborted.add(txn);
        const errors = [...new Set(txn.attempts.map((a) => a.error ?? '?'))].join(', ');
        report.anomaly('abortedReads', () => `failed transaction ${txn.key} (${errors}) is visible: ${e.id} at ${e.stream}/${e.version}#${e.lsn} in ${source()}`);
      }
    }
  };
  finalLogs.forEach((log, n) => observe(log, () => `server ${n}'s final log`));
  for (const read of history.reads) observe(read.events, () => `${read.kind} op ${read.index} (process ${read.process})`);
  for (const sub of subscriptions) observe(sub.events, () => `subscription ${sub.name}`);
}

/** True when an id is accounted for by `unexpected` or `abortedReads` already. */
export function reportedElsewhere(history: PairedHistory, id: string): boolean {
  const txn = history.byId.get(id);
  return !txn || txn.status === 'fail';
}
