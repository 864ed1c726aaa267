/**
 * The hot operation's frames by hand: a `transact` request read straight from the frame's bytes,
 * and its result written straight into bytes. Every append passes here, and the general path
 * (shape pre-scan, generic decode into arrays, then the argument checks; arrays built only to be
 * encoded on the way back) cost more than committing.
 *
 * The reader takes only the common form and leaves everything else to the general path:
 * `undefined` means "not read here", never "refused". So what it accepts is exactly a request the
 * general path accepts, read to the same values, and every refusal (a malformed frame, a bad
 * argument) still comes from the general path with its own message. Names are read only when
 * ASCII, which is well-formed Unicode and decodes the same in any UTF-8 decoder.
 */
import { untrustedDecoderLimits } from '../log/events.js';
import { ByteSlab } from '../log/byte-slab.js';
import { stringBound, writeArrayHeader, writeString, writeUint } from '../log/record-writer.js';
import { FrameKind } from './frames.js';
import { CLIENT_ID_LENGTH_MAX, type TransactionAppend, type TransactionRequest, type TransactionResult } from './messages.js';

/** A `transact` request read from a frame, with the id its answer carries. */
export interface TransactFrame {
  id: number;
  request: TransactionRequest;
}

/** `[REQUEST, id, "transact", …]`: a fixarray of 4, the kind, then (after the id) the op as a fixstr. */
const OP = [0xa8, ...Array.from('transact', (c) => c.charCodeAt(0))];

/** A cursor over one frame; `at` is -1 once something is not in the common form. */
export class FrameReader {
  at = 0;
  constructor(readonly bytes: Uint8Array) {}

  get ok(): boolean {
    return this.at >= 0;
  }

  private fail(): void {
    this.at = -1;
  }

  /** A non-negative safe integer. */
  uint(): number {
    const { bytes } = this;
    const type = bytes[this.at];
    if (type === undefined) return this.fail(), 0;
    if (type <= 0x7f) {
      this.at++;
      return type;
    }
    const width = type === 0xcc ? 1 : type === 0xcd ? 2 : type === 0xce ? 4 : type === 0xcf ? 8 : 0;
    if (width === 0 || this.at + 1 + width > bytes.length) return this.fail(), 0;
    let value = 0;
    for (let i = 1; i <= width; i++) value = value * 256 + bytes[this.at + i]!;
    if (!Number.isSafeInteger(value)) return this.fail(), 0;
    this.at += 1 + width;
    return value;
  }

  /** An array's length (fixarray or array 16). */
  arrayLength(): number {
    const type = this.bytes[this.at];
    if (type !== undefined && type >= 0x90 && type <= 0x9f) {
      this.at++;
      return type & 0x0f;
    }
    if (type === 0xdc && this.at + 3 <= this.bytes.length) {
      const length = (this.bytes[this.at + 1]! << 8) | this.bytes[this.at + 2]!;
      this.at += 3;
      return length;
    }
    return this.fail(), 0;
  }

  /** True when a string comes next (without reading it). */
  atString(): boolean {
    const type = this.bytes[this.at];
    return type !== undefined && ((type >= 0xa0 && type <= 0xbf) || type === 0xd9 || type === 0xda);
  }

  /** An ASCII string (fixstr, str 8 or str 16) of at most `max` characters. */
  ascii(max: number): string {
    const { bytes } = this;
    const type = bytes[this.at]!;
    let length: number;
    let start: number;
    if (type >= 0xa0 && type <= 0xbf) {
      length = type & 0x1f;
      start = this.at + 1;
    } else if (type === 0xd9 && this.at + 2 <= bytes.length) {
      length = bytes[this.at + 1]!;
      start = this.at + 2;
    } else if (type === 0xda && this.at + 3 <= bytes.length) {
      length = (bytes[this.at + 1]! << 8) | bytes[this.at + 2]!;
      start = this.at + 3;
    } else return this.fail(), '';
    const end = start + length;
    if (length > max || end > bytes.length) return this.fail(), '';
    let hash = length;
    for (let i = start; i < end; i++) {
      const byte = bytes[i]!;
      if (byte >= 0x80) return this.fail(), '';
      hash = Math.imul(hash ^ byte, 0x01000193);
    }
    this.at = end;
    return length <= NAME_LENGTH_INTERNED_MAX ? interned(bytes, start, end, hash) : latin1.decode(bytes.subarray(start, end));
  }

  /** A binary (bin 8, 16 or 32) as a view of the frame, as the general decoder gives it. */
  binary(): Uint8Array {
    const { bytes } = this;
    const type = bytes[this.at];
    const width = type === 0xc4 ? 1 : type === 0xc5 ? 2 : type === 0xc6 ? 4 : 0;
    if (width === 0 || this.at + 1 + width > bytes.length) return this.fail(), EMPTY;
    let length = 0;
    for (let i = 1; i <= width; i++) length = length * 256 + bytes[this.at + i]!;
    const start = this.at + 1 + width;
    if (length > untrustedDecoderLimits.maxBinLength || start + length > bytes.length) return this.fail(), EMPTY;
    this.at = start + length;
    return bytes.subarray(start, start + length);
  }

  /** Skips the exact bytes `expected`. */
  literal(expected: readonly number[]): void {
    const { bytes } = this;
    if (this.at + expected.length > bytes.length) return this.fail();
    for (let i = 0; i < expected.length; i++) if (bytes[this.at + i] !== expected[i]) return this.fail();
    this.at += expected.length;
  }
}

const EMPTY = new Uint8Array(0);
// ASCII bytes read the same as Latin-1, and this decoder never fails.
const latin1 = new TextDecoder('latin1');

/**
 * Short names read lately (client ids, stream names), by a hash of their bytes: a name read again
 * is the string read before, which costs no allocation, and whose hash the maps it keys have
 * already computed. A slot holds the last name that hashed to it.
 */
const NAME_SLOTS = 4096;
const NAME_LENGTH_INTERNED_MAX = 64;
const names: string[] = new Array<string>(NAME_SLOTS).fill('');

/** The ASCII text of `bytes[start, end)`, as the string read before when the slot of `hash` holds it. */
function interned(bytes: Uint8Array, start: number, end: number, hash: number): string {
  const slot = hash & (NAME_SLOTS - 1);
  const known = names[slot]!;
  if (known.length === end - start) {
    let same = true;
    for (let i = start; i < end && same; i++) same = known.charCodeAt(i - start) === bytes[i];
    if (same) return known;
  }
  const text = latin1.decode(bytes.subarray(start, end));
  names[slot] = text;
  return text;
}

/**
 * A `transact` request in the common form, or undefined for anything else (another operation, or
 * a form or value the general path must judge).
 * @param streamsMax the most streams a transaction may name (more: the general path refuses it)
 */
export function readTransactFrame(frame: Uint8Array, streamsMax: number): TransactFrame | undefined {
  if (frame[0] !== 0x94 || frame[1] !== FrameKind.Request) return undefined;
  const reader = new FrameReader(frame);
  reader.at = 2;
  const id = reader.uint();
  reader.literal(OP);
  if (!reader.ok) return undefined;
  const request = readTransaction(reader, streamsMax);
  if (!request || reader.at !== frame.length) return undefined;
  return { id, request };
}

/** `[clientId, seq, appends]` in the common form at the reader's place, or undefined (see {@link readTransactFrame}). */
export function readTransaction(reader: FrameReader, streamsMax: number): TransactionRequest | undefined {
  if (reader.arrayLength() !== 3 || !reader.atString()) return undefined;
  const clientId = reader.ascii(CLIENT_ID_LENGTH_MAX);
  const seq = reader.uint();
  const count = reader.arrayLength();
  if (!reader.ok || clientId.length === 0 || count === 0 || count > streamsMax) return undefined;
  const appends = new Array<TransactionAppend>(count);
  for (let i = 0; i < count; i++) {
    const items = reader.arrayLength();
    if (!reader.ok || (items !== 2 && items !== 3) || !reader.atString()) return undefined;
    const stream = reader.ascii(untrustedDecoderLimits.maxStrLength);
    const expectedVersion = reader.atString() ? expectedName(reader.ascii(9)) : reader.uint();
    if (!reader.ok || stream.length === 0 || expectedVersion === undefined) return undefined;
    appends[i] = items === 2 ? { stream, expectedVersion } : { stream, expectedVersion, events: reader.binary() };
  }
  return reader.ok ? { clientId, seq, appends } : undefined;
}

function expectedName(name: string): 'any' | 'no-stream' | 'exists' | undefined {
  return name === 'any' || name === 'no-stream' || name === 'exists' ? name : undefined;
}

const results = new ByteSlab();

/**
 * `[RESULT, id, [lsn, [[stream, firstVersion, eventCount]…]]]`, the bytes the general encoder
 * writes for it, carved from a shared slab: the connection may hold a frame until its turn ends,
 * so each gets bytes of its own, but not a buffer of its own.
 */
export function writeTransactResult(id: number, result: TransactionResult): Uint8Array {
  const { streams } = result;
  // An upper bound: integers 9 bytes, strings 3 UTF-8 bytes per UTF-16 unit plus a 5-byte header.
  let bound = 1 + 1 + 9 + 1 + 9 + 5;
  for (let i = 0; i < streams.length; i++) bound += 1 + stringBound(streams[i]!.stream) + 2 * 9;
  const target = results.reserve(bound);
  let at = results.reservedAt;
  target[at++] = 0x93;
  target[at++] = FrameKind.Result;
  at = writeUint(target, at, id);
  target[at++] = 0x92;
  at = writeUint(target, at, result.lsn);
  at = writeArrayHeader(target, at, streams.length);
  for (let i = 0; i < streams.length; i++) {
    const range = streams[i]!;
    target[at++] = 0x93;
    at = writeString(target, at, range.stream);
    at = writeUint(target, at, range.firstVersion);
    at = writeUint(target, at, range.eventCount);
  }
  return results.keep(target, at);
}
