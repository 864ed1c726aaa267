/**
 * Writes a record's bytes by hand: every transaction passes here, and the general MessagePack
 * encoder cost more than the rest of the commit path (arrays built only to be encoded, a type
 * test per value, the body copied once more behind its header). A transaction over several
 * stripes writes three records (prepare, decide, outcome), so its steps take this way too.
 *
 * The bytes are those the general encoder writes for the same record (smallest integer, string
 * and array forms), so any reader of the format reads them. Records are carved out of shared
 * slabs instead of a buffer each: a buffer of its own per record is a native allocation the
 * collector must also track and free.
 */
import { crc32c } from '../crc32c.js';
import { ByteSlab } from './byte-slab.js';

const records = new ByteSlab();

/** A transaction step's eighth field, as {@link writeRecord} reads it (see `TxnInfo`). */
export interface TxnFields {
  id: string;
  coordinator: number;
  participants: readonly number[];
  decision: number;
  prepareLsn: number;
  streams: ReadonlyArray<{ stream: string; firstVersion: number; eventCount: number }>;
}

/** What a record holds, as {@link writeRecord} reads it: a commit, or a transaction step with `txn`. */
export interface RecordFields {
  lsn: number;
  term: number;
  kind: number;
  clientId: string;
  seq: number;
  timestampMs: number;
  appends: ReadonlyArray<{ stream: string; firstVersion: number; eventCount: number; events: Uint8Array }>;
  txn?: TxnFields;
}

/**
 * The whole record (`u32le bodyBytes | u32le crc32c(body) | body`), or undefined when a field is
 * outside what this writer handles (a number that is not a non-negative safe integer): the caller
 * then uses the general encoder.
 */
export function writeRecord(record: RecordFields, headerBytes: number): Uint8Array | undefined {
  const { appends, txn } = record;
  if (!isCount(record.lsn) || !isCount(record.term) || !isCount(record.kind) || !isCount(record.seq) || !isCount(record.timestampMs)) return undefined;
  // An upper bound: integers 9 bytes, strings 3 UTF-8 bytes per UTF-16 unit plus a 5-byte header.
  let bound = headerBytes + 1 + 5 * 9 + stringBound(record.clientId) + 5;
  for (let i = 0; i < appends.length; i++) {
    const a = appends[i]!;
    if (!isCount(a.firstVersion) || !isCount(a.eventCount)) return undefined;
    bound += 1 + stringBound(a.stream) + 2 * 9 + 5 + a.events.length;
  }
  if (txn) {
    const more = txnBound(txn);
    if (more === undefined) return undefined;
    bound += more;
  }
  const target = records.reserve(bound);
  const start = records.reservedAt;
  let at = start + headerBytes;
  target[at++] = txn ? 0x98 : 0x97;
  at = writeUint(target, at, record.lsn);
  at = writeUint(target, at, record.term);
  at = writeUint(target, at, record.kind);
  at = writeString(target, at, record.clientId);
  at = writeUint(target, at, record.seq);
  at = writeUint(target, at, record.timestampMs);
  at = writeArrayHeader(target, at, appends.length);
  for (let i = 0; i < appends.length; i++) {
    const a = appends[i]!;
    target[at++] = 0x94;
    at = writeString(target, at, a.stream);
    at = writeUint(target, at, a.firstVersion);
    at = writeUint(target, at, a.eventCount);
    at = writeBinary(target, at, a.events);
  }
  if (txn) at = writeTxn(target, at, txn);
  const bytes = records.keep(target, at);
  const bodyBytes = at - start - headerBytes;
  putU32le(bytes, 0, bodyBytes);
  putU32le(bytes, 4, crc32c(bytes.subarray(headerBytes)));
  return bytes;
}

const isCount = (n: number): boolean => Number.isSafeInteger(n) && n >= 0;

/** The most bytes {@link writeTxn} writes for `txn`, or undefined when a number is outside what it handles. */
function txnBound(txn: TxnFields): number | undefined {
  if (!isCount(txn.coordinator) || !isCount(txn.decision) || !isCount(txn.prepareLsn)) return undefined;
  let bound = 1 + stringBound(txn.id) + 3 * 9 + 5 + 5;
  for (const p of txn.participants) {
    if (!isCount(p)) return undefined;
    bound += 9;
  }
  for (const s of txn.streams) {
    if (!isCount(s.firstVersion) || !isCount(s.eventCount)) return undefined;
    bound += 1 + stringBound(s.stream) + 2 * 9;
  }
  return bound;
}

/** `[id, coordinator, participants, decision, prepareLsn, [[stream, firstVersion, eventCount]…]]`; returns the offset after it. */
function writeTxn(target: Uint8Array, at: number, txn: TxnFields): number {
  target[at++] = 0x96;
  at = writeString(target, at, txn.id);
  at = writeUint(target, at, txn.coordinator);
  at = writeArrayHeader(target, at, txn.participants.length);
  for (const p of txn.participants) at = writeUint(target, at, p);
  at = writeUint(target, at, txn.decision);
  at = writeUint(target, at, txn.prepareLsn);
  at = writeArrayHeader(target, at, txn.streams.length);
  for (const s of txn.streams) {
    target[at++] = 0x93;
    at = writeString(target, at, s.stream);
    at = writeUint(target, at, s.firstVersion);
    at = writeUint(target, at, s.eventCount);
  }
  return at;
}

/** The most bytes {@link writeString} writes for `text`: 3 UTF-8 bytes per UTF-16 unit plus a 5-byte header. */
export const stringBound = (text: string): number => 5 + 3 * text.length;

/** A non-negative safe integer in its smallest form; returns the offset after it. */
export function writeUint(target: Uint8Array, at: number, n: number): number {
  if (n < 0x80) {
    target[at] = n;
    return at + 1;
  }
  if (n < 0x100) {
    target[at] = 0xcc;
    target[at + 1] = n;
    return at + 2;
  }
  if (n < 0x10000) {
    target[at] = 0xcd;
    target[at + 1] = n >>> 8;
    target[at + 2] = n & 0xff;
    return at + 3;
  }
  if (n < 0x1_0000_0000) {
    target[at] = 0xce;
    putU32be(target, at + 1, n);
    return at + 5;
  }
  target[at] = 0xcf;
  putU32be(target, at + 1, Math.floor(n / 0x1_0000_0000));
  putU32be(target, at + 5, n >>> 0);
  return at + 9;
}

/** An array's header for `length` items in its smallest form; returns the offset after it. */
export function writeArrayHeader(target: Uint8Array, at: number, length: number): number {
  if (length < 16) {
    target[at] = 0x90 | length;
    return at + 1;
  }
  if (length < 0x10000) {
    target[at] = 0xdc;
    target[at + 1] = length >>> 8;
    target[at + 2] = length & 0xff;
    return at + 3;
  }
  target[at] = 0xdd;
  putU32be(target, at + 1, length);
  return at + 5;
}

const utf8 = new TextEncoder();

/** A string: ASCII by hand (stream names and client ids nearly always are), anything else through TextEncoder. */
export function writeString(target: Uint8Array, at: number, text: string): number {
  const length = text.length;
  let ascii = true;
  for (let i = 0; i < length; i++) {
    if (text.charCodeAt(i) >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) {
    at = writeStringHeader(target, at, length);
    for (let i = 0; i < length; i++) target[at + i] = text.charCodeAt(i);
    return at + length;
  }
  const bytes = utf8.encode(text);
  at = writeStringHeader(target, at, bytes.length);
  target.set(bytes, at);
  return at + bytes.length;
}

function writeStringHeader(target: Uint8Array, at: number, length: number): number {
  if (length < 32) {
    target[at] = 0xa0 | length;
    return at + 1;
  }
  if (length < 0x100) {
    target[at] = 0xd9;
    target[at + 1] = length;
    return at + 2;
  }
  if (length < 0x10000) {
    target[at] = 0xda;
    target[at + 1] = length >>> 8;
    target[at + 2] = length & 0xff;
    return at + 3;
  }
  target[at] = 0xdb;
  putU32be(target, at + 1, length);
  return at + 5;
}

function writeBinary(target: Uint8Array, at: number, bytes: Uint8Array): number {
  at = writeBinHeader(target, at, bytes.length);
  target.set(bytes, at);
  return at + bytes.length;
}

/** A bin's header for `length` bytes in its smallest form; returns the offset after it, where the bytes go. */
export function writeBinHeader(target: Uint8Array, at: number, length: number): number {
  if (length < 0x100) {
    target[at] = 0xc4;
    target[at + 1] = length;
    return at + 2;
  }
  if (length < 0x10000) {
    target[at] = 0xc5;
    target[at + 1] = length >>> 8;
    target[at + 2] = length & 0xff;
    return at + 3;
  }
  target[at] = 0xc6;
  putU32be(target, at + 1, length);
  return at + 5;
}

function putU32be(target: Uint8Array, at: number, value: number): void {
  target[at] = value >>> 24;
  target[at + 1] = (value >>> 16) & 0xff;
  target[at + 2] = (value >>> 8) & 0xff;
  target[at + 3] = value & 0xff;
}

/** Writes a u32 little-endian at `at`; by hand, as a DataView per record costs more than the header. */
export function putU32le(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value & 0xff;
  bytes[at + 1] = (value >>> 8) & 0xff;
  bytes[at + 2] = (value >>> 16) & 0xff;
  bytes[at + 3] = value >>> 24;
}
