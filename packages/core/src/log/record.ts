/**
 * The log record: one entry of the log, as it sits in a store and travels to mirrors: a commit
 * record (one committed transaction), or one step of a transaction over several stripes.
 *
 * Layout: `u32le bodyBytes | u32le crc32c(body) | body`, where body is the MessagePack array
 * `[lsn, term, kind, clientId, seq, timestampMs, appends]` (a transaction step adds an eighth
 * field, `txn`, see {@link TxnInfo}) and each append is `[stream, firstVersion, eventCount, eventsBlob]`. The length and CRC let recovery find a torn or
 * corrupt tail and drop it; the record is all there or not there. `lsn` and `term` open every
 * kind of record, and `kind` says how the rest reads.
 *
 * Format version 1 had no kind: `[lsn, term, clientId, seq, timestampMs, appends]`. Such records
 * still read, as commit records.
 */
import { Decoder, Encoder } from '@msgpack/msgpack';
import { assert } from '../assert.js';
import { crc32c } from '../crc32c.js';
import { CorruptRecordError, UnsupportedRecordKindError } from '../errors.js';
import { untrustedDecoderLimits } from './events.js';
import { header, skipValue } from './msgpack-shape.js';
import { putU32le, writeRecord } from './record-writer.js';
import { checkAppendStreamText } from './stream-name.js';

/** Bytes before the body: its length and its CRC. */
export const RECORD_HEADER_BYTES = 8;

/**
 * The on-disk format this code writes, recorded in every store's metadata. 1: records without a
 * kind (read as commit records); 2: records open with `[lsn, term, kind]`; 3: records unchanged,
 * but the level store keeps a group commit's records in chunks, which a Kiln of format 2 would not
 * find. A store of a later version is refused.
 */
export const STORE_FORMAT_VERSION = 3;

/**
 * What a record is. A commit is one committed transaction of one stripe. A transaction over
 * several stripes writes a prepare in each participant's log (its part, held and invisible), one
 * decide in the coordinator's (commit with the coordinator's part, or abort), and an outcome in
 * each participant's (commit with its part, or abort). Readers see the appends of commits, of
 * committing decides and of committing outcomes; a prepare's never. Scavenge is reserved, and a
 * record of it is refused with `UnsupportedRecordKindError`.
 */
export const RecordKind = { Commit: 1, Prepare: 2, Decide: 3, Outcome: 4, Scavenge: 5 } as const;

/** A decision on a transaction over several stripes. */
export const Decision = { None: 0, Commit: 1, Abort: 2 } as const;
export type Decision = (typeof Decision)[keyof typeof Decision];

/** What a record of a transaction over several stripes says of it. */
export interface TxnInfo {
  /** The transaction's id: `<clientId>#<seq>` of the client's request to the coordinator, then the coordinator's stripe, term and count (`/<stripe>.<term>.<n>`). */
  id: string;
  /** The coordinator's stripe index: the lowest of the participants. */
  coordinator: number;
  /** Every participating stripe's index, ascending, the coordinator's first. */
  participants: number[];
  /** `None` in a prepare; the decision in a decide or an outcome. */
  decision: Decision;
  /** In an outcome: the LSN of the prepare it ends; otherwise 0. */
  prepareLsn: number;
  /** In a decide: every part's stream ranges, the result a resend of the transaction gets; otherwise empty. */
  streams: StreamEntry[];
}

/** One of {@link RecordKind}'s values. */
export type RecordKind = (typeof RecordKind)[keyof typeof RecordKind];

/** The events one transaction appended to one stream. */
export interface RecordAppend {
  stream: string;
  /** Version of the first of these events in the stream. */
  firstVersion: number;
  eventCount: number;
  /** The events, MessagePack-encoded as the client sent them. */
  events: Uint8Array;
}

/** A record: a committed transaction, or a step of one over several stripes (with `txn`). */
export interface LogRecord {
  lsn: number;
  term: number;
  kind: typeof RecordKind.Commit | typeof RecordKind.Prepare | typeof RecordKind.Decide | typeof RecordKind.Outcome;
  clientId: string;
  seq: number;
  timestampMs: number;
  appends: RecordAppend[];
  /** Present exactly on prepare, decide and outcome records. */
  txn?: TxnInfo;
}

/** The appends readers see: a prepare's stay hidden until its outcome (which carries them again). */
export function visibleAppends(record: LogRecord): RecordAppend[] {
  return record.kind === RecordKind.Prepare ? [] : record.appends;
}

/** Where one record put one stream's events: what a store's stream index holds. */
export interface StreamEntry {
  stream: string;
  firstVersion: number;
  eventCount: number;
}

/** An encoded record with what a store needs to index it, without decoding it again. */
export interface EncodedRecord {
  lsn: number;
  term: number;
  /** The whole record: header and body. */
  bytes: Uint8Array;
  streams: StreamEntry[];
}

const encoder = new Encoder();
const decoder = new Decoder(untrustedDecoderLimits);

/**
 * Encodes a record, header and CRC included.
 * @throws InvalidArgumentError when a stream name is not well-formed Unicode: its bytes would name
 * another stream than the index entry the store makes from `streams`
 */
export function encodeRecord(record: LogRecord): EncodedRecord {
  // Every transaction passes here: one plain loop, no closures, no array grown from empty.
  const streams = new Array<StreamEntry>(record.appends.length);
  for (let i = 0; i < record.appends.length; i++) {
    const { stream, firstVersion, eventCount } = record.appends[i]!;
    checkAppendStreamText(stream, i);
    streams[i] = { stream, firstVersion, eventCount };
  }
  assert((record.kind === RecordKind.Commit) === (record.txn === undefined), 'a transaction step, and only one, names its transaction');
  const bytes = writeRecord(record, RECORD_HEADER_BYTES) ?? encodeWithHeader(record);
  // A prepare's appends are not indexed: its events are nobody's until the outcome.
  return { lsn: record.lsn, term: record.term, bytes, streams: record.kind === RecordKind.Prepare ? [] : streams };
}

/** The general encoder's way, for anything {@link writeRecord} leaves (a number it does not handle). */
function encodeWithHeader(record: LogRecord): Uint8Array {
  const rows = record.appends.map((a) => [a.stream, a.firstVersion, a.eventCount, a.events]);
  const fields: unknown[] = [record.lsn, record.term, record.kind, record.clientId, record.seq, record.timestampMs, rows];
  if (record.kind !== RecordKind.Commit) {
    assert(record.txn !== undefined, 'a transaction step names its transaction');
    fields.push(txnToWire(record.txn));
  }
  const body = encoder.encodeSharedRef(fields);
  const bytes = new Uint8Array(RECORD_HEADER_BYTES + body.length);
  putU32le(bytes, 0, body.length);
  putU32le(bytes, 4, crc32c(body));
  bytes.set(body, RECORD_HEADER_BYTES);
  return bytes;
}

const txnToWire = (t: TxnInfo): unknown[] => [t.id, t.coordinator, t.participants, t.decision, t.prepareLsn, t.streams.map((s) => [s.stream, s.firstVersion, s.eventCount])];

function txnFromWire(value: unknown): TxnInfo | undefined {
  if (!Array.isArray(value) || value.length !== 6) return undefined;
  const [id, coordinator, participants, decision, prepareLsn, streams] = value as unknown[];
  const count = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  if (typeof id !== 'string' || !count(coordinator) || !count(prepareLsn) || !Array.isArray(participants) || !participants.every(count)) return undefined;
  if (decision !== Decision.None && decision !== Decision.Commit && decision !== Decision.Abort) return undefined;
  if (!Array.isArray(streams)) return undefined;
  const entries: StreamEntry[] = [];
  for (const s of streams as unknown[]) {
    if (!Array.isArray(s) || s.length !== 3 || typeof s[0] !== 'string' || !count(s[1]) || !count(s[2])) return undefined;
    entries.push({ stream: s[0], firstVersion: s[1], eventCount: s[2] });
  }
  return { id, coordinator, participants: participants as number[], decision, prepareLsn, streams: entries };
}

/**
 * Decodes a record and checks its length and CRC.
 * @param expectedLsn the LSN the caller looked up, reported if the record is corrupt
 * @throws CorruptRecordError when the bytes are torn, garbled or hold another LSN
 * @throws UnsupportedRecordKindError when the record is of a kind this code does not implement
 */
export function decodeRecord(bytes: Uint8Array, expectedLsn: number): LogRecord {
  const body = verifiedBody(bytes, expectedLsn);
  let fields: unknown;
  try {
    fields = decoder.decode(body);
  } catch (cause) {
    throw new CorruptRecordError(expectedLsn, `body does not decode: ${(cause as Error).message}`);
  }
  const record = toRecord(fields, expectedLsn);
  if (!record) throw new CorruptRecordError(expectedLsn, 'body has the wrong shape');
  if (record.lsn !== expectedLsn) throw new CorruptRecordError(expectedLsn, `holds LSN ${record.lsn}`);
  return record;
}

/**
 * The term of a record whose CRC was already checked, read from the head of its body without
 * decoding the rest (a mirror catching up is shipped many records the active only needs this
 * from). Falls back to a full decode when the head is not in the usual form.
 * @throws CorruptRecordError as {@link decodeRecord} does, when it falls back
 */
export function recordTerm(bytes: Uint8Array, lsn: number): number {
  const body = RECORD_HEADER_BYTES;
  // [lsn, term, ...]: a fixarray of 8 (a transaction step), 7 (a commit) or 6 (format 1), then two unsigned integers.
  if (bytes[body] === 0x98 || bytes[body] === 0x97 || bytes[body] === 0x96) {
    const afterLsn = skipUint(bytes, body + 1);
    const term = afterLsn === undefined ? undefined : readUint(bytes, afterLsn);
    if (term !== undefined) return term;
  }
  return decodeRecord(bytes, lsn).term;
}

/**
 * What a store needs to index a record (its term and the streams it appends to), read from the
 * record's bytes without decoding its events: a mirror does this for every record it is shipped.
 * Checks the length and CRC like {@link decodeRecord}, and falls back to it for a body not in the
 * usual form. The returned record shares `bytes`.
 * @throws CorruptRecordError as {@link decodeRecord} does
 * @throws UnsupportedRecordKindError as {@link decodeRecord} does
 */
export function indexRecord(bytes: Uint8Array, expectedLsn: number): EncodedRecord {
  verifiedBody(bytes, expectedLsn);
  const head = readIndexHead(bytes);
  if (head && head.lsn === expectedLsn) return { lsn: head.lsn, term: head.term, bytes, streams: head.streams };
  const record = decodeRecord(bytes, expectedLsn);
  return { lsn: record.lsn, term: record.term, bytes, streams: visibleAppends(record).map((a) => ({ stream: a.stream, firstVersion: a.firstVersion, eventCount: a.eventCount })) };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * `[lsn, term, kind, clientId, seq, timestampMs, [[stream, firstVersion, eventCount, events]…]]`
 * (format 1: no kind; a transaction step: its `txn` eighth), skimmed; undefined when not in that form.
 */
function readIndexHead(bytes: Uint8Array): { lsn: number; term: number; streams: StreamEntry[] } | undefined {
  let at = RECORD_HEADER_BYTES;
  const fieldCount = bytes[at++];
  if (fieldCount !== 0x98 && fieldCount !== 0x97 && fieldCount !== 0x96) return undefined;
  const lsn = readUint(bytes, at);
  const afterLsn = skipUint(bytes, at);
  if (lsn === undefined || afterLsn === undefined) return undefined;
  const term = readUint(bytes, afterLsn);
  at = skipUint(bytes, afterLsn) ?? -1;
  if (term === undefined || at < 0) return undefined;
  const kind = fieldCount === 0x96 ? RecordKind.Commit : bytes[at++];
  // Seven fields make a commit; a transaction step has an eighth, its `txn`.
  if (fieldCount === 0x97 ? kind !== RecordKind.Commit : fieldCount === 0x98 && kind !== RecordKind.Prepare && kind !== RecordKind.Decide && kind !== RecordKind.Outcome) return undefined;
  for (let field = 0; field < 3; field++) {
    const next = skipValue(bytes, at, 1);
    if (typeof next === 'string') return undefined;
    at = next;
  }
  const appends = header(bytes, at);
  if (appends.kind !== 'array') return undefined;
  at = appends.body;
  const streams: StreamEntry[] = [];
  for (let i = 0; i < appends.length; i++) {
    const row = header(bytes, at);
    if (row.kind !== 'array' || row.length !== 4) return undefined;
    const name = header(bytes, row.body);
    const nameEnd = name.body + name.length;
    if (name.kind !== 'str' || nameEnd > bytes.length) return undefined;
    let stream: string;
    try {
      stream = utf8.decode(bytes.subarray(name.body, nameEnd));
    } catch {
      return undefined;
    }
    const firstVersion = readUint(bytes, nameEnd);
    const afterFirst = skipUint(bytes, nameEnd);
    if (firstVersion === undefined || afterFirst === undefined) return undefined;
    const eventCount = readUint(bytes, afterFirst);
    const afterCount = skipUint(bytes, afterFirst);
    if (eventCount === undefined || afterCount === undefined) return undefined;
    const end = skipValue(bytes, afterCount, 1);
    if (typeof end === 'string' || !isBin(bytes[afterCount])) return undefined;
    at = end;
    streams.push({ stream, firstVersion, eventCount });
  }
  if (fieldCount === 0x98) {
    if (!isTxnTail(bytes, at)) return undefined;
    at = bytes.length;
  }
  // A prepare's appends are not indexed: its events are nobody's until the outcome.
  return at === bytes.length ? { lsn, term, streams: kind === RecordKind.Prepare ? [] : streams } : undefined;
}

/** Whether the bytes from `at` to the end are one well-formed {@link TxnInfo}: small, so decoded whole. */
function isTxnTail(bytes: Uint8Array, at: number): boolean {
  try {
    return txnFromWire(decoder.decode(bytes.subarray(at))) !== undefined;
  } catch {
    return false;
  }
}

const isBin = (type: number | undefined): boolean => type === 0xc4 || type === 0xc5 || type === 0xc6;

/** Width in bytes of the MessagePack unsigned integer at `at`, type byte included, or undefined. */
function uintWidth(bytes: Uint8Array, at: number): number | undefined {
  const type = bytes[at];
  if (type === undefined) return undefined;
  if (type <= 0x7f) return 1;
  const width = type === 0xcc ? 2 : type === 0xcd ? 3 : type === 0xce ? 5 : type === 0xcf ? 9 : undefined;
  return width !== undefined && at + width <= bytes.length ? width : undefined;
}

function skipUint(bytes: Uint8Array, at: number): number | undefined {
  const width = uintWidth(bytes, at);
  return width === undefined ? undefined : at + width;
}

function readUint(bytes: Uint8Array, at: number): number | undefined {
  const width = uintWidth(bytes, at);
  if (width === undefined) return undefined;
  if (width === 1) return bytes[at]!;
  let value = 0;
  for (let i = 1; i < width; i++) value = value * 256 + bytes[at + i]!;
  return Number.isSafeInteger(value) ? value : undefined;
}

/** Checks a record's length and CRC without decoding the body; returns the body. */
export function verifiedBody(bytes: Uint8Array, lsn: number): Uint8Array {
  if (bytes.length < RECORD_HEADER_BYTES) throw new CorruptRecordError(lsn, `only ${bytes.length} bytes`);
  const bodyBytes = u32le(bytes, 0);
  if (bodyBytes !== bytes.length - RECORD_HEADER_BYTES) {
    throw new CorruptRecordError(lsn, `length prefix says ${bodyBytes} bytes, ${bytes.length - RECORD_HEADER_BYTES} present`);
  }
  const body = bytes.subarray(RECORD_HEADER_BYTES);
  if (crc32c(body) !== u32le(bytes, 4)) throw new CorruptRecordError(lsn, 'CRC mismatch');
  return body;
}

/** Reads a u32 little-endian at `at`; by hand: a DataView per record checked (every read, every record a mirror takes in) cost half as much as its CRC. */
function u32le(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
}

/** The fields of a record body as a commit record; undefined when they are not in its shape. */
function toRecord(fields: unknown, expectedLsn: number): LogRecord | undefined {
  if (!Array.isArray(fields)) return undefined;
  let rest: unknown[];
  let recordKind: LogRecord['kind'] = RecordKind.Commit;
  let txn: TxnInfo | undefined;
  if (fields.length === 6) {
    // Format 1: no kind, and every record a commit.
    rest = fields as unknown[];
  } else {
    const [lsn, term, kind, ...tail] = fields as unknown[];
    if (typeof kind !== 'number') return undefined;
    if (kind !== RecordKind.Commit && kind !== RecordKind.Prepare && kind !== RecordKind.Decide && kind !== RecordKind.Outcome) throw new UnsupportedRecordKindError(expectedLsn, kind);
    recordKind = kind;
    if (kind === RecordKind.Commit ? tail.length !== 4 : tail.length !== 5) return undefined;
    if (kind !== RecordKind.Commit) {
      txn = txnFromWire(tail.pop());
      if (txn === undefined) return undefined;
    }
    rest = [lsn, term, ...tail];
  }
  const [lsn, term, clientId, seq, timestampMs, appends] = rest;
  if (typeof lsn !== 'number' || typeof term !== 'number' || typeof clientId !== 'string') return undefined;
  if (typeof seq !== 'number' || typeof timestampMs !== 'number' || !Array.isArray(appends)) return undefined;
  const decoded: RecordAppend[] = [];
  for (const a of appends as unknown[]) {
    if (!Array.isArray(a) || a.length !== 4) return undefined;
    const [stream, firstVersion, eventCount, events] = a as unknown[];
    if (typeof stream !== 'string' || typeof firstVersion !== 'number' || typeof eventCount !== 'number') return undefined;
    if (!(events instanceof Uint8Array)) return undefined;
    decoded.push({ stream, firstVersion, eventCount, events });
  }
  return txn === undefined ? { lsn, term, kind: recordKind, clientId, seq, timestampMs, appends: decoded } : { lsn, term, kind: recordKind, clientId, seq, timestampMs, appends: decoded, txn };
}
