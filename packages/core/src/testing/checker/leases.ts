/**
 * The lease check: no two actives of one stripe may believe they hold a valid lease at the same
 * true time. An active serves reads on its lease without asking anyone; were a successor's lease
 * to start before its predecessor's ran out, a read on the old one could miss what the new one
 * acknowledged. Intervals are in true (simulated) time, from when an active found its lease held
 * (taking office, at a tick, or serving a read) to when that lease runs out, cut short where the
 * active stepped down or crashed. Beyond the drift leases are timed for they may touch: what
 * matters then is whether a read on the old one went stale (see `staleLeaseReads`).
 */

/** An interval in which one active believed it held its lease. */
export interface LeaseInterval {
  /** The active. */
  name: string;
  /** Its term. */
  term: number;
  /** True time it found the lease held, ms. */
  fromMs: number;
  /** True time the lease ran out, or the active stepped down or crashed, ms. */
  untilMs: number;
}

/** The pairs of intervals of different terms that overlap, described; empty when none do. */
export function overlappingLeases(leases: readonly LeaseInterval[]): string[] {
  // An interval that ends as it starts (a lease found just as it ran out) holds no instant.
  const sorted = leases.filter((l) => l.untilMs > l.fromMs).sort((a, b) => a.fromMs - b.fromMs);
  const found: string[] = [];
  const describe = (l: LeaseInterval): string => `${l.name} (term ${l.term}) ${l.fromMs.toFixed(1)}..${l.untilMs.toFixed(1)} ms`;
  for (const [i, later] of sorted.entries()) {
    for (const earlier of sorted.slice(0, i)) {
      // Open intervals: one that ends at the instant the other starts does not overlap it.
      if (earlier.term !== later.term && later.fromMs < earlier.untilMs && earlier.fromMs < later.untilMs) found.push(`${describe(earlier)} overlaps ${describe(later)}`);
    }
  }
  return found;
}
