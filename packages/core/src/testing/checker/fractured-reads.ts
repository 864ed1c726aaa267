/**
 * No fractured read across stripes: once any read or subscription delivery has shown a part of a
 * transaction over several stripes, every read invoked later that covers the position of another
 * of its parts (in the stripes' reference final logs) shows that part too. A reader that saw the
 * debit must see the credit; what it may not see is one without the other.
 */
import type { Report } from './report.js';
import type { EventPosition, HistoryOp } from './types.js';

/** One stream's part of a transaction over several stripes, where the reference log has it. */
interface Part {
  txn: string;
  stripe: number;
  /** The part's first event, at its final position. */
  first: EventPosition;
}

/** A completed read, with what it asked and what it got. */
interface Observation {
  index: number;
  invokeMs: number;
  completeMs: number;
  /** `null` for `$all` of `stripe`. */
  stream: string | null;
  stripe: number | undefined;
  from: number;
  maxCount: number | undefined;
  events: readonly EventPosition[];
  delivery: boolean;
}

/**
 * Flags `fracturedReads`. Positions come from each stripe's reference final log, so a transaction
 * that is fractured there (flagged as `fracturedTransactions`) or lost is skipped here.
 */
export function checkFracturedReads(
  history: readonly HistoryOp[],
  stripes: ReadonlyArray<{ name: string; finalLogs: ReadonlyArray<readonly EventPosition[]> }>,
  stripeOf: (stream: string) => number,
  report: Report,
): void {
  const reference = new Map<string, EventPosition>();
  for (const log of stripes) for (const e of log.finalLogs[0] ?? []) reference.set(e.id, e);

  const { partsOf, txnOf } = spanningParts(history, stripeOf, reference);
  if (partsOf.size === 0) return;
  const byStream = new Map<string, Part[]>();
  const byStripe = new Map<number, Part[]>();
  for (const parts of partsOf.values())
    for (const p of parts) {
      (byStream.get(p.first.stream) ?? byStream.set(p.first.stream, []).get(p.first.stream)!).push(p);
      (byStripe.get(p.stripe) ?? byStripe.set(p.stripe, []).get(p.stripe)!).push(p);
    }

  const observations = observe(history, stripes);
  // When (and by which observation) each transaction was first seen in part.
  const firstSeen = new Map<string, Observation>();
  for (const o of observations)
    for (const e of o.events) {
      const txn = txnOf.get(e.id);
      if (txn === undefined) continue;
      const before = firstSeen.get(txn);
      if (!before || o.completeMs < before.completeMs) firstSeen.set(txn, o);
    }

  for (const read of observations) {
    if (read.delivery) continue;
    const candidates = read.stream === null ? (read.stripe === undefined ? undefined : byStripe.get(read.stripe)) : byStream.get(read.stream);
    if (!candidates) continue;
    const got = new Set(read.events.map((e) => e.id));
    const last = read.events[read.events.length - 1];
    const complete = read.maxCount === undefined || read.events.length < read.maxCount;
    for (const part of candidates) {
      const seen = firstSeen.get(part.txn);
      if (!seen || seen.completeMs >= read.invokeMs || got.has(part.first.id)) continue;
      const at = read.stream === null ? part.first.lsn : part.first.version;
      const reached = last === undefined ? read.from - 1 : read.stream === null ? last.lsn : last.version;
      if (at < read.from || (!complete && reached < at)) continue;
      report.anomaly('fracturedReads', () => {
        const where = read.stream ?? `$all of stripe ${stripes[part.stripe]!.name}`;
        return `read op ${read.index} of ${where} (invoked at ${read.invokeMs} ms) misses ${part.first.id} at ${part.first.stream}/${part.first.version}#${part.first.lsn}, part of transaction ${part.txn} whose other part op ${seen.index} had already seen at ${seen.completeMs} ms`;
      });
    }
  }
}

/**
 * Transactions over several stripes, by first event id: the part of each stream, where the
 * reference has it; and the transaction of each of their event ids.
 */
function spanningParts(
  history: readonly HistoryOp[],
  stripeOf: (stream: string) => number,
  reference: Map<string, EventPosition>,
): { partsOf: Map<string, Part[]>; txnOf: Map<string, string> } {
  const parts = new Map<string, Part[]>();
  const txnOf = new Map<string, string>();
  for (const op of history) {
    if (op.f !== 'append' || op.type !== 'invoke') continue;
    const appends = (op.txn?.appends ?? []).filter((a) => a.eventIds.length > 0);
    const key = appends[0]?.eventIds[0];
    if (key === undefined || parts.has(key) || new Set(appends.map((a) => stripeOf(a.stream))).size < 2) continue;
    const found = appends.map((a) => ({ txn: key, stripe: stripeOf(a.stream), first: reference.get(a.eventIds[0]!) }));
    if (!found.every((p): p is Part => p.first !== undefined)) continue;
    parts.set(key, found);
    for (const a of appends) for (const id of a.eventIds) txnOf.set(id, key);
  }
  return { partsOf: parts, txnOf };
}

/** Completed reads (paired per process) and deliveries, in history order. */
function observe(history: readonly HistoryOp[], stripes: ReadonlyArray<{ name: string }>): Observation[] {
  const out: Observation[] = [];
  const invoked = new Map<number | string, HistoryOp>();
  const stripeNamed = (name: string | undefined): number | undefined => {
    const i = stripes.findIndex((s) => s.name === name);
    return i >= 0 ? i : undefined;
  };
  for (const op of history) {
    if (op.f === 'subscribe-delivery' && op.read) {
      out.push({ index: op.index, invokeMs: op.timeMs, completeMs: op.timeMs, stream: op.read.stream, stripe: stripeNamed(op.read.stripe), from: op.read.from, maxCount: undefined, events: op.read.events ?? [], delivery: true });
      continue;
    }
    if (op.f !== 'read') continue;
    if (op.type === 'invoke') {
      invoked.set(op.process, op);
      continue;
    }
    const invoke = invoked.get(op.process);
    invoked.delete(op.process);
    if (op.type !== 'ok' || !invoke?.read) continue;
    const asked = invoke.read;
    out.push({
      index: invoke.index,
      invokeMs: invoke.timeMs,
      completeMs: op.timeMs,
      stream: asked.stream,
      stripe: stripeNamed(asked.stripe),
      from: asked.from,
      maxCount: asked.maxCount,
      events: op.read?.events ?? [],
      delivery: false,
    });
  }
  return out;
}
