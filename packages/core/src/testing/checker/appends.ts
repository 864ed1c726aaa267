/**
 * The checks on transactions (§2.4 points 2, 6, 7, 9, 10, 11): lost acknowledged transactions
 * and their prefix/middle/postfix class, acknowledged positions, real-time order, expected-version
 * exclusivity, atomicity in the final order, and the indeterminate tally.
 */
import type { PairedHistory, Txn } from './history.js';
import type { Report } from './report.js';
import type { VersionOrder } from './version-order.js';

/** Counts attempted, acknowledged, indeterminate and recovered transactions. */
export function countTransactions(history: PairedHistory, order: VersionOrder, report: Report): void {
  for (const txn of history.txns) {
    report.counts.attempted++;
    if (txn.status === 'ok') report.counts.acked++;
    if (txn.status === 'info') {
      report.counts.indeterminate++;
      if (txn.ids.some((id) => order.indexOf.has(id))) report.counts.recovered++;
    }
  }
}

/**
 * I1: every acknowledged transaction must be wholly present in every server's final log. A miss
 * counts once in `lost`, and once in `lostPrefix`, `lostMiddle` or `lostPostfix` by its
 * producer's other acknowledged transactions on the first server that misses it.
 */
export function checkLost(history: PairedHistory, order: VersionOrder, report: Report): void {
  const byProducer = new Map<number | string, Txn[]>();
  for (const txn of history.txns) {
    if (txn.status !== 'ok' || txn.ids.length === 0) continue;
    let list = byProducer.get(txn.producer);
    if (!list) byProducer.set(txn.producer, (list = []));
    list.push(txn);
  }
  for (const list of byProducer.values()) list.sort((a, b) => a.order - b.order);
  const classified = new Set<Txn>();
  order.nodes.forEach((ids, node) => {
    for (const [producer, list] of byProducer) {
      const present = list.map((t) => t.ids.every((id) => ids.has(id)));
      const after: boolean[] = new Array<boolean>(list.length);
      let any = false;
      for (let i = list.length - 1; i >= 0; i--) {
        after[i] = any;
        any ||= present[i]!;
      }
      let before = false;
      list.forEach((txn, i) => {
        if (present[i]) {
          before = true;
          return;
        }
        if (classified.has(txn)) return;
        classified.add(txn);
        const missing = txn.ids.filter((id) => !ids.has(id));
        const where = `acknowledged transaction ${txn.key} (producer ${producer}, ok at ${txn.okMs} ms) is missing ${missing.length} of ${txn.ids.length} events on server ${node}`;
        report.anomaly('lost', () => where);
        const kind = !after[i] ? 'lostPostfix' : before ? 'lostMiddle' : 'lostPrefix';
        report.anomaly(kind, () => where);
      });
    }
  });
}

/**
 * I9 on the final order: a transaction present at all must be wholly present, in one record that
 * holds nothing else, each stream's events contiguous and in the order sent. Returns the torn ones.
 */
export function checkAtomicity(history: PairedHistory, order: VersionOrder, report: Report): Set<Txn> {
  const recordSize = new Map<number, number>();
  order.events.forEach((e, i) => {
    if (order.indexOf.get(e.id) === i) recordSize.set(e.lsn, (recordSize.get(e.lsn) ?? 0) + 1);
  });
  const torn = new Set<Txn>();
  for (const txn of history.txns) {
    let present = 0;
    let lsn: number | undefined;
    let problem: string | undefined;
    for (const append of txn.appends) {
      let first: number | undefined;
      append.eventIds.forEach((id, k) => {
        const index = order.indexOf.get(id);
        if (index === undefined) return;
        present++;
        const e = order.events[index]!;
        lsn ??= e.lsn;
        first ??= e.version - k;
        if (problem !== undefined) return;
        if (e.lsn !== lsn) problem = `its events are in records ${lsn} and ${e.lsn}`;
        else if (e.stream !== append.stream) problem = `event ${id} for ${append.stream} sits in ${e.stream}`;
        else if (e.version !== first + k) problem = `event ${id} is at ${e.stream}/${e.version}, not contiguous`;
      });
    }
    if (present === 0) continue;
    if (problem === undefined && present < txn.ids.length) problem = `only ${present} of its ${txn.ids.length} events are present`;
    if (problem === undefined && lsn !== undefined && recordSize.get(lsn) !== txn.ids.length) problem = `record ${lsn} holds ${recordSize.get(lsn)} events, the transaction ${txn.ids.length}`;
    if (problem !== undefined) {
      torn.add(txn);
      const text = problem;
      report.anomaly('tornTransactions', () => `transaction ${txn.key} (${txn.status}) is torn in the final order: ${text}`);
    }
  }
  return torn;
}

/**
 * §2.4 point 6: an acknowledgement's LSN and versions must be where the final order has the
 * events. Lost and torn transactions are reported as such, not here.
 */
export function checkAckedPositions(history: PairedHistory, order: VersionOrder, torn: Set<Txn>, report: Report): void {
  for (const txn of history.txns) {
    if (txn.status !== 'ok' || torn.has(txn) || !txn.ids.every((id) => order.indexOf.has(id))) continue;
    for (const attempt of txn.attempts) {
      const result = attempt.result;
      if (attempt.type !== 'ok' || !result) continue;
      let problem: string | undefined;
      for (const append of txn.appends) {
        if (append.eventIds.length === 0) continue;
        const range = result.streams.find((r) => r.stream === append.stream);
        if (!range) {
          problem = `it reports no range for ${append.stream}`;
          break;
        }
        if (range.eventCount !== append.eventIds.length) problem = `it reports ${range.eventCount} events for ${append.stream}, not ${append.eventIds.length}`;
        append.eventIds.forEach((id, k) => {
          const e = order.events[order.indexOf.get(id)!]!;
          // A participant's part is at an LSN the client never learns: only its versions are checked.
          const lsn = result.participant === true ? e.lsn : result.lsn;
          if (problem === undefined && (e.lsn !== lsn || e.version !== range.firstVersion + k))
            problem = `it put ${id} at ${append.stream}/${range.firstVersion + k}#${result.participant === true ? '?' : result.lsn}, the final order at ${e.stream}/${e.version}#${e.lsn}`;
        });
        if (problem !== undefined) break;
      }
      if (problem !== undefined) {
        const text = problem;
        report.anomaly('wrongPosition', () => `acknowledgement of ${txn.key} (op ${attempt.invokeIndex}) disagrees with the final order: ${text}`);
      }
    }
  }
}

/** The stream length an expected version demands, or undefined when it demands none. */
function demandedLength(expected: unknown): number | undefined {
  if (typeof expected === 'number') return expected + 1;
  if (expected === 'no-stream') return 0;
  return undefined;
}

/**
 * I8 (§2.4 point 9): an acknowledged append with an expected version must sit where that version
 * held (`v` -> first version `v + 1`, `'no-stream'` -> 0, `'exists'` -> above 0), so at most one
 * succeeds per `(stream, v)`. Also warns about a `WrongExpectedVersion` failure on a stream that
 * provably had the expected version throughout the operation.
 */
export function checkExpectedVersions(history: PairedHistory, order: VersionOrder, report: Report): void {
  const winners = new Map<string, string[]>();
  const violations: Array<{ txn: Txn; stream: string; expected: string; first: number; group: string }> = [];
  for (const txn of history.txns) {
    if (txn.status !== 'ok') continue;
    for (const append of txn.appends) {
      const expected = append.expectedVersion ?? 'any';
      const firstId = append.eventIds[0];
      if (expected === 'any' || firstId === undefined) continue;
      const index = order.indexOf.get(firstId);
      let first = index === undefined ? undefined : order.events[index]!.version;
      if (first === undefined) {
        const ranged = txn.attempts.find((a) => a.result)?.result?.streams.find((r) => r.stream === append.stream);
        first = ranged?.firstVersion;
      }
      if (first === undefined) continue;
      const group = `${append.stream}|${String(expected)}`;
      let list = winners.get(group);
      if (!list) winners.set(group, (list = []));
      list.push(txn.key);
      const ok = expected === 'exists' ? first > 0 : first === demandedLength(expected);
      if (!ok) violations.push({ txn, stream: append.stream, expected: String(expected), first, group });
    }
  }
  for (const v of violations) {
    const others = (winners.get(v.group) ?? []).filter((k) => k !== v.txn.key);
    report.anomaly(
      'expectedVersionDoubleSuccess',
      () =>
        `transaction ${v.txn.key} succeeded on ${v.stream} with expected version ${v.expected} but starts at version ${v.first}` +
        (others.length > 0 ? `; also succeeded with that expected version: ${others.slice(0, 4).join(', ')}` : ''),
    );
  }

  for (const txn of history.txns) {
    if (txn.status !== 'fail') continue;
    const checked = txn.appends.filter((a) => (a.expectedVersion ?? 'any') !== 'any');
    const only = checked[0];
    if (checked.length !== 1 || !only) continue;
    const length = demandedLength(only.expectedVersion);
    if (length === undefined) continue;
    for (const attempt of txn.attempts) {
      if (!attempt.error?.includes('WrongExpectedVersion')) continue;
      const last = length === 0 ? undefined : order.at(only.stream, length - 1);
      const lastOwner = last ? history.byId.get(last.id) : undefined;
      const reached = length === 0 || (lastOwner !== undefined && lastOwner.okMs < attempt.invokeMs);
      const next = order.at(only.stream, length);
      const nextOwner = next ? history.byId.get(next.id) : undefined;
      const stayed = next === undefined || (nextOwner !== undefined && nextOwner.invokeMs > attempt.completeMs);
      if (reached && stayed)
        report.warn(() => `transaction ${txn.key} failed (${attempt.error}) on ${only.stream} expecting ${String(only.expectedVersion)}, but the stream provably had that version throughout op ${attempt.invokeIndex}`);
    }
  }
}

/**
 * I6 (§2.4 point 7): in each stream, a transaction acknowledged before another was invoked must
 * come first. Sort by acknowledgement and by invocation, sweep with a running maximum: n·log n.
 */
export function checkRealTime(history: PairedHistory, order: VersionOrder, report: Report): void {
  interface Entry {
    txn: Txn;
    pos: number;
  }
  const byStream = new Map<string, Entry[]>();
  for (const txn of history.txns) {
    for (const append of txn.appends) {
      const firstId = append.eventIds[0];
      const index = firstId === undefined ? undefined : order.indexOf.get(firstId);
      if (index === undefined) continue;
      const e = order.events[index]!;
      if (e.stream !== append.stream) continue;
      let list = byStream.get(e.stream);
      if (!list) byStream.set(e.stream, (list = []));
      list.push({ txn, pos: e.version });
    }
  }
  for (const [stream, entries] of byStream) {
    const acked = entries.filter((x) => x.txn.okMs !== Infinity).sort((a, b) => a.txn.okMs - b.txn.okMs);
    const invoked = [...entries].sort((a, b) => a.txn.invokeMs - b.txn.invokeMs);
    let j = 0;
    let max: Entry | undefined;
    for (const b of invoked) {
      while (j < acked.length && acked[j]!.txn.okMs < b.txn.invokeMs) {
        const a = acked[j++]!;
        if (!max || a.pos > max.pos) max = a;
      }
      if (max && max.pos > b.pos) {
        const a = max;
        report.anomaly(
          'realTimeViolations',
          () => `${stream}: ${b.txn.key} (invoked at ${b.txn.invokeMs} ms) is at version ${b.pos}, before ${a.txn.key} (acknowledged at ${a.txn.okMs} ms) at version ${a.pos}`,
        );
      }
    }
  }
}
