/**
 * The checker over a cluster of several stripes. Each stripe keeps its own log, so each is judged
 * as one group is ({@link checkHistory}), on the part of the history that went to it; across
 * stripes, every stream's events must live only in its own stripe's log, and a transaction over
 * several stripes must never be acknowledged nor leave a trace anywhere. Every example names its
 * stripe.
 */
import { checkHistory } from './check-history.js';
import { Report } from './report.js';
import { anomalyClasses, type CheckResult, type EventPosition, type HistoryOp, type SubscriptionLog } from './types.js';

/** One stripe's evidence. */
export interface StripeLogs {
  /** The stripe's name, for reports; `$all` reads name it in `read.stripe`. */
  name: string;
  /** One per server of the stripe, the reference (its active's) first; see {@link checkHistory}. */
  finalLogs: ReadonlyArray<readonly EventPosition[]>;
  /** What the stripe's `$all` subscriptions delivered. */
  subscriptions?: readonly SubscriptionLog[];
}

/**
 * Checks a history of a cluster of several stripes. An operation belongs to the stripes of its
 * streams (a `$all` read to the one its `read.stripe` names); a transaction over several stripes
 * belongs to each, and must have failed there (a definite failure), so each stripe checks that it
 * is visible nowhere.
 *
 * @param stripeOf the index in `stripes` of the stripe holding a stream (the slot table's routing)
 * @returns the stripes' counts summed (a transaction over several stripes counts in each), their
 *   examples and warnings prefixed with the stripe's name, and `wrongStripe` anomalies
 */
export function checkStripes(history: readonly HistoryOp[], stripes: readonly StripeLogs[], stripeOf: (stream: string) => number): CheckResult {
  const report = new Report();
  const results = splitHistory(history, stripes, stripeOf, report).map((ops, i) => checkHistory(ops, stripes[i]!.finalLogs, stripes[i]!.subscriptions ?? []));
  checkPlacement(stripes, stripeOf, report);
  checkCrossStripe(history, stripes, stripeOf, report);
  const merged = report.result();
  results.forEach((result, i) => {
    const name = stripes[i]!.name;
    for (const key of Object.keys(result.counts) as Array<keyof typeof result.counts>) merged.counts[key] += result.counts[key];
    for (const kind of anomalyClasses) {
      const examples = result.examples[kind];
      if (examples) (merged.examples[kind] ??= []).push(...examples.map((e) => `stripe ${name}: ${e}`));
    }
    merged.warnings.push(...result.warnings.map((w) => `stripe ${name}: ${w}`));
  });
  merged.valid &&= results.every((r) => r.valid);
  return merged;
}

/** Each stripe's part of the history, paired per process (a completion goes where its invoke went). */
function splitHistory(history: readonly HistoryOp[], stripes: readonly StripeLogs[], stripeOf: (stream: string) => number, report: Report): HistoryOp[][] {
  const parts = stripes.map((): HistoryOp[] => []);
  const inFlight = new Map<number | string, number[]>();
  const named = (op: HistoryOp): number[] => {
    const index = stripes.findIndex((s) => s.name === op.read?.stripe);
    if (index >= 0) return [index];
    report.warn(() => `op ${op.index} reads $all of no known stripe ('${op.read?.stripe ?? ''}'); left unchecked`);
    return [];
  };
  const owners = (op: HistoryOp): number[] => {
    if (op.f === 'append') return [...new Set((op.txn?.appends ?? []).map((a) => stripeOf(a.stream)))];
    const stream = op.read?.stream;
    return stream === undefined || stream === null ? named(op) : [stripeOf(stream)];
  };
  for (const op of history) {
    let targets: number[];
    if (op.type === 'invoke') inFlight.set(op.process, (targets = owners(op)));
    else if (op.f === 'subscribe-delivery') targets = owners(op);
    else {
      targets = inFlight.get(op.process) ?? [];
      inFlight.delete(op.process);
    }
    for (const i of targets) parts[i]!.push(op);
  }
  return parts;
}

/** Every event in a stripe's logs, reads and deliveries must be of a stream that stripe holds; one anomaly per stripe, server and stream. */
function checkPlacement(stripes: readonly StripeLogs[], stripeOf: (stream: string) => number, report: Report): void {
  const seen = new Set<string>();
  const check = (events: readonly EventPosition[], stripe: number, where: string): void => {
    for (const e of events) {
      const owner = stripeOf(e.stream);
      if (owner === stripe || seen.has(`${where}\u0000${e.stream}`)) continue;
      seen.add(`${where}\u0000${e.stream}`);
      const text = `stripe ${stripes[stripe]!.name}: stream ${e.stream}, which stripe ${stripes[owner]?.name ?? `#${owner}`} holds, is in ${where} (${e.id} at version ${e.version}, LSN ${e.lsn})`;
      report.anomaly('wrongStripe', () => text);
    }
  };
  stripes.forEach((s, i) => {
    s.finalLogs.forEach((log, n) => check(log, i, `the final log of its server ${n}`));
    for (const sub of s.subscriptions ?? []) check(sub.events, i, `subscription ${sub.name}`);
  });
}

/** A transaction over several stripes must be refused: never acknowledged, none of its events in any stripe's log. */
function checkCrossStripe(history: readonly HistoryOp[], stripes: readonly StripeLogs[], stripeOf: (stream: string) => number, report: Report): void {
  const cross = new Map<string, string>();
  const acknowledged = new Set<number | string>();
  const pending = new Map<number | string, string>();
  for (const op of history) {
    if (op.f !== 'append') continue;
    if (op.type === 'invoke') {
      const appends = op.txn?.appends ?? [];
      const names = [...new Set(appends.map((a) => stripes[stripeOf(a.stream)]?.name ?? '?'))];
      const key = appends.flatMap((a) => a.eventIds)[0];
      if (names.length > 1 && key !== undefined) {
        for (const a of appends) for (const id of a.eventIds) cross.set(id, key);
        pending.set(op.process, `${key} over stripes ${names.join(', ')}`);
      } else pending.delete(op.process);
      continue;
    }
    const txn = pending.get(op.process);
    pending.delete(op.process);
    if (txn !== undefined && op.type === 'ok' && !acknowledged.has(txn)) {
      acknowledged.add(txn);
      report.anomaly('wrongStripe', () => `transaction ${txn} was acknowledged (LSN ${op.result?.lsn}); a transaction over several stripes must be refused`);
    }
  }
  const found = new Set<string>();
  stripes.forEach((s) =>
    s.finalLogs.forEach((log, n) => {
      for (const e of log) {
        const key = cross.get(e.id);
        if (key === undefined || found.has(key)) continue;
        found.add(key);
        report.anomaly('wrongStripe', () => `stripe ${s.name}: transaction ${key}, over several stripes, wrote ${e.id} at ${e.stream}/${e.version}#${e.lsn} on its server ${n}`);
      }
    }),
  );
}
