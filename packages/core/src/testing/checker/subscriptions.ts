/**
 * I10: a subscription delivers the final order itself, from its starting point, in order, each
 * event once, with no gaps, every event where the final order has it. Deliveries may stop anywhere
 * (a subscription still catching up, or closed), so a prefix of the order is complete enough.
 */
import type { PairedHistory } from './history.js';
import type { Report } from './report.js';
import type { SubscriptionLog } from './types.js';
import type { VersionOrder } from './version-order.js';
import { reportedElsewhere } from './values.js';

/**
 * Counts one `subscriptionAnomalies` per duplicated, skipped (one per gap), reordered or misplaced
 * delivery. After an anomaly the check resynchronises on the delivered event, so one fault is
 * counted once rather than for every later delivery.
 */
export function checkSubscriptions(subscriptions: readonly SubscriptionLog[], history: PairedHistory, order: VersionOrder, report: Report): void {
  for (const sub of subscriptions) {
    const where = (i: number): string => `subscription ${sub.name} (${sub.stream ?? '$all'} from ${sub.from}), delivery ${i}`;
    const delivered = new Set<string>();
    let expected = sub.stream === null ? order.firstAtLsn(sub.from) : sub.from;
    sub.events.forEach((e, i) => {
      if (delivered.has(e.id)) {
        report.anomaly('subscriptionAnomalies', () => `${where(i)}: ${e.id} delivered again`);
        return;
      }
      delivered.add(e.id);
      const index = order.indexOf.get(e.id);
      const ref = index === undefined ? undefined : order.events[index];
      if (!ref) {
        if (!reportedElsewhere(history, e.id)) report.anomaly('subscriptionAnomalies', () => `${where(i)}: ${e.id} is not in the final order`);
        return;
      }
      if (ref.stream !== e.stream || ref.version !== e.version || ref.lsn !== e.lsn) {
        report.anomaly('subscriptionAnomalies', () => `${where(i)}: ${e.id} delivered at ${e.stream}/${e.version}#${e.lsn}, the final order has it at ${ref.stream}/${ref.version}#${ref.lsn}`);
        return;
      }
      if (sub.stream !== null && ref.stream !== sub.stream) {
        report.anomaly('subscriptionAnomalies', () => `${where(i)}: ${e.id} belongs to ${ref.stream}`);
        return;
      }
      const at = sub.stream === null ? index! : ref.version;
      if (at > expected) report.anomaly('subscriptionAnomalies', () => `${where(i)}: gap, ${at - expected} events skipped before ${e.id}`);
      else if (at < expected) report.anomaly('subscriptionAnomalies', () => `${where(i)}: ${e.id} delivered out of order`);
      expected = Math.max(expected, at + 1);
    });
  }
}
