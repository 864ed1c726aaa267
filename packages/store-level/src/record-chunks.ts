/**
 * Records stored a chunk at a time: a group commit's records, cut into runs of at most one
 * LevelDB block, each run one value. Every value in a batch costs LevelDB a memtable insert, log
 * framing and compaction work, so one value per record cost more than the record; and a run no
 * larger than a block costs a read of one record nothing, as LevelDB reads the whole block anyway.
 *
 * A chunk's value: `u32 count`, `u32 byteLength` per record, then the records' bytes as they are.
 */
import type { EncodedRecord, StoredRecord } from '@kiln/core';

/** LevelDB's block size (its default, which the store keeps): the most bytes a chunk of several records holds. */
export const CHUNK_BYTES_MAX = 4096;

/** Cuts records into consecutive chunks of at most {@link CHUNK_BYTES_MAX}; a larger record is a chunk alone. */
export function chunksOf<R extends Pick<EncodedRecord, 'bytes'>>(records: readonly R[]): R[][] {
  const chunks: R[][] = [];
  let chunk: R[] = [];
  let bytes = 0;
  for (const record of records) {
    const size = 4 + record.bytes.length;
    if (chunk.length > 0 && 4 + bytes + size > CHUNK_BYTES_MAX) {
      chunks.push(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(record);
    bytes += size;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

/** One chunk's value, the records' bytes copied in unchanged. */
export function encodeChunk(records: ReadonlyArray<Pick<EncodedRecord, 'bytes'>>): Uint8Array {
  let size = 4 + 4 * records.length;
  for (const record of records) size += record.bytes.length;
  const value = new Uint8Array(size);
  const view = new DataView(value.buffer);
  view.setUint32(0, records.length);
  let at = 4 + 4 * records.length;
  for (let i = 0; i < records.length; i++) {
    const bytes = records[i]!.bytes;
    view.setUint32(4 + 4 * i, bytes.length);
    value.set(bytes, at);
    at += bytes.length;
  }
  return value;
}

/**
 * The records of the chunk whose first record is at `firstLsn`, each a view into `value`. A
 * length that runs past the value's end yields the bytes there are: the checked layer's CRC
 * check then names the record corrupt.
 */
export function decodeChunk(firstLsn: number, value: Uint8Array): StoredRecord[] {
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  const count = view.getUint32(0);
  const records: StoredRecord[] = [];
  let at = 4 + 4 * count;
  for (let i = 0; i < count && 8 + 4 * i <= value.length && at <= value.length; i++) {
    const length = view.getUint32(4 + 4 * i);
    records.push({ lsn: firstLsn + i, bytes: value.subarray(at, at + length) });
    at += length;
  }
  return records;
}
