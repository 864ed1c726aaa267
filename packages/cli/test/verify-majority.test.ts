// kiln verify's majority: a copy is right only when more than half of all the stripe's servers
// hold it, since a server down, damaged or behind may hold the other copy.
import { describe, expect, it } from 'vitest';
import { majorityOf } from '../src/verify-majority.js';

describe('majorityOf', () => {
  it('takes the copy more than half of the stripe holds', () => {
    expect(majorityOf([['a'], ['b', 'c']], 3)).toEqual(['b', 'c']);
    expect(majorityOf([['a', 'b', 'c'], ['d']], 4)).toEqual(['a', 'b', 'c']);
  });

  it('finds none in a split, even where a server that could not be judged hides it', () => {
    expect(majorityOf([['a', 'b'], ['c', 'd']], 4)).toBeUndefined();
    expect(majorityOf([['a'], ['b']], 2)).toBeUndefined();
    // Of four, the fourth down or behind: two against one is no majority, the fourth may side with the one.
    expect(majorityOf([['a', 'b'], ['c']], 4)).toBeUndefined();
    // Of five, two down: two against one, where the two may make it three against two the other way.
    expect(majorityOf([['a', 'b'], ['c']], 5)).toBeUndefined();
  });
});
