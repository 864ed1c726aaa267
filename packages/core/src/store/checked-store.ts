/**
 * The checked layer every store sits behind. It validates arguments and open state, keeps LSNs
 * contiguous and terms in order, verifies each record's CRC as it is read, checks the store's
 * on-disk format version and recovers a torn tail on open, so that store implementations only
 * store.
 */
import { assert } from '../assert.js';
import { CorruptRecordError, InvalidArgumentError, LogOrderError, StoreClosedError, StoreFailedError, UnsupportedFormatVersionError } from '../errors.js';
import { META_KEY_CHARS_MAX, type LogLimits } from '../limits.js';
import { decodeRecord, STORE_FORMAT_VERSION, verifiedBody, type EncodedRecord, type LogRecord } from '../log/record.js';
import { checkStreamName, checkWellFormed } from '../log/stream-name.js';
import type { Direction, IndexReadOptions, LogReadOptions, Store, StoredRecord, StreamIndexEntry } from './store.js';

/** The position of a record in the log. LSN 0 and term 0 stand for the empty log. */
export interface LogPosition {
  lsn: number;
  term: number;
}

/** What recovery found at the tail when the store opened. */
export interface RecoveryReport {
  /** Records dropped from the tail because they were torn or corrupt. */
  droppedRecords: number;
  /** The last whole record. */
  last: LogPosition;
}

type State = 'new' | 'opening' | 'open' | 'closing' | 'closed' | 'failed';

/** The limits the checked layer enforces. */
export type CheckedStoreLimits = Pick<LogLimits, 'groupCommitRecordsMax' | 'groupCommitBytesMax' | 'streamNameBytesMax' | 'readCountMax'>;

/** The metadata key of the store's on-disk format version, a `u32le`; only this layer writes it. */
export const META_FORMAT_VERSION = 'format-version';

/** Wraps a store in the checked layer. */
export function checkedStore(store: Store, limits: CheckedStoreLimits): CheckedStore {
  return new CheckedStore(store, limits);
}

export class CheckedStore {
  private state: State = 'new';
  private failure: unknown;
  private last: LogPosition = { lsn: 0, term: 0 };
  /** The tail including appends still in flight; the next append must follow it. */
  private pending: LogPosition = { lsn: 0, term: 0 };
  private inFlight = 0;
  private idle: (() => void) | undefined;

  constructor(
    readonly store: Store,
    private readonly limits: CheckedStoreLimits,
  ) {}

  get persistent(): boolean {
    return this.store.persistent;
  }

  /** The last durable record. */
  get lastPosition(): LogPosition {
    return this.last;
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  /**
   * Opens the store, checks its format version and drops a torn or corrupt tail: records whose
   * length or CRC does not check, walking back from the end, at most one group commit's worth.
   * Corruption further back is not a torn write, and opening fails with `CorruptRecordError`.
   * @throws UnsupportedFormatVersionError when a newer Kiln wrote the store; nothing is changed
   */
  async open(): Promise<RecoveryReport> {
    if (this.state !== 'new') throw new StoreClosedError();
    this.state = 'opening';
    await this.store.open();
    let dropped: number;
    try {
      await this.checkFormatVersion();
      dropped = await this.recoverTail();
    } catch (error) {
      // Leave nothing half-open behind: the caller sees the error and a closed store.
      this.state = 'closed';
      await this.store.close();
      throw error;
    }
    this.pending = { ...this.last };
    this.state = 'open';
    return { droppedRecords: dropped, last: { ...this.last } };
  }

  /**
   * Refuses a store of a newer format before anything reads or writes it. A new store, or one of an
   * older format (format 1 recorded none), is marked with the current version: this code reads
   * the older records as they are, and from now on writes records of the current format beside them.
   */
  private async checkFormatVersion(): Promise<void> {
    const recorded = await this.store.getMeta(META_FORMAT_VERSION);
    const version = recorded === undefined ? 1 : formatVersionOf(recorded);
    if (version > STORE_FORMAT_VERSION || version < 1) throw new UnsupportedFormatVersionError(version, STORE_FORMAT_VERSION);
    if (version < STORE_FORMAT_VERSION) await this.store.putMeta(META_FORMAT_VERSION, formatVersionBytes(STORE_FORMAT_VERSION));
  }

  private async recoverTail(): Promise<number> {
    let dropped = 0;
    for (;;) {
      const [tail] = await this.store.read(Number.MAX_SAFE_INTEGER, { direction: 'backward', maxCount: 1, maxBytes: 1 });
      if (!tail) {
        this.last = { lsn: 0, term: 0 };
        return dropped;
      }
      try {
        const record = decodeRecord(tail.bytes, tail.lsn);
        this.last = { lsn: record.lsn, term: record.term };
        return dropped;
      } catch (error) {
        if (!(error instanceof CorruptRecordError) || dropped >= this.limits.groupCommitRecordsMax) throw error;
        dropped++;
        await this.store.truncateAfter(tail.lsn - 1);
      }
    }
  }

  /**
   * Appends a segment: records that follow the log with no gap and no lower term.
   * @throws LogOrderError on a gap or a term going backwards; nothing is written
   * @throws InvalidArgumentError on an empty or oversize segment; nothing is written
   */
  async append(records: readonly EncodedRecord[]): Promise<void> {
    this.checkOpen();
    this.checkSegment(records);
    const tail = records[records.length - 1]!;
    this.pending = { lsn: tail.lsn, term: tail.term };
    await this.write(async () => {
      await this.store.append(records);
      if (tail.lsn > this.last.lsn) this.last = { lsn: tail.lsn, term: tail.term };
    });
  }

  /**
   * Reads records, verifying each one's length and CRC.
   * @throws CorruptRecordError when a record does not check
   */
  async read(fromLsn: number, options: LogReadOptions): Promise<StoredRecord[]> {
    this.checkOpen();
    checkLsn('fromLsn', fromLsn);
    checkReadBounds(options.maxCount, options.direction, this.limits.readCountMax);
    if (!Number.isSafeInteger(options.maxBytes) || options.maxBytes < 1) throw new InvalidArgumentError('maxBytes', 'must be a positive integer');
    // The tail bounds as the read starts: an append in flight may or may not show in it.
    const low = Math.min(fromLsn, this.last.lsn);
    const high = Math.min(fromLsn, this.pending.lsn);
    const records = await this.run(() => this.store.read(fromLsn, options));
    let expected = options.direction === 'forward' ? Math.max(fromLsn, 1) : firstBackward(low, high, records[0]?.lsn);
    for (const record of records) {
      assert(record.lsn === expected, `store returned LSN ${record.lsn} where ${expected} was due`);
      verifiedBody(record.bytes, record.lsn);
      expected += options.direction === 'forward' ? 1 : -1;
    }
    return records;
  }

  /** Reads and decodes records. */
  async readRecords(fromLsn: number, options: LogReadOptions): Promise<LogRecord[]> {
    const stored = await this.read(fromLsn, options);
    return stored.map((r) => decodeRecord(r.bytes, r.lsn));
  }

  /** Reads a stream's index entries. */
  async readStreamIndex(stream: string, fromVersion: number, options: IndexReadOptions): Promise<StreamIndexEntry[]> {
    this.checkOpen();
    checkStreamName(stream, this.limits.streamNameBytesMax);
    if (!Number.isSafeInteger(fromVersion) || fromVersion < 0) throw new InvalidArgumentError('fromVersion', 'must be a non-negative integer');
    checkReadBounds(options.maxCount, options.direction, this.limits.readCountMax);
    return this.run(() => this.store.readStreamIndex(stream, fromVersion, options));
  }

  /** The last index entry of a stream, or undefined when the stream has no events. */
  async streamHead(stream: string): Promise<StreamIndexEntry | undefined> {
    const [head] = await this.readStreamIndex(stream, Number.MAX_SAFE_INTEGER, { direction: 'backward', maxCount: 1 });
    return head;
  }

  /**
   * Removes every record after `afterLsn`.
   * @throws InvalidArgumentError when `afterLsn` is negative or beyond the log
   */
  async truncateAfter(afterLsn: number): Promise<void> {
    this.checkOpen();
    checkLsn('afterLsn', afterLsn);
    if (afterLsn > this.pending.lsn) throw new InvalidArgumentError('afterLsn', `must not exceed the last LSN, ${this.pending.lsn}`);
    await this.write(async () => {
      await this.store.truncateAfter(afterLsn);
      const [tail] = afterLsn === 0 ? [] : await this.store.read(afterLsn, { direction: 'backward', maxCount: 1, maxBytes: 1 });
      this.last = tail ? { lsn: tail.lsn, term: decodeRecord(tail.bytes, tail.lsn).term } : { lsn: 0, term: 0 };
      this.pending = { ...this.last };
    });
  }

  async getMeta(key: string): Promise<Uint8Array | undefined> {
    this.checkOpen();
    checkMetaKey(key);
    return this.run(() => this.store.getMeta(key));
  }

  /** @throws InvalidArgumentError for the key of the format version, which only this layer writes */
  async putMeta(key: string, value: Uint8Array): Promise<void> {
    this.checkOpen();
    checkMetaKey(key);
    if (key === META_FORMAT_VERSION) throw new InvalidArgumentError('key', `'${META_FORMAT_VERSION}' is kept by the checked layer`);
    if (!(value instanceof Uint8Array)) throw new InvalidArgumentError('value', 'must be a Uint8Array');
    await this.write(() => this.store.putMeta(key, value));
  }

  /** Waits for calls in flight, then flushes and closes the store. Later calls get `StoreClosedError`. */
  async close(): Promise<void> {
    if (this.state === 'closing' || this.state === 'closed') throw new StoreClosedError();
    const wasOpened = this.state !== 'new';
    this.state = 'closing';
    if (this.inFlight > 0) await new Promise<void>((resolve) => (this.idle = resolve));
    if (wasOpened) await this.store.close();
    this.state = 'closed';
  }

  private checkOpen(): void {
    if (this.state === 'failed') throw new StoreFailedError({ cause: this.failure });
    if (this.state !== 'open') throw new StoreClosedError();
  }

  private checkSegment(records: readonly EncodedRecord[]): void {
    if (!Array.isArray(records) || records.length === 0) throw new InvalidArgumentError('records', 'must be a non-empty array');
    if (records.length > this.limits.groupCommitRecordsMax) {
      throw new InvalidArgumentError('records', `must hold at most ${this.limits.groupCommitRecordsMax} records`);
    }
    let bytes = 0;
    let previous = this.pending;
    for (const record of records) {
      if (record.lsn !== previous.lsn + 1) throw new LogOrderError(`LSN ${record.lsn} does not follow ${previous.lsn}`);
      if (!Number.isSafeInteger(record.term) || record.term < previous.term) {
        throw new LogOrderError(`term ${record.term} at LSN ${record.lsn} is below term ${previous.term}`);
      }
      if (!(record.bytes instanceof Uint8Array)) throw new InvalidArgumentError('records', 'each record needs its bytes');
      for (const entry of record.streams) checkStreamName(entry.stream, this.limits.streamNameBytesMax);
      bytes += record.bytes.length;
      previous = record;
    }
    if (bytes > this.limits.groupCommitBytesMax) {
      throw new InvalidArgumentError('records', `segment of ${bytes} bytes exceeds ${this.limits.groupCommitBytesMax}`);
    }
  }

  /**
   * Runs a write. One that fails leaves what reached the disk unknown: the store refuses
   * everything with `StoreFailedError` until reopened (fsyncgate), whichever write it was.
   */
  private write(operation: () => Promise<void>): Promise<void> {
    return this.run(async () => {
      try {
        await operation();
      } catch (cause) {
        this.state = 'failed';
        this.failure = cause;
        throw new StoreFailedError({ cause });
      }
    });
  }

  private async run<T>(operation: () => Promise<T>): Promise<T> {
    this.inFlight++;
    try {
      return await operation();
    } finally {
      this.inFlight--;
      if (this.inFlight === 0 && this.idle) this.idle();
    }
  }
}

/** Where a backward read may start: between the durable tail and the tail of appends in flight. */
function firstBackward(low: number, high: number, first: number | undefined): number {
  if (first === undefined) return low;
  assert(first >= low && first <= high, `store began a backward read at LSN ${first}, outside ${low}..${high}`);
  return first;
}

function checkLsn(field: string, lsn: number): void {
  if (!Number.isSafeInteger(lsn) || lsn < 0) throw new InvalidArgumentError(field, 'must be a non-negative integer');
}

function checkReadBounds(maxCount: number, direction: Direction, countMax: number): void {
  if (direction !== 'forward' && direction !== 'backward') throw new InvalidArgumentError('direction', "must be 'forward' or 'backward'");
  if (!Number.isSafeInteger(maxCount) || maxCount < 1 || maxCount > countMax) {
    throw new InvalidArgumentError('maxCount', `must be an integer from 1 to ${countMax}`);
  }
}

/** The recorded format version; 0 when the value is not a version. */
function formatVersionOf(value: Uint8Array): number {
  if (value.length !== 4) return 0;
  return new DataView(value.buffer, value.byteOffset, 4).getUint32(0, true);
}

function formatVersionBytes(version: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, version, true);
  return bytes;
}

function checkMetaKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0 || key.length > META_KEY_CHARS_MAX) {
    throw new InvalidArgumentError('key', `must be a string of 1 to ${META_KEY_CHARS_MAX} characters`);
  }
  // A store keys meta by UTF-8 as it keys streams, so the same rule keeps two keys from becoming one.
  checkWellFormed(key, 'key');
}
