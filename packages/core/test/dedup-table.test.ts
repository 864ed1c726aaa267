// The de-duplication table answers resends with original results and stays bounded; `sameWrites`
// tells a resend from another transaction under a taken (clientId, seq).
import { describe, expect, it } from 'vitest';
import { DedupTable } from '../src/commit/dedup-table.js';
import { sameWrites } from '../src/commit/transaction-rules.js';

const result = (lsn: number) => ({ lsn, streams: [{ stream: 's', firstVersion: lsn, eventCount: 1 }] });
const bytes = (...values: number[]) => new Uint8Array(values);

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

  it('expires what a jump of the seq leaves behind, and seqs remembered out of order once the window passes them', () => {
    const table = new DedupTable(4, 10);
    table.remember('a', 1, result(1));
    table.remember('a', 2, result(2));
    table.remember('a', 20, result(3));
    expect(table.lookup('a', 2)).toEqual({ kind: 'expired' });
    expect(table.lookup('a', 20).kind).toBe('committed');
    // Out of seq order (commit order is LSN order), inside the window.
    table.remember('a', 18, result(5));
    table.remember('a', 17, result(6));
    table.remember('a', 30, result(7));
    for (const seq of [17, 18, 20]) expect(table.lookup('a', seq)).toEqual({ kind: 'expired' });
    expect(table.lookup('a', 30).kind).toBe('committed');
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

  it('keeps the order of use when one client commits many in a row', () => {
    const table = new DedupTable(4, 2);
    table.remember('a', 1, result(1));
    table.remember('b', 1, result(2));
    table.remember('b', 2, result(3));
    table.remember('a', 2, result(4));
    table.remember('a', 3, result(5));
    table.remember('c', 1, result(6));
    expect(table.lookup('b', 2).kind).toBe('unknown');
    expect(table.lookup('a', 3).kind).toBe('committed');
    table.remember('c', 2, result(7));
    table.remember('d', 1, result(8));
    expect(table.lookup('a', 3).kind).toBe('unknown');
    expect(table.lookup('c', 2).kind).toBe('committed');
  });
});

describe('sameWrites', () => {
  const written = [
    { stream: 'orders', firstVersion: 0, eventCount: 1, events: bytes(1, 2) },
    { stream: 'payments', firstVersion: 4, eventCount: 1, events: bytes(3) },
  ];
  const append = (stream: string, events?: Uint8Array) => ({ stream, expectedVersion: 'any' as const, ...(events ? { events } : {}) });

  it('holds for the same streams and event bytes in order, whatever the checks and expected versions', () => {
    expect(sameWrites([append('orders', bytes(1, 2)), append('payments', bytes(3))], [1, 1], written)).toBe(true);
    expect(sameWrites([append('audit'), append('orders', bytes(1, 2)), { ...append('payments', bytes(3)), expectedVersion: 3 }], [0, 1, 1], written)).toBe(true);
  });

  it('fails on another stream, other bytes, another order, a missing or an extra write', () => {
    expect(sameWrites([append('orders', bytes(1, 2)), append('payment', bytes(3))], [1, 1], written)).toBe(false);
    expect(sameWrites([append('orders', bytes(1, 2)), append('payments', bytes(4))], [1, 1], written)).toBe(false);
    expect(sameWrites([append('orders', bytes(1, 2)), append('payments', bytes(3, 0))], [1, 1], written)).toBe(false);
    expect(sameWrites([append('payments', bytes(3)), append('orders', bytes(1, 2))], [1, 1], written)).toBe(false);
    expect(sameWrites([append('orders', bytes(1, 2))], [1], written)).toBe(false);
    expect(sameWrites([append('orders', bytes(1, 2)), append('payments', bytes(3)), append('x', bytes(5))], [1, 1, 1], written)).toBe(false);
  });
});
