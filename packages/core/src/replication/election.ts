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
 * A commit point an active told a member: the record at `lsn` is committed, and its term is at
 * least `term` (an active knows the term exactly only for records of its own term; 0 when unknown).
 */
export interface CommitPoint {
  term: number;
  lsn: number;
}

/**
 * The commit point an active of `term` tells at `commitIndex`: the records past `termStartLsn`, its
 * last LSN when it took office, are of its own term; of an older point only the LSN is known.
 */
export function commitPointOf(commitIndex: number, term: number, termStartLsn: number): CommitPoint {
  return { term: commitIndex > termStartLsn ? term : 0, lsn: commitIndex };
}

/**
 * True when a log ending at `tip` cannot hold the committed record at `point`: it ends before it,
 * or in an earlier term than that record's (terms only grow along a log). Never true of a log that
 * holds it, so a member that remembers a commit point never blocks the member holding that log.
 */
export function lacksCommitted(tip: LogTip, point: CommitPoint): boolean {
  return tip.lastLsn < point.lsn || tip.lastTerm < point.term;
}

/**
 * The candidate a voting member gives its vote to: the best of those in the recorded in-sync set
 * and, when the voter is in that set itself (so its log holds every committed record), at least as
 * up to date as the voter. A voter outside the set compares no logs: what it holds beyond the
 * in-sync members is uncommitted. Whatever its place, it passes over a candidate whose log lacks
 * the commit point `committed` it heard from an active: without disks, the in-sync set may name a
 * member restarted empty. Undefined when there is none.
 */
export function chooseCandidate(candidates: Iterable<Candidate>, inSync: ReadonlySet<string>, own: LogTip | undefined, committed?: CommitPoint): Candidate | undefined {
  let best: Candidate | undefined;
  for (const candidate of candidates) {
    if (!inSync.has(candidate.name) || (own && compareLogs(candidate, own) < 0) || (committed && lacksCommitted(candidate, committed))) continue;
    if (!best || compareCandidates(candidate, best) > 0) best = candidate;
  }
  return best;
}

/**
 * Whether a candidate that restarted without a disk, and has not caught up with an active since,
 * may take office with the votes it won. The recorded in-sync set still names it, but its log may
 * lack records the group committed, and an amnesiac majority cannot tell: only once it heard, in
 * the round, every other in-sync server, none with a newer log, does it know no copy is passed
 * over. Otherwise it stands down, and the member whose log is ahead can win.
 */
export function forgetfulMayTakeOffice(own: LogTip, self: string, inSync: readonly string[], heard: ReadonlyMap<string, LogTip>): boolean {
  return inSync.every((name) => {
    if (name === self) return true;
    const tip = heard.get(name);
    return tip !== undefined && compareLogs(tip, own) <= 0;
  });
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

/**
 * How long a peer may stay silent before it is taken for gone: all of `mirrorTimeoutMs`, or a
 * quarter of it once its address refuses a redial, a strong sign its process is gone.
 */
export function silenceAllowedMs(mirrorTimeoutMs: number, refused: boolean): number {
  return refused ? mirrorTimeoutMs / 4 : mirrorTimeoutMs;
}
