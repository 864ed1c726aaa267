/**
 * The memory store: the log's bytes packed into large chunks, the stream index as one flat
 * array of numbers per stream. Nothing survives the process, so `persistent` is false.
 *
 * It holds every record for the life of the process, so what it keeps per record is what the
 * collector traces and copies on every young-generation collection: no object per record, no
 * buffer per record, only numbers in arrays and bytes in chunks.
 */
import type { EncodedRecord, IndexReadOptions, LogReadOptions, Store, StoredRecord, StreamIndexEntry } from '@kiln/core';

/** Options of {@link memoryStore}. None yet; the type leaves room to grow. */
export type MemoryStoreOptions = Record<string, never>;

/** Bytes of one chunk of record bytes; a larger record gets a chunk of its own size. */
const CHUNK_BYTES = 1024 * 1024;

/** Numbers per record in `places` (chunk, offset, length) and per index entry (lsn, firstVersion, eventCount). */
const PLACE = 3;
const ENTRY = 3;

/**
 * A `Store` held in memory. Appends and reads take effect synchronously; the promises only
 * keep the Store contract's shape. Use it through {@link memoryStore}.
 */
export class MemoryStore implements Store {
  readonly persistent = false;
  /** LSN of the first record; set by the first append into an empty log. */
  private firstLsn = 1;
  private recordCount = 0;
  private readonly chunks: Uint8Array[] = [];
  /** Bytes used of the last chunk. */
  private chunkUsed = CHUNK_BYTES;
  /** Per record from `firstLsn` on: chunk index, offset and length of its bytes. */
  private places: number[] = [];
  /** Per stream, its entries sorted by `firstVersion` (which, in a valid log, is also LSN order), {@link ENTRY} numbers each. */
  private readonly streams = new Map<string, number[]>();
  private readonly meta = new Map<string, Uint8Array>();

  constructor(_options: MemoryStoreOptions = {}) {}

  async open(): Promise<void> {}

  async close(): Promise<void> {}

  async append(records: readonly EncodedRecord[]): Promise<void> {
    if (this.recordCount === 0 && records[0]) this.firstLsn = records[0].lsn;
    for (const record of records) {
      this.keepBytes(record.bytes);
      this.recordCount++;
      for (const entry of record.streams) {
        let entries = this.streams.get(entry.stream);
        if (!entries) this.streams.set(entry.stream, (entries = []));
        const at = firstAbove(entries, entry.firstVersion);
        if (at === entries.length / ENTRY) entries.push(record.lsn, entry.firstVersion, entry.eventCount);
        else entries.splice(at * ENTRY, 0, record.lsn, entry.firstVersion, entry.eventCount);
      }
    }
  }

  async read(fromLsn: number, options: LogReadOptions): Promise<StoredRecord[]> {
    const out: StoredRecord[] = [];
    const step = options.direction === 'forward' ? 1 : -1;
    const lastLsn = this.firstLsn + this.recordCount - 1;
    let lsn = step > 0 ? Math.max(fromLsn, this.firstLsn) : Math.min(fromLsn, lastLsn);
    let bytes = 0;
    while (lsn >= this.firstLsn && lsn <= lastLsn && out.length < options.maxCount && bytes < options.maxBytes) {
      const record = this.bytesOf(lsn - this.firstLsn);
      out.push({ lsn, bytes: record });
      bytes += record.length;
      lsn += step;
    }
    return out;
  }

  async readStreamIndex(stream: string, fromVersion: number, options: IndexReadOptions): Promise<StreamIndexEntry[]> {
    const entries = this.streams.get(stream);
    if (!entries) return [];
    // `firstAbove` finds the first entry starting after fromVersion; the one before it is the
    // greatest starting at or before it.
    const above = firstAbove(entries, fromVersion);
    const out: StreamIndexEntry[] = [];
    if (options.direction === 'backward') {
      const end = Math.max(-1, above - 1 - options.maxCount);
      for (let i = above - 1; i > end; i--) out.push(entryAt(entries, i));
      return out;
    }
    const previous = above - 1;
    const start = previous >= 0 && entries[previous * ENTRY + 1]! + entries[previous * ENTRY + 2]! - 1 >= fromVersion ? previous : above;
    const end = Math.min(entries.length / ENTRY, start + options.maxCount);
    for (let i = start; i < end; i++) out.push(entryAt(entries, i));
    return out;
  }

  async truncateAfter(afterLsn: number): Promise<void> {
    const keep = Math.max(0, Math.min(this.recordCount, afterLsn - this.firstLsn + 1));
    if (keep === this.recordCount) return;
    this.recordCount = keep;
    this.places.length = keep * PLACE;
    // Bytes of the records dropped may still be in a reader's hands: later records go to a new chunk.
    this.chunkUsed = CHUNK_BYTES;
    // Entries are in LSN order, so each stream loses a tail. Truncation is rare (a mirror that
    // diverged): a walk over the streams costs less than remembering every record's streams.
    for (const [stream, entries] of this.streams) {
      let length = entries.length;
      while (length > 0 && entries[length - ENTRY]! > afterLsn) length -= ENTRY;
      if (length === 0) this.streams.delete(stream);
      else entries.length = length;
    }
  }

  async getMeta(key: string): Promise<Uint8Array | undefined> {
    return this.meta.get(key)?.slice();
  }

  async putMeta(key: string, value: Uint8Array): Promise<void> {
    this.meta.set(key, value.slice());
  }

  /** Copies a record's bytes into the chunks (the caller's buffer is not kept: a view of it would pin a buffer per record). */
  private keepBytes(bytes: Uint8Array): void {
    const length = bytes.length;
    if (length > CHUNK_BYTES - this.chunkUsed) {
      this.chunks.push(new Uint8Array(Math.max(CHUNK_BYTES, length)));
      this.chunkUsed = 0;
    }
    const chunk = this.chunks.length - 1;
    this.chunks[chunk]!.set(bytes, this.chunkUsed);
    this.places.push(chunk, this.chunkUsed, length);
    this.chunkUsed += length;
  }

  /** The bytes of the record at `index` from `firstLsn`, as a view of its chunk. */
  private bytesOf(index: number): Uint8Array {
    const at = index * PLACE;
    const offset = this.places[at + 1]!;
    return this.chunks[this.places[at]!]!.subarray(offset, offset + this.places[at + 2]!);
  }
}

const entryAt = (entries: readonly number[], i: number): StreamIndexEntry => ({ lsn: entries[i * ENTRY]!, firstVersion: entries[i * ENTRY + 1]!, eventCount: entries[i * ENTRY + 2]! });

/** Index of the first entry whose `firstVersion` is greater than `version` (binary search). */
function firstAbove(entries: readonly number[], version: number): number {
  let low = 0;
  let high = entries.length / ENTRY;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (entries[mid * ENTRY + 1]! <= version) low = mid + 1;
    else high = mid;
  }
  return low;
}
