/**
 * The level store: the log, its stream index and the metadata in one LevelDB database, so a
 * server's memory does not grow with its data. Every write is one atomic batch, synced when
 * `sync` is on: one fsync per group commit, never one per record.
 */
import { defaultLogLimits, type EncodedRecord, type IndexReadOptions, type LogReadOptions, type Store, type StoredRecord, type StreamIndexEntry } from '@kiln/core';
import { STORE_BLOCK_CACHE_BYTES, STORE_OPEN_FILES_MAX, STORE_TABLE_FILE_BYTES, STORE_WRITE_BUFFER_BYTES } from '@kiln/core';
import { Level } from 'level';
import {
  chunkKey,
  decodeGroupIndexKeys,
  encodeGroupIndexKeys,
  groupIndexKeysKey,
  indexKey,
  indexValue,
  lsnOfKey,
  metaKey,
  readIndexValue,
  recordKey,
  type GroupIndexKeys,
  versionOfIndexKey,
} from './keys.js';
import { LSN_MAX, type Db, type DbIterator, type Op } from './level-db.js';
import { readOlderRecords, truncateOlderRecordsOnce } from './older-layout.js';
import { ReadPage } from './read-page.js';
import { checkRecentRecords, damagedStoreError } from './recent-records.js';
import { chunksOf, decodeChunk, encodeChunk } from './record-chunks.js';

/** Options of {@link levelStore}. */
export interface LevelStoreOptions {
  /** Directory of the LevelDB database. Created when missing; one process may hold it at a time. */
  path: string;
  /**
   * Sync every write to disk before it resolves. When false, writes survive a process crash but
   * not a machine crash or power loss, and the store reports `persistent: false`.
   * @default true
   */
  sync?: boolean;
  /** Records a long truncation removes per batch, so no batch grows with the truncation. @default 1024 (`scanYieldEvery`) */
  truncateBatchRecordsMax?: number;
}

const VERSION_MAX = Number.MAX_SAFE_INTEGER;

/** A `Store` on LevelDB (through `level`). Use it through {@link levelStore}. */
export class LevelStore implements Store {
  readonly persistent: boolean;
  readonly path: string;
  private readonly sync: boolean;
  private readonly truncateBatchRecordsMax: number;
  private db: Db | undefined;
  /** The last LSN that may be held as a record of a store written before chunks, 0 for none. */
  private olderRecordsLast = 0;
  /** The tail of the write queue: writes reach LevelDB one after another, in call order. */
  private writing: Promise<unknown> = Promise.resolve();

  constructor(options: LevelStoreOptions) {
    if (typeof options?.path !== 'string' || options.path.length === 0) throw new TypeError('levelStore: path must be a non-empty string');
    this.path = options.path;
    this.sync = options.sync ?? true;
    this.persistent = this.sync;
    this.truncateBatchRecordsMax = options.truncateBatchRecordsMax ?? defaultLogLimits.scanYieldEvery;
  }

  /**
   * Opens (creating if missing) the database.
   * @throws Error naming the path when another process holds the directory, or LevelDB cannot open it
   */
  async open(): Promise<void> {
    // Created here, not in the constructor: `level` opens (and locks) on construction.
    // LevelDB's memory set explicitly: above all the open files, since each open table is mapped
    // and its touched pages stay resident (see STORE_OPEN_FILES_MAX).
    const db: Db = new Level<Uint8Array, Uint8Array>(this.path, {
      keyEncoding: 'view',
      valueEncoding: 'view',
      maxOpenFiles: STORE_OPEN_FILES_MAX,
      maxFileSize: STORE_TABLE_FILE_BYTES,
      cacheSize: STORE_BLOCK_CACHE_BYTES,
      writeBufferSize: STORE_WRITE_BUFFER_BYTES,
    });
    try {
      await db.open();
    } catch (error) {
      throw openError(this.path, error);
    }
    try {
      let olderLast: Uint8Array | undefined;
      try {
        [olderLast] = await db.keys({ gte: recordKey(0), lte: recordKey(LSN_MAX), reverse: true, limit: 1 }).all();
      } catch (error) {
        // A damaged table (cut short, say) fails the first read, before any record is known.
        throw damagedStoreError(this.path, error);
      }
      this.olderRecordsLast = olderLast ? lsnOfKey(olderLast) : 0;
      await checkRecentRecords(db, this.path, this.olderRecordsLast + 1);
    } catch (error) {
      await db.close();
      throw error;
    }
    this.db = db;
  }

  /** Waits for queued writes, then closes the database. Does nothing if it never opened. */
  async close(): Promise<void> {
    await this.writing;
    const db = this.db;
    this.db = undefined;
    await db?.close();
  }

  append(records: readonly EncodedRecord[]): Promise<void> {
    // Keys and values side by side, not an object per put: every append passes here.
    const puts: Uint8Array[] = [];
    for (const chunk of chunksOf(records)) puts.push(chunkKey(chunk[0]!.lsn), encodeChunk(chunk));
    if (records.length > 0) {
      const group: GroupIndexKeys = { lastLsn: records[records.length - 1]!.lsn, entries: [] };
      for (const record of records) {
        for (const s of record.streams) {
          const key = indexKey(s.stream, s.firstVersion);
          puts.push(key, indexValue(record.lsn, s.eventCount));
          group.entries.push({ lsn: record.lsn, key });
        }
      }
      puts.push(groupIndexKeysKey(records[0]!.lsn), encodeGroupIndexKeys(group));
    }
    return this.write(() => this.putAll(puts));
  }

  async read(fromLsn: number, options: LogReadOptions): Promise<StoredRecord[]> {
    const page = new ReadPage(options);
    // Records of an older store lie below every chunk: forward reads take them first, backward last.
    if (options.direction === 'forward') {
      if (this.olderRecordsLast > 0 && fromLsn <= this.olderRecordsLast) await readOlderRecords(this.level, fromLsn, page);
      if (!page.full) await this.readChunksForward(Math.max(fromLsn, this.olderRecordsLast + 1), page);
    } else {
      await this.readChunksBackward(fromLsn, page);
      if (!page.full && this.olderRecordsLast > 0) await readOlderRecords(this.level, Math.min(fromLsn, this.olderRecordsLast), page);
    }
    return page.records;
  }

  private async readChunksForward(fromLsn: number, page: ReadPage): Promise<void> {
    // The chunk holding fromLsn starts at or before it: the greatest such key. A one-record read
    // (the reader's, per index entry) needs nothing more.
    const [holding] = await this.level.iterator({ gte: chunkKey(0), lte: chunkKey(fromLsn), reverse: true, limit: 1 }).all();
    let next: number | undefined;
    if (holding) {
      const records = page.chunk(holding);
      for (const record of records) if (record.lsn >= fromLsn && !page.full) page.add(record);
      next = records.length > 0 ? records[records.length - 1]!.lsn + 1 : undefined;
    }
    if (page.full) return;
    const iterator = this.level.iterator({ gt: chunkKey(fromLsn), lte: chunkKey(LSN_MAX), highWaterMarkBytes: page.highWaterMarkBytes });
    await fillPage(page, iterator, (records) => {
      // This iterator sees the database as it is now, the holding chunk as it was: a truncation
      // in between may have cut the log there. The page then ends where the two no longer join,
      // rather than repeat or skip an LSN.
      if (records.length === 0 || (next !== undefined && records[0]!.lsn !== next)) return false;
      next = records[records.length - 1]!.lsn + 1;
      for (const record of records) if (!page.full) page.add(record);
      return true;
    });
  }

  private async readChunksBackward(fromLsn: number, page: ReadPage): Promise<void> {
    const iterator = this.level.iterator({ gte: chunkKey(0), lte: chunkKey(fromLsn), reverse: true, highWaterMarkBytes: page.highWaterMarkBytes });
    await fillPage(page, iterator, (records) => {
      for (let i = records.length - 1; i >= 0; i--) if (records[i]!.lsn <= fromLsn && !page.full) page.add(records[i]!);
      return true;
    });
  }

  async readStreamIndex(stream: string, fromVersion: number, options: IndexReadOptions): Promise<StreamIndexEntry[]> {
    const lowest = indexKey(stream, 0);
    if (options.direction === 'backward') {
      const entries = await this.level.iterator({ gte: lowest, lte: indexKey(stream, fromVersion), reverse: true, limit: options.maxCount }).all();
      return entries.map(toEntry);
    }
    // The entry holding fromVersion, if any, starts at or before it: the greatest such key.
    const [holding] = await this.level.iterator({ gte: lowest, lte: indexKey(stream, fromVersion), reverse: true, limit: 1 }).all();
    let start = fromVersion;
    if (holding) {
      const entry = toEntry(holding);
      if (entry.firstVersion + entry.eventCount - 1 >= fromVersion) start = entry.firstVersion;
    }
    const entries = await this.level.iterator({ gte: indexKey(stream, start), lte: indexKey(stream, VERSION_MAX), limit: options.maxCount }).all();
    return entries.map(toEntry);
  }

  truncateAfter(afterLsn: number): Promise<void> {
    return this.write(async () => {
      // Removes the tail in batches from the end backwards, so that each batch leaves a dense
      // prefix with its index whole, and no batch grows with the length of the truncation.
      // Groups first: a store written before them has its `E` entries below the first group.
      while (await this.truncateGroupsOnce(afterLsn));
      this.olderRecordsLast = Math.min(this.olderRecordsLast, afterLsn);
      while (await truncateOlderRecordsOnce(this.level, afterLsn, this.truncateBatchRecordsMax, (ops) => this.batch(ops)));
    });
  }

  /**
   * Removes up to `truncateBatchRecordsMax` records after `afterLsn` from the last groups, in one
   * batch; a group cut part way keeps its first records and the index keys they made.
   * @returns whether records after `afterLsn` remain in groups
   */
  private async truncateGroupsOnce(afterLsn: number): Promise<boolean> {
    const ops: Op[] = [];
    let budget = this.truncateBatchRecordsMax;
    const iterator = this.level.iterator({ gte: groupIndexKeysKey(0), lte: groupIndexKeysKey(LSN_MAX), reverse: true });
    try {
      for (let entry = await iterator.next(); entry !== undefined && budget > 0; entry = await iterator.next()) {
        const [key, value] = entry;
        const firstLsn = lsnOfKey(key);
        const group = decodeGroupIndexKeys(value);
        if (group.lastLsn <= afterLsn) break;
        const keepThrough = Math.max(afterLsn, firstLsn - 1, group.lastLsn - budget);
        await this.cutChunks(firstLsn, keepThrough, group.lastLsn, ops);
        for (const { lsn, key: index } of group.entries) if (lsn > keepThrough) ops.push({ type: 'del', key: index });
        if (keepThrough < firstLsn) ops.push({ type: 'del', key });
        else ops.push({ type: 'put', key, value: encodeGroupIndexKeys({ lastLsn: keepThrough, entries: group.entries.filter((e) => e.lsn <= keepThrough) }) });
        budget -= group.lastLsn - keepThrough;
        if (keepThrough >= firstLsn) break;
      }
    } finally {
      await iterator.close();
    }
    if (ops.length === 0) return false;
    await this.batch(ops);
    return budget === 0;
  }

  /** Adds to `ops` what removes the records keepThrough+1..lastLsn from the chunks of the group that starts at firstLsn. */
  private async cutChunks(firstLsn: number, keepThrough: number, lastLsn: number, ops: Op[]): Promise<void> {
    const iterator = this.level.iterator({ gte: chunkKey(firstLsn), lte: chunkKey(lastLsn), reverse: true });
    try {
      for (let entry = await iterator.next(); entry !== undefined; entry = await iterator.next()) {
        const [key, value] = entry;
        const chunkFirst = lsnOfKey(key);
        if (chunkFirst > keepThrough) {
          ops.push({ type: 'del', key });
          continue;
        }
        const kept = decodeChunk(chunkFirst, value).slice(0, keepThrough - chunkFirst + 1);
        ops.push({ type: 'put', key, value: encodeChunk(kept) });
        return;
      }
    } finally {
      await iterator.close();
    }
  }

  async getMeta(key: string): Promise<Uint8Array | undefined> {
    return this.level.get(metaKey(key));
  }

  putMeta(key: string, value: Uint8Array): Promise<void> {
    return this.write(() => this.batch([{ type: 'put', key: metaKey(key), value }]));
  }

  private get level(): Db {
    if (!this.db) throw new TypeError('LevelStore used before open()');
    return this.db;
  }

  /** One batch of puts, `puts` holding each key followed by its value. */
  private putAll(puts: readonly Uint8Array[]): Promise<void> {
    const batch = this.level.batch();
    for (let i = 0; i < puts.length; i += 2) batch.put(puts[i]!, puts[i + 1]!);
    // `sync` is classic-level's write option; the `level` typings do not list it.
    return batch.write({ sync: this.sync } as object);
  }

  private batch(ops: Op[]): Promise<void> {
    // A chained batch: abstract-level's array form costs about ten times more per operation
    // (measured: 85 µs against 8-16 µs per three-operation record).
    const batch = this.level.batch();
    for (const op of ops) {
      if (op.type === 'put') batch.put(op.key, op.value);
      else batch.del(op.key);
    }
    // `sync` is classic-level's write option; the `level` typings do not list it.
    return batch.write({ sync: this.sync } as object);
  }

  /** Queues a write behind the ones before it, so they reach the disk in the order they were made. */
  private write(operation: () => Promise<void>): Promise<void> {
    const result = this.writing.then(operation);
    this.writing = result.catch(() => undefined);
    return result;
  }
}

/**
 * Hands `take` the records of each chunk `iterator` brings, as many chunks a trip as the page still
 * wants, until the page is full, the chunks run out or `take` says stop; then closes the iterator.
 */
async function fillPage(page: ReadPage, iterator: DbIterator, take: (records: StoredRecord[]) => boolean): Promise<void> {
  try {
    while (!page.full) {
      const entries = await iterator.nextv(page.chunksWanted);
      if (entries.length === 0) return;
      for (const entry of entries) if (!take(page.chunk(entry))) return;
    }
  } finally {
    await iterator.close();
  }
}

function toEntry([key, value]: [Uint8Array, Uint8Array]): StreamIndexEntry {
  const { lsn, eventCount } = readIndexValue(value);
  return { lsn, firstVersion: versionOfIndexKey(key), eventCount };
}

function openError(path: string, error: unknown): Error {
  const code = (error as { code?: string }).code;
  const causeCode = ((error as { cause?: { code?: string } }).cause ?? {}).code;
  if (code === 'LEVEL_LOCKED' || causeCode === 'LEVEL_LOCKED') {
    return new Error(`cannot open the store at ${path}: another process (or another store in this one) holds its lock`, { cause: error });
  }
  const detail = ((error as { cause?: Error }).cause ?? (error as Error)).message;
  return new Error(`cannot open the store at ${path}: ${detail}`, { cause: error });
}
