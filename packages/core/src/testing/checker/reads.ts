/**
 * Checks on reads and subscription deliveries recorded in the history (§2.4 points 1, 8, 10):
 * each agrees with the final order at every position it returned (I3 for readers), is a gap-free
 * slice, does not end inside a transaction (I9), and, for linearizable reads, covers every
 * transaction acknowledged before it was invoked (I7).
 */
import type { PairedHistory, Read, Txn } from './history.js';
import type { Report } from './report.js';
import type { VersionOrder } from './version-order.js';
import { reportedElsewhere } from './values.js';

/**
 * For one stream (or `$all`): acknowledged transactions sorted by acknowledgement time, with the
 * running maximum of the end position they reach, so "the furthest position acknowledged before
 * time t" is a binary search.
 */
class AckedFrontier {
  private readonly items: Array<{ okMs: number; end: number; txn: Txn }> = [];
  private maxEnd: Array<{ end: number; txn: Txn }> = [];

  add(okMs: number, end: number, txn: Txn): void {
    this.items.push({ okMs, end, txn });
  }

  seal(): void {
    this.items.sort((a, b) => a.okMs - b.okMs);
    let best: { end: number; txn: Txn } | undefined;
    this.maxEnd = this.items.map((x) => (best = !best || x.end > best.end ? { end: x.end, txn: x.txn } : best));
  }

  /** The furthest end acknowledged strictly before `ms`. */
  before(ms: number): { end: number; txn: Txn } | undefined {
    let lo = 0;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.items[mid]!.okMs < ms) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? undefined : this.maxEnd[lo - 1];
  }
}

/** Builds the frontiers: per stream, the version after a transaction's last event; for `$all`, its LSN. */
function frontiers(history: PairedHistory, order: VersionOrder): { streams: Map<string, AckedFrontier>; all: AckedFrontier } {
  const streams = new Map<string, AckedFrontier>();
  const all = new AckedFrontier();
  for (const txn of history.txns) {
    if (txn.status !== 'ok') continue;
    const result = txn.attempts.find((a) => a.result)?.result;
    let lsn: number | undefined;
    for (const append of txn.appends) {
      const lastId = append.eventIds[append.eventIds.length - 1];
      if (lastId === undefined) continue;
      const index = order.indexOf.get(lastId);
      const e = index === undefined ? undefined : order.events[index];
      let end: number | undefined;
      if (e && e.stream === append.stream) {
        end = e.version + 1;
        lsn ??= e.lsn;
      } else {
        const range = result?.streams.find((r) => r.stream === append.stream);
        if (range) end = range.firstVersion + range.eventCount;
      }
      if (end === undefined) continue;
      let f = streams.get(append.stream);
      if (!f) streams.set(append.stream, (f = new AckedFrontier()));
      f.add(txn.okMs, end, txn);
    }
    // A participant's part may become visible in its stripe's `$all` after the acknowledgement.
    if (result?.participant === true) continue;
    lsn ??= result?.lsn;
    if (lsn !== undefined) all.add(txn.okMs, lsn, txn);
  }
  for (const f of streams.values()) f.seal();
  all.seal();
  return { streams, all };
}

const describe = (read: Read): string => `${read.kind} op ${read.index} (process ${read.process}, ${read.stream ?? '$all'} from ${read.from})`;

/** Runs every read and delivery check; counts `read` for completed reads. */
export function checkReads(history: PairedHistory, order: VersionOrder, report: Report): void {
  const { streams, all } = frontiers(history, order);
  for (const read of history.reads) {
    if (read.kind === 'read') report.counts.read++;
    const stream = read.stream;
    let misplaced: string | undefined;
    let gap: string | undefined;
    // Stream reads follow versions; `$all` reads follow the reference order.
    let expected = stream === null ? order.firstAtLsn(read.from) : read.from;
    for (const e of read.events) {
      const index = order.indexOf.get(e.id);
      const ref = index === undefined ? undefined : order.events[index];
      if (!ref) {
        if (!reportedElsewhere(history, e.id)) misplaced ??= `${e.id} at ${e.stream}/${e.version}#${e.lsn} is not in the final order`;
        continue;
      }
      if (ref.stream !== e.stream || ref.version !== e.version || ref.lsn !== e.lsn)
        misplaced ??= `${e.id} at ${e.stream}/${e.version}#${e.lsn}, the final order has it at ${ref.stream}/${ref.version}#${ref.lsn}`;
      if (stream !== null && e.stream !== stream) {
        misplaced ??= `${e.id} belongs to ${e.stream}`;
        continue;
      }
      const at = stream === null ? index! : e.version;
      if (at > expected) gap ??= `it skipped ${stream === null ? `${at - expected} events before` : `versions ${expected}..${at - 1} before`} ${e.id}`;
      else if (at < expected) misplaced ??= `${e.id} comes out of order`;
      expected = at + 1;
    }
    if (misplaced !== undefined) {
      const text = misplaced;
      report.anomaly('wrongPosition', () => `${describe(read)} disagrees with the final order: ${text}`);
    }
    if (gap !== undefined) {
      const text = gap;
      report.anomaly('readGaps', () => `${describe(read)} is not gap-free: ${text}`);
    }

    // A delivery is one batch of a stream of them, and a page may be cut short: neither is complete.
    if (read.kind !== 'read' || (read.maxCount !== undefined && read.events.length >= read.maxCount)) continue;
    const last = read.events[read.events.length - 1];
    const lastIndex = last === undefined ? undefined : order.indexOf.get(last.id);
    if (last !== undefined && lastIndex !== undefined) {
      const ref = order.events[lastIndex]!;
      const next = stream === null ? order.events[lastIndex + 1] : order.at(ref.stream, ref.version + 1);
      if (next && next.lsn === ref.lsn)
        report.anomaly('tornTransactions', () => `${describe(read)} ends at ${last.id} inside record ${ref.lsn}, which continues with ${next.id}`);
    }
    const frontier = stream === null ? all : streams.get(stream);
    const missed = frontier?.before(read.invokeMs);
    const seen = stream === null ? (last ? last.lsn : read.from - 1) : last ? last.version + 1 : read.from;
    if (missed && missed.end > seen) {
      const m = missed;
      report.anomaly(
        'staleReads',
        () => `${describe(read)}, invoked at ${read.invokeMs} ms, reached ${stream === null ? `LSN ${seen}` : `length ${seen}`} but ${m.txn.key} (acknowledged at ${m.txn.okMs} ms) reaches ${m.end}`,
      );
    }
  }
}
