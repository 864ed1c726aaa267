/**
 * The Store interface: where one server's log and a little metadata rest.
 *
 * A store only stores. Core wraps every store in a checked layer ({@link CheckedStore}) that
 * validates arguments and open state, keeps LSNs contiguous and terms in order, and verifies each
 * record's CRC when it is read, so an implementation does none of that. A new store is done when
 * `storeConformance` from `@kiln/core/testing` passes against it.
 */
import type { EncodedRecord } from '../log/record.js';

export type { EncodedRecord, StreamEntry } from '../log/record.js';

/** A record as a store returns it: its LSN and the bytes it was given, unchanged. */
export interface StoredRecord {
  lsn: number;
  bytes: Uint8Array;
}

/** One stream index entry: a run of a stream's events written by one record. */
export interface StreamIndexEntry {
  lsn: number;
  /** Version of the first event of the run. */
  firstVersion: number;
  eventCount: number;
}

/** Which way a read walks. */
export type Direction = 'forward' | 'backward';

/** Bounds of one log read. */
export interface LogReadOptions {
  direction: Direction;
  /** Records returned at most. */
  maxCount: number;
  /** Stop once the bytes returned reach this; at least one record is returned if any exists. */
  maxBytes: number;
}

/** Bounds of one stream index read. */
export interface IndexReadOptions {
  direction: Direction;
  /** Entries returned at most. */
  maxCount: number;
}

/** What a store implementation provides. Every method may assume the checked layer vetted its arguments. */
export interface Store {
  /** True when what `append` resolved survives a process crash (the store syncs to disk). */
  readonly persistent: boolean;

  /** Opens the store, creating it if empty. Called once. */
  open(): Promise<void>;

  /** Flushes and closes. Called once, after every other call has settled. */
  close(): Promise<void>;

  /**
   * Appends records, which follow the last one with no gap, together with their stream index
   * entries, as one atomic write. Resolves once durable as the store promises: on disk and synced
   * for a persistent store. The store may keep the records and their bytes without copying: the
   * caller never changes them afterwards.
   */
  append(records: readonly EncodedRecord[]): Promise<void>;

  /**
   * Reads records: forward, those with `lsn >= fromLsn` in ascending order; backward, those with
   * `lsn <= fromLsn` in descending order.
   */
  read(fromLsn: number, options: LogReadOptions): Promise<StoredRecord[]>;

  /**
   * Reads a stream's index entries: forward, the entries whose last version is `>= fromVersion`,
   * ascending; backward, the entries whose first version is `<= fromVersion`, descending.
   */
  readStreamIndex(stream: string, fromVersion: number, options: IndexReadOptions): Promise<StreamIndexEntry[]>;

  /** Removes every record with `lsn > afterLsn` and their index entries, durably. */
  truncateAfter(afterLsn: number): Promise<void>;

  /** Reads a metadata value (term, vote, in-sync set, cluster id). */
  getMeta(key: string): Promise<Uint8Array | undefined>;

  /** Writes a metadata value durably. */
  putMeta(key: string, value: Uint8Array): Promise<void>;
}
