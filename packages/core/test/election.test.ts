// The voting rule: only in-sync candidates, the most up-to-date log first, then weight, then name.
import { describe, expect, it } from 'vitest';
import { chooseCandidate, compareCandidates, forgetfulMayTakeOffice, lacksCommitted, majority } from '../src/replication/election.js';

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

  it('passes over a candidate whose log lacks the commit point the member heard, in the set or not (seed 4291979044)', () => {
    // A server restarted empty without a disk stays in the recorded in-sync set; a voter that
    // followed the active through LSN 23 of term 1 must not elect it over the mirror holding them.
    const all = new Set(['s1', 's2']);
    const committed = { term: 1, lsn: 23 };
    expect(chooseCandidate([candidate('s1', 0, 0)], all, undefined, committed)).toBeUndefined();
    expect(chooseCandidate([candidate('s1', 0, 0, 5), candidate('s2', 1, 23)], all, undefined, committed)?.name).toBe('s2');
    // A longer log of an earlier term does not hold a record of term 1 either.
    expect(chooseCandidate([candidate('s1', 0, 40)], all, undefined, committed)).toBeUndefined();
    // Holding the point is enough, whatever came after it.
    expect(chooseCandidate([candidate('s1', 2, 24)], all, undefined, committed)?.name).toBe('s1');
  });

  it('never judges a log that holds the commit point as lacking it, whatever is known of its term', () => {
    for (const tip of [{ lastTerm: 1, lastLsn: 23 }, { lastTerm: 3, lastLsn: 23 }, { lastTerm: 1, lastLsn: 30 }]) {
      expect(lacksCommitted(tip, { term: 1, lsn: 23 })).toBe(false);
      // An older point is known by its LSN alone (term 0): a lower bound that never blocks its holder.
      expect(lacksCommitted(tip, { term: 0, lsn: 23 })).toBe(false);
    }
    expect(lacksCommitted({ lastTerm: 1, lastLsn: 22 }, { term: 0, lsn: 23 })).toBe(true);
    expect(lacksCommitted({ lastTerm: 0, lastLsn: 0 }, { term: 0, lsn: 0 })).toBe(false);
  });

  it('lets a server restarted without a disk take office only once it heard every in-sync server, none ahead (seed 4291980459)', () => {
    const empty = { lastTerm: 0, lastLsn: 0 };
    const inSync = ['s1', 's3'];
    // s1, holding LSN 1-10 of term 1, was not heard: s2's vote and its own do not make s3 safe.
    expect(forgetfulMayTakeOffice(empty, 's3', inSync, new Map([['s2', empty]]))).toBe(false);
    // Heard and ahead: s3 stands down, so that s1 can win.
    expect(forgetfulMayTakeOffice(empty, 's3', inSync, new Map([['s1', { lastTerm: 1, lastLsn: 10 }]]))).toBe(false);
    // Heard, and no further than s3: nothing committed is passed over (every server forgot).
    expect(forgetfulMayTakeOffice(empty, 's3', inSync, new Map([['s1', empty]]))).toBe(true);
    expect(forgetfulMayTakeOffice({ lastTerm: 1, lastLsn: 10 }, 's3', inSync, new Map([['s1', { lastTerm: 1, lastLsn: 10 }]]))).toBe(true);
  });

  it('counts a majority of voting members', () => {
    expect([1, 2, 3, 4, 5].map(majority)).toEqual([1, 2, 2, 3, 3]);
  });
});
