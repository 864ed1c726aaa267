// The key layout sorts the way the store's range scans assume: LSNs and versions numerically,
// and each stream's index keys in a range no other stream's keys fall into.
import { describe, expect, it } from 'vitest';
import { indexKey, indexValue, lsnOfKey, metaKey, readIndexValue, recordKey, versionOfIndexKey } from '../src/keys.js';

const compare = (a: Uint8Array, b: Uint8Array): number => Buffer.compare(a, b);

describe('level store keys', () => {
  it('orders record keys by LSN, up to the largest safe integer', () => {
    const lsns = [0, 1, 2, 255, 256, 65_535, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 3, Number.MAX_SAFE_INTEGER];
    const keys = lsns.map(recordKey);
    expect(keys.slice().sort(compare).map(lsnOfKey)).toEqual(lsns);
  });

  it('orders a stream index key by version and keeps streams that share a prefix apart', () => {
    const versions = [0, 1, 300, 2 ** 33, Number.MAX_SAFE_INTEGER];
    for (const stream of ['order-1', 'order-10', 'ü']) {
      const keys = versions.map((v) => indexKey(stream, v));
      expect(keys.slice().sort(compare).map(versionOfIndexKey)).toEqual(versions);
    }
    // Every key of 'order-10' lies outside the range of 'order-1', in either direction.
    const low = indexKey('order-1', 0);
    const high = indexKey('order-1', Number.MAX_SAFE_INTEGER);
    for (const v of versions) {
      const other = indexKey('order-10', v);
      expect(compare(other, low) < 0 || compare(other, high) > 0).toBe(true);
    }
  });

  it('gives distinct names distinct keys, and refuses a name UTF-8 cannot hold', () => {
    const names = ['a', 'a\uFFFD', 'a\uFFFD\uFFFD', 'a\uD83D\uDE00', 'a\uD83D\uDE01', '\uFFFD'];
    expect(new Set(names.map((n) => Buffer.from(indexKey(n, 0)).toString('hex'))).size).toBe(names.length);
    expect(new Set(names.map((n) => Buffer.from(metaKey(n)).toString('hex'))).size).toBe(names.length);
    // UTF-8 would put U+FFFD for each lone surrogate, taking the key of another name.
    for (const name of ['a\uD800', 'a\uDC00', 'a\uDE00\uD83D']) {
      expect(() => indexKey(name, 0), JSON.stringify(name)).toThrow(TypeError);
      expect(() => metaKey(name), JSON.stringify(name)).toThrow(TypeError);
    }
  });

  it('round-trips an index value', () => {
    expect(readIndexValue(indexValue(2 ** 45 + 7, 4096))).toEqual({ lsn: 2 ** 45 + 7, eventCount: 4096 });
  });
});
