/**
 * The check of reads served on leases, the safety property the lease check stands guard for: no
 * active serves a read at a commit index that a later term of its stripe had already passed (so
 * could have acknowledged) at an earlier instant. Leases that overlap in true time (see
 * `overlappingLeases`) only make such a read possible; beyond the drift leases are timed for they
 * may touch, and this check says whether a read went stale on them. It is stricter than the history
 * checker's `staleReads`, which needs a client to see the acknowledgement before it asks.
 */

/** A read an active served on its lease, or a rise of its commit index (what it then acknowledged). */
export interface ServedOnLease {
  /** The active. */
  name: string;
  /** Its term. */
  term: number;
  /** A read served at `commitIndex`, or the commit index risen to it. */
  kind: 'read' | 'commit';
  /** The commit index. */
  commitIndex: number;
  /** True (simulated) time, ms. */
  atMs: number;
}

/**
 * The reads that miss what a later term had committed before them, described; empty when none do.
 *
 * @param served one stripe's reads and commits, in the order they happened
 */
export function staleLeaseReads(served: readonly ServedOnLease[]): string[] {
  // Per term, the furthest commit so far and who reached it.
  const furthest = new Map<number, ServedOnLease>();
  const found: string[] = [];
  for (const event of served) {
    if (event.kind === 'commit') {
      const known = furthest.get(event.term);
      if (!known || event.commitIndex > known.commitIndex) furthest.set(event.term, event);
      continue;
    }
    for (const [term, commit] of furthest) {
      if (term > event.term && commit.commitIndex > event.commitIndex) {
        found.push(
          `${event.name} (term ${event.term}) served a read at commit index ${event.commitIndex} at ${event.atMs.toFixed(1)} ms, ` +
            `after ${commit.name} (term ${term}) committed through ${commit.commitIndex} at ${commit.atMs.toFixed(1)} ms`,
        );
      }
    }
  }
  return found;
}
