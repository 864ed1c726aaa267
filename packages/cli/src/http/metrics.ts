/**
 * `/metrics` in Prometheus text: a prom-client registry whose every metric is read when scraped,
 * from one observation of the server taken per scrape. The server counts in plain numbers
 * (`ServerCounters` in core); nothing here runs per append. docs/metrics.md lists each metric.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { Histogram, ServerObservation, ServerState } from '@kiln/core';

const STATES: readonly ServerState[] = ['START', 'PASSIVE-UNINITIALIZED', 'PASSIVE-SYNCING', 'PASSIVE-STANDBY', 'ACTIVE-COORDINATOR', 'STOPPED'];

type Labels = Record<string, string>;
type Sample = [Labels, number];
type Read = (observations: readonly ServerObservation[]) => Sample[];

/** A registry and how to scrape it: observes the server once, then renders every metric from that. */
export interface MetricsEndpoint {
  readonly registry: Registry;
  scrape(): Promise<string>;
}

/** `observe` gives one observation per stripe this process serves (one for a server, one per stripe for a voter). */
export function metricsEndpoint(member: string, observe: () => readonly ServerObservation[]): MetricsEndpoint {
  const registry = new Registry();
  registry.setDefaultLabels({ member });
  collectDefaultMetrics({ register: registry });
  let current: readonly ServerObservation[] = [];

  const perStripe = (read: (o: ServerObservation) => number): Read => (all) => all.map((o) => [{ stripe: o.stripe }, read(o)]);
  const total = (read: (o: ServerObservation) => number): Read => (all) => [[{}, all.reduce((sum, o) => sum + read(o), 0)]];
  const counter = (name: string, help: string, labelNames: string[], read: Read): void => {
    new Counter({
      name, help, labelNames, registers: [registry],
      collect() {
        this.reset();
        for (const [labels, value] of read(current)) this.inc(labels, value);
      },
    });
  };
  const gauge = (name: string, help: string, labelNames: string[], read: Read): void => {
    new Gauge({
      name, help, labelNames, registers: [registry],
      collect() {
        this.reset();
        for (const [labels, value] of read(current)) this.set(labels, value);
      },
    });
  };

  // What the commit path did (on the active).
  counter('kiln_transactions_committed_total', 'Records committed by this server as active: one per transaction, or per stripe part of a transaction over several.', ['stripe'], perStripe((o) => o.counters.commit.transactions));
  counter('kiln_appends_committed_total', 'Stream appends committed by this server as active.', ['stripe'], perStripe((o) => o.counters.commit.appends));
  counter('kiln_events_committed_total', 'Events committed by this server as active.', ['stripe'], perStripe((o) => o.counters.commit.events));
  counter('kiln_committed_bytes_total', 'Encoded record bytes committed by this server as active.', ['stripe'], perStripe((o) => o.counters.commit.bytes));
  histogram(registry, 'kiln_commit_latency_seconds', 'From a transaction accepted by the committer to its commit (durable, and on every in-sync mirror).', () => current, (o) => o.counters.commit.commitSeconds);
  histogram(registry, 'kiln_store_write_seconds', 'One store write, with its fsync in restartable mode, per group commit.', () => current, (o) => o.counters.commit.storeWriteSeconds);
  histogram(registry, 'kiln_group_commit_records', 'Records per group commit.', () => current, (o) => o.counters.commit.groupCommitRecords);

  // The stripe as this member sees it.
  gauge('kiln_term', 'The highest term this member has seen.', ['stripe'], perStripe((o) => o.status.term));
  counter('kiln_elections_total', 'Election rounds this member took part in.', ['stripe'], perStripe((o) => o.counters.elections));
  gauge('kiln_role', "This member's state in its stripe, one series per state name of kiln status; 1 for the current one.", ['stripe', 'role'], (all) =>
    all.flatMap((o) => STATES.map((role): Sample => [{ stripe: o.stripe, role }, o.status.state === role ? 1 : 0])),
  );
  gauge('kiln_last_lsn', "LSN of the last record in this member's log.", ['stripe'], perStripe((o) => o.status.lastLsn));
  gauge('kiln_commit_index', 'Highest committed LSN this member knows.', ['stripe'], perStripe((o) => o.status.commitIndex));
  gauge('kiln_group_servers', "Servers of the stripe, in this member's recorded view.", ['stripe'], perStripe((o) => servers(o).length));
  gauge('kiln_in_sync_servers', "Servers in the stripe's in-sync set, in this member's recorded view.", ['stripe'], perStripe((o) => servers(o).filter((name) => o.status.group?.inSync.includes(name) ?? true).length));
  gauge('kiln_mirror_lag_records', 'On the active: records the mirror has not acknowledged.', ['stripe', 'mirror'], (all) => all.flatMap((o) => (o.status.group?.mirrors ?? []).map((m): Sample => [{ stripe: o.stripe, mirror: m.name }, m.lag])));
  gauge('kiln_mirror_lag_seconds', 'On the active: seconds since it wrote the oldest record the mirror has not acknowledged (0 when it has all).', ['stripe', 'mirror'], (all) =>
    all.flatMap((o) => o.mirrorLagSeconds.map((m): Sample => [{ stripe: o.stripe, mirror: m.mirror }, m.seconds])),
  );
  gauge('kiln_mirror_in_sync', 'On the active: 1 when the mirror is in the in-sync set.', ['stripe', 'mirror'], (all) => all.flatMap((o) => (o.status.group?.mirrors ?? []).map((m): Sample => [{ stripe: o.stripe, mirror: m.name }, m.inSync ? 1 : 0])));
  gauge('kiln_pending_transactions', 'Transactions accepted and not yet committed.', ['stripe'], perStripe((o) => o.status.pendingTransactions));

  // Connections and requests (client listeners; a voter has none).
  gauge('kiln_connections', 'Client connections open.', [], total((o) => o.status.connections));
  gauge('kiln_requests_in_flight', 'Client requests started and not yet answered.', [], total((o) => o.requestsInFlight));
  gauge('kiln_send_queue_bytes', 'Bytes queued to send, over every client connection.', [], total((o) => o.sendQueueBytes));
  counter('kiln_frames_rejected_total', 'Client frames refused (malformed, oversize, unexpected, over the in-flight cap, failed handshake), by the error named.', ['reason'], (all) => {
    const byReason = new Map<string, number>();
    for (const o of all) for (const [reason, n] of o.counters.framesRejected) byReason.set(reason, (byReason.get(reason) ?? 0) + n);
    return [...byReason].map(([reason, n]): Sample => [{ reason }, n]);
  });
  gauge('kiln_subscriptions', 'Subscriptions open.', [], total((o) => o.status.subscriptions));
  gauge('kiln_subscriptions_catching_up', 'Subscriptions still reading from the store, not yet live: behind the commit index.', [], total((o) => o.subscriptionsCatchingUp));

  // Transactions over several stripes (on each stripe's active).
  const txns = (read: (t: NonNullable<ServerObservation['transactions']>) => number): Read => (all) => all.flatMap((o) => (o.transactions ? [[{ stripe: o.stripe }, read(o.transactions)] as Sample] : []));
  gauge('kiln_cross_stripe_transactions_open', 'On the active: transactions over several stripes open here (deciding, or a prepared part not ended).', ['stripe'], txns((t) => t.open));
  gauge('kiln_cross_stripe_transaction_oldest_age_seconds', 'On the active: age of the oldest open transaction over several stripes.', ['stripe'], txns((t) => t.oldestAgeMs / 1000));
  gauge('kiln_cross_stripe_transactions_in_doubt', 'On the active: prepared parts whose coordinator has not been reached for longer than txnTimeoutMs.', ['stripe'], txns((t) => t.inDoubt));

  return {
    registry,
    scrape: async () => {
      current = observe();
      return registry.metrics();
    },
  };
}

const servers = (o: ServerObservation): string[] => (o.status.group ? o.status.group.members.filter((m) => m.kind === 'server').map((m) => m.name) : [o.status.name]);

/**
 * A histogram counted by core: prom-client's own would need an observe() per commit, so this
 * reads core's buckets when scraped and hands prom-client the series to print.
 */
function histogram(registry: Registry, name: string, help: string, observations: () => readonly ServerObservation[], of: (o: ServerObservation) => Histogram): void {
  registry.registerMetric({
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    get: async () => ({
      name,
      help,
      type: 'histogram',
      aggregator: 'sum',
      values: observations().flatMap((o) => {
        const h = of(o);
        const stripe = o.stripe;
        return [
          ...h.cumulative().map(({ le, count }) => ({ metricName: `${name}_bucket`, labels: { stripe, le: le === Infinity ? '+Inf' : String(le) }, value: count })),
          { metricName: `${name}_sum`, labels: { stripe }, value: h.sum },
          { metricName: `${name}_count`, labels: { stripe }, value: h.count },
        ];
      }),
    }),
  } as unknown as Parameters<Registry['registerMetric']>[0]);
}
