// OldestKeys: a Map's oldest keys, one at a time, through one live iterator: in insertion order,
// a key set again counted as new, keys deleted by others skipped, and the map emptied and filled
// again. And no `map.keys()` per call, which walked every slot deleted since the last rehash.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { OldestKeys } from '../src/oldest-keys.js';

describe('OldestKeys', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('deletes the oldest key first, counting a key set again as new and skipping keys deleted by others', () => {
    const map = new Map<string, number>([['a', 1], ['b', 2], ['c', 3], ['d', 4]]);
    const oldest = new OldestKeys(map);
    expect(oldest.deleteOldest()).toBe('a');
    map.delete('b');
    map.set('b', 2); // used again: the newest now
    map.delete('c'); // forgotten by its owner
    expect(oldest.deleteOldest()).toBe('d');
    expect(oldest.deleteOldest()).toBe('b');
    expect(map.size).toBe(0);
    expect(oldest.deleteOldest()).toBeUndefined();
    map.set('e', 5);
    expect(oldest.deleteOldest(), 'after the map was empty').toBe('e');
  });

  it('starts again at the first key after clear() and reset()', () => {
    const map = new Map<number, null>(Array.from({ length: 10 }, (_, i) => [i, null]));
    const oldest = new OldestKeys(map);
    expect(oldest.deleteOldest()).toBe(0);
    map.clear();
    oldest.reset();
    map.set(100, null);
    map.set(101, null);
    expect(oldest.deleteOldest()).toBe(100);
  });

  it('asks the map for no new iterator while it has keys: a full table that churns costs the same per call', () => {
    const map = new Map<number, null>();
    const oldest = new OldestKeys(map);
    const keys = vi.spyOn(Map.prototype, 'keys');
    for (let i = 0; i < 50_000; i++) {
      map.set(i, null);
      if (map.size > 1_000) expect(oldest.deleteOldest()).toBe(i - 1_000);
    }
    expect(keys).not.toHaveBeenCalled();
  });
});
