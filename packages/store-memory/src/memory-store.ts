/**
 * The memory store: the log as an array indexed by LSN, the stream index as one sorted array of
 * entries per stream. Nothing survives the process, so `persistent` is false.
 */
import type { EncodedRecord, IndexReadOptions, LogReadOptions, Store, StoredRecord, StreamIndexEntry } from '@kiln/core';

/** Options of {@link memoryStore}. None yet; the type leaves room to grow. */
export type MemoryStoreOptions = Record<string, never>;

interface Slot {
  bytes: Uint8Array;
  /** The index entries this record added, so truncation can take them out again. */
  streams: EncodedRecord['streams'];
}

/**
 * A `Store` held in memory. Appends and reads take effect synchronously; the promises only
 * keep the Store contract's shape. Use it through {@link memoryStore}.
 */
export class MemoryStore implements Store {
  readonly persistent = false;
  /** LSN of `slots[0]`; set by the first append into an empty log. */
  private firstLsn = 1;
  private slots: Slot[] = [];
  /** Per stream, its entries sorted by `firstVersion` (which, in a valid log, is also LSN order). */
  private readonly streams = new Map<string, StreamIndexEntry[]>();
  private readonly meta = new Map<string, Uint8Array>();

  constructor(_options: MemoryStoreOptions = {}) {}

  async open(): Promise<void> {}

  async close(): Promise<void> {}

  async append(records: readonly EncodedRecord[]): Promise<void> {
    if (this.slots.length === 0 && records[0]) this.firstLsn = records[0].lsn;
    for (const record of records) {
      // No copy: the Store contract says the caller never changes appended records.
      this.slots.push({ bytes: record.bytes, streams: record.streams });
      for (const entry of record.streams) {
        let entries = this.streams.get(entry.stream);
        if (!entries) this.streams.set(entry.stream, (entries = []));
        const item = { lsn: record.lsn, firstVersion: entry.firstVersion, eventCount: entry.eventCount };
        const at = firstAbove(entries, entry.firstVersion);
        if (at === entries.length) entries.push(item);
        else entries.splice(at, 0, item);
      }
    }
  }

  async read(fromLsn: number, options: LogReadOptions): Promise<StoredRecord[]> {
    const out: StoredRecord[] = [];
    const step = options.direction === 'forward' ? 1 : -1;
    const lastLsn = this.firstLsn + this.slots.length - 1;
    let lsn = step > 0 ? Math.max(fromLsn, this.firstLsn) : Math.min(fromLsn, lastLsn);
    let bytes = 0;
    while (lsn >= this.firstLsn && lsn <= lastLsn && out.length < options.maxCount && bytes < options.maxBytes) {
      const slot = this.slots[lsn - this.firstLsn]!;
      out.push({ lsn, bytes: slot.bytes });
      bytes += slot.bytes.length;
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
    if (options.direction === 'backward') {
      const start = above - 1;
      const end = Math.max(-1, start - options.maxCount);
      const out: StreamIndexEntry[] = [];
      for (let i = start; i > end; i--) out.push({ ...entries[i]! });
      return out;
    }
    const previous = entries[above - 1];
    const start = previous && previous.firstVersion + previous.eventCount - 1 >= fromVersion ? above - 1 : above;
    return entries.slice(start, start + options.maxCount).map((e) => ({ ...e }));
  }

  async truncateAfter(afterLsn: number): Promise<void> {
    const keep = Math.max(0, afterLsn - this.firstLsn + 1);
    for (let i = this.slots.length - 1; i >= keep; i--) {
      for (const entry of this.slots[i]!.streams) this.removeEntry(entry.stream, entry.firstVersion);
    }
    this.slots.length = Math.min(this.slots.length, keep);
  }

  async getMeta(key: string): Promise<Uint8Array | undefined> {
    return this.meta.get(key)?.slice();
  }

  async putMeta(key: string, value: Uint8Array): Promise<void> {
    this.meta.set(key, value.slice());
  }

  private removeEntry(stream: string, firstVersion: number): void {
    const entries = this.streams.get(stream);
    if (!entries) return;
    const at = firstAbove(entries, firstVersion) - 1;
    if (entries[at]?.firstVersion !== firstVersion) return;
    // Truncation removes a suffix of the log, so this is nearly always the last entry.
    if (at === entries.length - 1) entries.pop();
    else entries.splice(at, 1);
    if (entries.length === 0) this.streams.delete(stream);
  }
}

/** Index of the first entry whose `firstVersion` is greater than `version` (binary search). */
function firstAbove(entries: readonly StreamIndexEntry[], version: number): number {
  let low = 0;
  let high = entries.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (entries[mid]!.firstVersion <= version) low = mid + 1;
    else high = mid;
  }
  return low;
}
