// The de-duplication table answers resends with original results, refuses a different transaction
// under a taken (clientId, seq), and stays bounded.
import { describe, expect, it } from 'vitest';
import { DedupTable, writeDigest } from '../src/commit/dedup-table.js';

const result = (lsn: number) => ({ lsn, streams: [{ stream: 's', firstVersion: lsn, eventCount: 1 }] });
const bytes = (...values: number[]) => new Uint8Array(values);
const digest = writeDigest([{ stream: 's', events: bytes(1, 2, 3) }]);

describe('DedupTable', () => {
  it('returns the original result of a committed seq', () => {
    const table = new DedupTable(4, 10);
    table.remember('a', 1, result(10), digest);
    expect(table.lookup('a', 1, digest)).toEqual({ kind: 'committed', result: result(10) });
    expect(table.lookup('a', 2, digest)).toEqual({ kind: 'unknown' });
    expect(table.lookup('b', 1, digest)).toEqual({ kind: 'unknown' });
  });

  it('refuses a resend whose writes differ from the committed one', () => {
    const table = new DedupTable(4, 10);
    table.remember('a', 1, result(10), digest);
    const other = writeDigest([{ stream: 'payments', events: bytes(1, 2, 3) }]);
    expect(table.lookup('a', 1, other)).toEqual({ kind: 'reused' });
    expect(table.lookup('a', 1, digest)).toEqual({ kind: 'committed', result: result(10) });
  });

  it('keeps only the window per client and says when a seq has expired', () => {
    const table = new DedupTable(4, 10);
    for (let seq = 1; seq <= 10; seq++) table.remember('a', seq, result(seq), digest);
    expect(table.lookup('a', 10, digest).kind).toBe('committed');
    expect(table.lookup('a', 7, digest).kind).toBe('committed');
    expect(table.lookup('a', 6, digest)).toEqual({ kind: 'expired' });
  });

  it('forgets the least recently seen client first', () => {
    const table = new DedupTable(4, 2);
    table.remember('a', 1, result(1), digest);
    table.remember('b', 1, result(2), digest);
    table.remember('a', 2, result(3), digest);
    table.remember('c', 1, result(4), digest);
    expect(table.clientCount).toBe(2);
    expect(table.lookup('b', 1, digest).kind).toBe('unknown');
    expect(table.lookup('a', 2, digest).kind).toBe('committed');
  });
});

describe('writeDigest', () => {
  it('covers stream names, event bytes and their order, not check-only streams', () => {
    const write = [{ stream: 'orders', events: bytes(1, 2) }, { stream: 'payments', events: bytes(3) }];
    const base = writeDigest(write);
    expect(writeDigest([{ stream: 'audit' }, ...write])).toBe(base);
    expect(writeDigest([write[1]!, write[0]!])).not.toBe(base);
    expect(writeDigest([{ stream: 'orders', events: bytes(1, 2) }, { stream: 'payment', events: bytes(3) }])).not.toBe(base);
    expect(writeDigest([{ stream: 'orders', events: bytes(1, 2) }, { stream: 'payments', events: bytes(4) }])).not.toBe(base);
    // Lengths are part of it: moving a byte between a name and its events changes the digest.
    expect(writeDigest([{ stream: 'ab', events: bytes(0x63) }])).not.toBe(writeDigest([{ stream: 'a', events: bytes(0x62, 0x63) }]));
  });
});
