// A group commit's records are cut into chunks of at most one LevelDB block (a larger record
// alone), in order, and a chunk gives back each record's bytes unchanged.
import { describe, expect, it } from 'vitest';
import { CHUNK_BYTES_MAX, chunksOf, decodeChunk, encodeChunk } from '../src/record-chunks.js';

const recordOf = (size: number, fill: number) => ({ bytes: new Uint8Array(size).fill(fill) });

describe('record chunks', () => {
  it('cuts records into chunks no larger than a block, in order, a larger record alone', () => {
    const sizes = [100, 3000, 900, 95, 5000, 10, 4000, 1, 4091];
    const records = sizes.map((size, i) => recordOf(size, i));
    const chunks = chunksOf(records);
    expect(chunks.flat()).toEqual(records);
    for (const chunk of chunks) {
      const value = encodeChunk(chunk);
      if (chunk.length > 1) expect(value.length).toBeLessThanOrEqual(CHUNK_BYTES_MAX);
      else expect(value.length).toBe(8 + chunk[0]!.bytes.length);
    }
    expect(chunks.map((c) => c.map((r) => r.bytes.length))).toEqual([[100, 3000, 900], [95], [5000], [10, 4000, 1], [4091]]);
  });

  it('gives back each record at its LSN, bytes unchanged', () => {
    const records = [recordOf(0, 0), recordOf(7, 1), recordOf(300, 2)];
    const decoded = decodeChunk(41, encodeChunk(records));
    expect(decoded.map((r) => r.lsn)).toEqual([41, 42, 43]);
    expect(decoded.map((r) => Array.from(r.bytes))).toEqual(records.map((r) => Array.from(r.bytes)));
  });
});
