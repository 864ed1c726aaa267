// The de-duplication table answers resends with original results, and stays bounded.
import { describe, expect, it } from 'vitest';
import { DedupTable } from '../src/commit/dedup-table.js';

const result = (lsn: number) => ({ lsn, streams: [{ stream: 's', firstVersion: lsn, eventCount: 1 }] });

describe('DedupTable', () => {
  it('returns the original result of a committed seq', () => {
    const table = new DedupTable(4, 10);
    table.remember('a', 1, result(10));
    expect(table.lookup('a', 1)).toEqual({ kind: 'committed', result: result(10) });
    expect(table.lookup('a', 2)).toEqual({ kind: 'unknown' });
    expect(table.lookup('b', 1)).toEqual({ kind: 'unknown' });
  });

  it('keeps only the window per client and says when a seq has expired', () => {
    const table = new DedupTable(4, 10);
    for (let seq = 1; seq <= 10; seq++) table.remember('a', seq, result(seq));
    expect(table.lookup('a', 10).kind).toBe('committed');
    expect(table.lookup('a', 7).kind).toBe('committed');
    expect(table.lookup('a', 6)).toEqual({ kind: 'expired' });
  });

  it('forgets the least recently seen client first', () => {
    const table = new DedupTable(4, 2);
    table.remember('a', 1, result(1));
    table.remember('b', 1, result(2));
    table.remember('a', 2, result(3));
    table.remember('c', 1, result(4));
    expect(table.clientCount).toBe(2);
    expect(table.lookup('b', 1).kind).toBe('unknown');
    expect(table.lookup('a', 2).kind).toBe('committed');
  });
});
