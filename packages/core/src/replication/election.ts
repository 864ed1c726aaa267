/**
 * The rules of an election, apart from the messages that carry it: who may be voted for, and
 * which of several candidates is best.
 */

/** A candidate as voters compare it. */
export interface Candidate {
  name: string;
  lastTerm: number;
  lastLsn: number;
  weight: number;
}

/** A log position, compared by term first, then LSN. */
export interface LogTip {
  lastTerm: number;
  lastLsn: number;
}

/** Negative when `a`'s log is behind `b`'s, zero when level, positive when ahead. */
export function compareLogs(a: LogTip, b: LogTip): number {
  return a.lastTerm !== b.lastTerm ? a.lastTerm - b.lastTerm : a.lastLsn - b.lastLsn;
}

/** Positive when `a` is the better candidate: the more up-to-date log, then the higher weight, then the lower name. */
export function compareCandidates(a: Candidate, b: Candidate): number {
  const logs = compareLogs(a, b);
  if (logs !== 0) return logs;
  if (a.weight !== b.weight) return a.weight - b.weight;
  return a.name < b.name ? 1 : a.name > b.name ? -1 : 0;
}

/**
 * The candidate a voting member gives its vote to: the best of those in the recorded in-sync set
 * and, when the voter is in that set itself (so its log holds every committed record), at least as
 * up to date as the voter. A voter outside the set compares no logs: what it holds beyond the
 * in-sync members is uncommitted. Undefined when there is none.
 */
export function chooseCandidate(candidates: Iterable<Candidate>, inSync: ReadonlySet<string>, own: LogTip | undefined): Candidate | undefined {
  let best: Candidate | undefined;
  for (const candidate of candidates) {
    if (!inSync.has(candidate.name) || (own && compareLogs(candidate, own) < 0)) continue;
    if (!best || compareCandidates(candidate, best) > 0) best = candidate;
  }
  return best;
}

/** Votes needed for a majority of `members` voting members. */
export function majority(members: number): number {
  return Math.floor(members / 2) + 1;
}

/** Slots terms are spread over under availability: one per possible member of a group. */
export const TERM_SLOTS = 64;

/** The lowest term above `term` that belongs to `slot` (terms `slot`, `slot + 64`, ...). */
export function nextOwnTerm(term: number, slot: number): number {
  const base = term + 1;
  return base + ((((slot - base) % TERM_SLOTS) + TERM_SLOTS) % TERM_SLOTS);
}
