// The voting rule: only in-sync candidates, the most up-to-date log first, then weight, then name.
import { describe, expect, it } from 'vitest';
import { chooseCandidate, compareCandidates, majority } from '../src/replication/election.js';

const candidate = (name: string, lastTerm: number, lastLsn: number, weight = 1) => ({ name, lastTerm, lastLsn, weight });

describe('chooseCandidate', () => {
  it('never picks a candidate outside the in-sync set, however up to date or heavy', () => {
    const behind = candidate('b', 3, 900, 10);
    const inSync = candidate('c', 3, 800);
    expect(chooseCandidate([behind, inSync], new Set(['a', 'c']), undefined)?.name).toBe('c');
    expect(chooseCandidate([behind], new Set(['a', 'c']), undefined)).toBeUndefined();
  });

  it('prefers the newer term, then the longer log, then the weight, then the lower name', () => {
    const all = new Set(['a', 'b', 'c']);
    expect(chooseCandidate([candidate('a', 2, 100), candidate('b', 3, 10)], all, undefined)?.name).toBe('b');
    expect(chooseCandidate([candidate('a', 3, 100), candidate('b', 3, 10)], all, undefined)?.name).toBe('a');
    expect(chooseCandidate([candidate('a', 3, 10), candidate('b', 3, 10, 5)], all, undefined)?.name).toBe('b');
    expect(chooseCandidate([candidate('b', 3, 10), candidate('a', 3, 10)], all, undefined)?.name).toBe('a');
    expect(compareCandidates(candidate('a', 1, 1), candidate('a', 1, 1))).toBe(0);
  });

  it('an in-sync voter votes for no one less up to date than itself', () => {
    const all = new Set(['a', 'b']);
    expect(chooseCandidate([candidate('a', 3, 10)], all, { lastTerm: 3, lastLsn: 11 })).toBeUndefined();
    expect(chooseCandidate([candidate('a', 3, 11)], all, { lastTerm: 3, lastLsn: 11 })?.name).toBe('a');
  });

  it('counts a majority of voting members', () => {
    expect([1, 2, 3, 4, 5].map(majority)).toEqual([1, 2, 2, 3, 3]);
  });
});
