// Bytes carved from shared slabs: each take is the caller's own, and a large one gets a buffer of its own.
import { describe, expect, it } from 'vitest';
import { ByteSlab } from '../src/log/byte-slab.js';

describe('ByteSlab', () => {
  it('hands out zeroed runs of bytes that never overlap, several from one buffer', () => {
    const slab = new ByteSlab();
    const taken = Array.from({ length: 1000 }, (_, i) => slab.take(100 + (i % 7)));
    for (const [i, bytes] of taken.entries()) {
      expect(bytes.every((b) => b === 0)).toBe(true);
      bytes.fill(i % 251);
    }
    // Filled after all were taken: any overlap would show as a neighbour's value.
    for (const [i, bytes] of taken.entries()) expect(bytes.every((b) => b === i % 251)).toBe(true);
    expect(new Set(taken.map((b) => b.buffer)).size).toBeLessThan(taken.length / 100);
  });

  it('gives a run of more than a quarter of a slab a buffer of its own', () => {
    const slab = new ByteSlab();
    const small = slab.take(10);
    const large = slab.take(16 * 1024 + 1);
    expect(large.byteOffset).toBe(0);
    expect(large.buffer.byteLength).toBe(16 * 1024 + 1);
    expect(large.buffer).not.toBe(small.buffer);
  });

  it('keeps of a reserved room only what was written, and hands the rest out again', () => {
    const slab = new ByteSlab();
    const room = slab.reserve(100);
    const at = slab.reservedAt;
    room.set([1, 2, 3], at);
    const kept = slab.keep(room, at + 3);
    expect([...kept]).toEqual([1, 2, 3]);
    const next = slab.take(4);
    expect(next.buffer).toBe(kept.buffer);
    expect(next.byteOffset).toBe(kept.byteOffset + 3);
    next.fill(9);
    expect([...kept]).toEqual([1, 2, 3]);
  });

  it('reserves a room of more than a quarter of a slab in a buffer of its own, from offset 0', () => {
    const slab = new ByteSlab();
    slab.take(10);
    const room = slab.reserve(20 * 1024);
    expect(slab.reservedAt).toBe(0);
    expect(room.byteLength).toBe(20 * 1024);
    const kept = slab.keep(room, 5);
    expect(kept.byteLength).toBe(5);
    expect(slab.take(1).buffer).not.toBe(room.buffer);
  });
});
