/**
 * The checker over a cluster of several stripes. Each stripe keeps its own log, so each is judged
 * as one group is ({@link checkHistory}), on the part of the history that went to it; across
 * stripes, every stream's events must live only in its own stripe's log, and a transaction over
 * several stripes (two-phase commit) must be on all of its stripes or on none, each event once.
 * Every example names its stripe.
 */
import { checkHistory } from './check-history.js';
import { checkFracturedReads } from './fractured-reads.js';
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
 * is checked in each as its part there (see `splitHistory` below), and across them as a whole.
 *
 * @param stripeOf the index in `stripes` of the stripe holding a stream (the slot table's routing)
 * @returns the stripes' counts summed (a transaction over several stripes counts in each), their
 *   examples and warnings prefixed with the stripe's name, and the anomalies across stripes:
 *   `wrongStripe`, `fracturedTransactions`, `duplicatedTransactions`, `fracturedReads`
 */
export function checkStripes(history: readonly HistoryOp[], stripes: readonly StripeLogs[], stripeOf: (stream: string) => number): CheckResult {
  const report = new Report();
  const results = splitHistory(history, stripes, stripeOf, report).map((ops, i) => checkHistory(ops, stripes[i]!.finalLogs, stripes[i]!.subscriptions ?? []));
  checkPlacement(stripes, stripeOf, report);
  checkAcrossStripes(history, stripes, stripeOf, report);
  checkFracturedReads(history, stripes, stripeOf, report);
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

/**
 * Each stripe's part of the history, paired per process (a completion goes where its invoke went).
 * A transaction over several stripes goes to each as its part there: that stripe's appends, and
 * on `ok` that stripe's ranges. The acknowledged LSN is the coordinator's part's (the lowest
 * stripe's, at its decide record); a participant's part, written at an LSN the client never
 * learns, is marked `participant` so that its LSN is not checked.
 */
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
    if (op.f === 'append') return [...new Set((op.txn?.appends ?? []).map((a) => stripeOf(a.stream)))].sort((a, b) => a - b);
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
    if (op.f !== 'append' || targets.length < 2) for (const i of targets) parts[i]!.push(op);
    else targets.forEach((i, n) => parts[i]!.push(partOf(op, (stream) => stripeOf(stream) === i, n === 0)));
  }
  return parts;
}

/** One stripe's part (its streams: `ours`) of an entry of a transaction over several stripes: the coordinator's, or a participant's (marked). */
function partOf(op: HistoryOp, ours: (stream: string) => boolean, coordinator: boolean): HistoryOp {
  const part: HistoryOp = { ...op };
  if (op.txn) part.txn = { appends: op.txn.appends.filter((a) => ours(a.stream)) };
  if (op.result) {
    const streams = op.result.streams.filter((r) => ours(r.stream));
    part.result = coordinator ? { lsn: op.result.lsn, streams } : { lsn: op.result.lsn, streams, participant: true };
  }
  return part;
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

/**
 * A transaction over several stripes is all or nothing across them, and exactly once: in the
 * stripes' reference final logs, its events are on every stripe it wrote or on none
 * (`fracturedTransactions`; one acknowledged and on none is `lost` in each stripe's own check), and
 * none of them is there twice (`duplicatedTransactions`). A resend is the same transaction.
 */
function checkAcrossStripes(history: readonly HistoryOp[], stripes: readonly StripeLogs[], stripeOf: (stream: string) => number, report: Report): void {
  interface Spanning {
    key: string;
    status: 'ok' | 'fail' | 'info';
    /** Per stripe written: how many of its events the stripe's reference log holds. */
    found: Map<number, number>;
  }
  const byId = new Map<string, Spanning>();
  const spanning: Spanning[] = [];
  const inFlight = new Map<number | string, Spanning>();
  for (const op of history) {
    if (op.f !== 'append') continue;
    if (op.type === 'invoke') {
      const appends = (op.txn?.appends ?? []).filter((a) => a.eventIds.length > 0);
      const written = new Set(appends.map((a) => stripeOf(a.stream)));
      const key = appends[0]?.eventIds[0];
      if (written.size < 2 || key === undefined) {
        inFlight.delete(op.process);
        continue;
      }
      let txn = byId.get(key);
      if (!txn) {
        txn = { key, status: 'fail', found: new Map([...written].sort((a, b) => a - b).map((i) => [i, 0])) };
        spanning.push(txn);
        for (const a of appends) for (const id of a.eventIds) byId.set(id, txn);
      }
      inFlight.set(op.process, txn);
      continue;
    }
    const txn = inFlight.get(op.process);
    inFlight.delete(op.process);
    if (txn && (op.type === 'ok' || (op.type === 'info' && txn.status === 'fail'))) txn.status = op.type;
  }
  // A transaction whose invoke never completed may have committed.
  for (const txn of inFlight.values()) if (txn.status === 'fail') txn.status = 'info';
  if (spanning.length === 0) return;

  const seen = new Map<string, string>();
  const doubled = new Set<Spanning>();
  stripes.forEach((s, i) => {
    for (const e of s.finalLogs[0] ?? []) {
      const txn = byId.get(e.id);
      if (!txn) continue;
      const where = `stripe ${s.name} at ${e.stream}/${e.version}#${e.lsn}`;
      const before = seen.get(e.id);
      if (before !== undefined && !doubled.has(txn)) {
        doubled.add(txn);
        report.anomaly('duplicatedTransactions', () => `transaction ${txn.key} (${txn.status}) over stripes ${names(stripes, txn.found)}: ${e.id} is on ${before} and again on ${where}`);
      }
      seen.set(e.id, where);
      if (txn.found.has(i)) txn.found.set(i, txn.found.get(i)! + 1);
    }
  });
  for (const txn of spanning) {
    const on = [...txn.found].filter(([, count]) => count > 0).map(([i]) => i);
    if (on.length === 0 || on.length === txn.found.size) continue;
    const off = [...txn.found.keys()].filter((i) => !on.includes(i));
    report.anomaly(
      'fracturedTransactions',
      () => `transaction ${txn.key} (${txn.status}) over stripes ${names(stripes, txn.found)} is in the final log of stripe ${on.map((i) => stripes[i]!.name).join(', ')}, not of stripe ${off.map((i) => stripes[i]!.name).join(', ')}`,
    );
  }
}

function names(stripes: readonly StripeLogs[], found: Map<number, number>): string {
  return [...found.keys()].map((i) => stripes[i]?.name ?? `#${i}`).join(', ');
}
