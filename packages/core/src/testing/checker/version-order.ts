/**
 * §2.4 point 1 and I2/I3 on the final logs: the authoritative version order is the reference (the
 * first final log, which should be the active's); every server's log must be well formed and equal
 * to it; no event id may sit at two positions.
 */
import type { Report } from './report.js';
import type { EventPosition } from './types.js';

/** The reference log, indexed. */
export interface VersionOrder {
  /** The reference log in LSN order. */
  events: readonly EventPosition[];
  /** Event id -> index in `events` of its first occurrence. */
  indexOf: Map<string, number>;
  /** Stream -> indices in `events` of its events, in version order (first occurrences only). */
  streams: Map<string, number[]>;
  /** Per server: event id -> index of its first occurrence in that server's log. */
  nodes: Array<Map<string, number>>;
  /** Index in `events` of the first event with an LSN at or above `lsn` (`events.length` if none). */
  firstAtLsn(lsn: number): number;
  /** The reference event at `version` of `stream`, if any. */
  at(stream: string, version: number): EventPosition | undefined;
}

const show = (e: EventPosition | undefined): string => (e ? `${e.id}@${e.stream}/${e.version}#${e.lsn}` : 'nothing');

/** Describes the first way `log` is not a well-formed log, or returns undefined. */
function malformation(log: readonly EventPosition[]): string | undefined {
  let lastLsn = 0;
  const heads = new Map<string, number>();
  for (let i = 0; i < log.length; i++) {
    const e = log[i]!;
    if (!(e.lsn >= 1) || e.lsn < lastLsn) return `LSN ${e.lsn} follows ${lastLsn} at index ${i}`;
    lastLsn = e.lsn;
    const head = heads.get(e.stream) ?? -1;
    if (e.version !== head + 1) return `stream ${e.stream}: version ${e.version} follows ${head} at index ${i} (${show(e)})`;
    heads.set(e.stream, e.version);
  }
  return undefined;
}

/**
 * Indexes the reference and checks every final log: `divergentNodes` for a server whose log is
 * malformed or differs from the reference, `duplicate` for an id at two positions of any log.
 */
export function buildVersionOrder(finalLogs: ReadonlyArray<readonly EventPosition[]>, report: Report): VersionOrder {
  const events = finalLogs[0] ?? [];
  const duplicated = new Map<string, string>();
  const nodes = finalLogs.map((log, n) => {
    const ids = new Map<string, number>();
    for (let i = 0; i < log.length; i++) {
      const id = log[i]!.id;
      const first = ids.get(id);
      if (first === undefined) ids.set(id, i);
      else if (!duplicated.has(id)) duplicated.set(id, `event ${id} on server ${n} at ${show(log[first])} and again at ${show(log[i])}`);
    }
    return ids;
  });
  for (const text of duplicated.values()) report.anomaly('duplicate', () => text);

  finalLogs.forEach((log, n) => {
    const problem = malformation(log);
    if (problem !== undefined) {
      report.anomaly('divergentNodes', () => `server ${n}${n === 0 ? ' (reference)' : ''}: malformed log: ${problem}`);
      return;
    }
    if (n === 0) return;
    const length = Math.max(log.length, events.length);
    for (let i = 0; i < length; i++) {
      const a = events[i];
      const b = log[i];
      if (a && b && a.id === b.id && a.stream === b.stream && a.version === b.version && a.lsn === b.lsn) continue;
      report.anomaly('divergentNodes', () => `server ${n} differs from the reference at index ${i}: ${show(b)} instead of ${show(a)} (${log.length} vs ${events.length} events)`);
      return;
    }
  });

  const indexOf = nodes[0] ?? new Map<string, number>();
  const streams = new Map<string, number[]>();
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    if (indexOf.get(e.id) !== i) continue;
    let list = streams.get(e.stream);
    if (!list) streams.set(e.stream, (list = []));
    list.push(i);
  }

  return {
    events,
    indexOf,
    streams,
    nodes,
    firstAtLsn(lsn) {
      let lo = 0;
      let hi = events.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (events[mid]!.lsn < lsn) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    },
    at(stream, version) {
      const index = streams.get(stream)?.[version];
      const e = index === undefined ? undefined : events[index];
      return e && e.version === version ? e : undefined;
    },
  };
}
