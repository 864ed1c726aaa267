/**
 * Test records for the store suite: a builder that makes the next records of a log for given
 * streams, and a reference model of the stream index to check a store's answers against.
 */
import { encodeRecord, RecordKind, type EncodedRecord, type RecordAppend } from '../../log/record.js';
import type { IndexReadOptions, StreamIndexEntry } from '../../store/store.js';

/** A stream a record writes to: its name (one event) or its name and an event count. */
export type StreamSpec = string | readonly [stream: string, eventCount: number];

/** Options of one built record. */
export interface RecordOptions {
  /** Term of the record. @default the builder's current term */
  term?: number;
  /** Bytes of event payload per stream, so tests can size records. @default 8 */
  payloadBytes?: number;
}

/**
 * Encodes one record at the given LSN and term whose appends start at the given versions.
 * Used directly by tests that build illegal segments, which must not move a builder on.
 */
export function makeRecord(lsn: number, term: number, appends: ReadonlyArray<{ stream: string; firstVersion: number; eventCount: number }>, payloadBytes = 8): EncodedRecord {
  const full: RecordAppend[] = appends.map((a, i) => ({ ...a, events: payload(lsn * 31 + i, payloadBytes) }));
  return encodeRecord({ lsn, term, kind: RecordKind.Commit, clientId: 'conformance', seq: lsn, timestampMs: 1_700_000_000_000 + lsn, appends: full });
}

function payload(seed: number, bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) out[i] = (seed + i * 7) & 0xff;
  return out;
}

/**
 * Makes the next records of a log, keeping each stream's next version, so that a test says only
 * which streams a record writes. It mirrors what the store should hold: {@link LogBuilder.records}
 * is the log, {@link LogBuilder.index} the stream index a store must answer with.
 */
export class LogBuilder {
  /** Term given to records built without an explicit one. */
  term = 1;
  private readonly log: EncodedRecord[] = [];

  /** The records built so far, LSN 1 first. */
  get records(): readonly EncodedRecord[] {
    return this.log;
  }

  /** LSN of the last record built; 0 when none. */
  get lastLsn(): number {
    return this.log.length;
  }

  /** The record at an LSN. */
  at(lsn: number): EncodedRecord {
    const record = this.log[lsn - 1];
    if (!record) throw new RangeError(`no record at LSN ${lsn}`);
    return record;
  }

  /** The version the next event of a stream gets. */
  nextVersion(stream: string): number {
    let next = 0;
    for (const record of this.log) {
      for (const entry of record.streams) if (entry.stream === stream) next = entry.firstVersion + entry.eventCount;
    }
    return next;
  }

  /** Builds the next record, writing to the given streams. */
  next(streams: readonly StreamSpec[], options: RecordOptions = {}): EncodedRecord {
    const term = options.term ?? this.term;
    this.term = term;
    const appends = streams.map((spec) => {
      const [stream, eventCount] = typeof spec === 'string' ? [spec, 1] : spec;
      return { stream, firstVersion: this.nextVersion(stream), eventCount };
    });
    const record = makeRecord(this.log.length + 1, term, appends, options.payloadBytes);
    this.log.push(record);
    return record;
  }

  /** Builds `count` records, each writing to the given streams. */
  segment(count: number, streams: readonly StreamSpec[], options: RecordOptions = {}): EncodedRecord[] {
    return Array.from({ length: count }, () => this.next(streams, options));
  }

  /** Forgets records after an LSN, as the store's `truncateAfter` does. */
  truncateAfter(lsn: number): void {
    this.log.length = Math.min(this.log.length, lsn);
    this.term = this.log[this.log.length - 1]?.term ?? this.term;
  }

  /** The stream names the log has written. */
  streams(): string[] {
    return [...new Set(this.log.flatMap((r) => r.streams.map((s) => s.stream)))];
  }

  /** What `readStreamIndex` must return, straight from the store contract's words. */
  index(stream: string, fromVersion: number, options: IndexReadOptions): StreamIndexEntry[] {
    const all = this.log.flatMap((r) =>
      r.streams.filter((s) => s.stream === stream).map((s) => ({ lsn: r.lsn, firstVersion: s.firstVersion, eventCount: s.eventCount })),
    );
    const picked =
      options.direction === 'forward'
        ? all.filter((e) => e.firstVersion + e.eventCount - 1 >= fromVersion)
        : all.filter((e) => e.firstVersion <= fromVersion).reverse();
    return picked.slice(0, options.maxCount);
  }
}

/** Lowercase hex of some bytes, so a mismatch shows where it is. */
export function hex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}
