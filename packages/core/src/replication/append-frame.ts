/**
 * The append message's wire form, written and read without the general MessagePack codec: every
 * record the active ships passes here, on both sides. The bytes are exactly the general
 * encoder's (`[kind, stripe, term, from, prevLsn, prevTerm, commitIndex, termStartLsn,
 * [record…], askedAtMs?]`, each record a bin), so either side may be older; the records go in as
 * the bytes the active already encoded, and come out as views of the frame, never decoded.
 */
import { Encoder } from '@msgpack/msgpack';
import { ByteSlab } from '../log/byte-slab.js';
import { untrustedDecoderLimits } from '../log/events.js';
import { writeArrayHeader, writeBinHeader, writeUint } from '../log/record-writer.js';

/** The active ships records (none: a heartbeat) that follow `(prevLsn, prevTerm)`. */
export interface AppendMessage {
  kind: 'append';
  stripe: number;
  term: number;
  from: string;
  prevLsn: number;
  prevTerm: number;
  commitIndex: number;
  /**
   * The active's last LSN when it took office: every record it holds past it is of its own term,
   * so a mirror drops an older term's records past it (see `Follower.apply`). A voter is sent it
   * with the commit index, to tell whether the commit point is of the active's term (see `election.ts`).
   */
  termStartLsn: number;
  /** Whole encoded records, in LSN order. */
  records: Uint8Array[];
  /**
   * When the active sent this append, in whole ms of its monotonic clock (rounded down): the answer
   * echoes it, and the active's lease counts the answer from then. Only to a member whose welcome
   * said `leaseEcho`; absent from an older active, and to an older member.
   */
  askedAtMs?: number | undefined;
}

const encoder = new Encoder();
/** Frames are carved from slabs: a transport may hold one until its turn ends, but needs no buffer of its own for it. */
const frames = new ByteSlab();
/** A fixarray of the message's 9 fields, or 10 with `askedAtMs`. */
const FIELDS = 0x99;
const FIELDS_ASKED = 0x9a;
/** `'append'` as a fixstr. */
const KIND = [0xa6, ...new TextEncoder().encode('append')];
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Writes an append message: the head through the encoder, the records copied once into the frame. */
export function encodeAppendFrame(m: AppendMessage): Uint8Array {
  const head = encoder.encodeSharedRef([m.kind, m.stripe, m.term, m.from, m.prevLsn, m.prevTerm, m.commitIndex, m.termStartLsn]);
  const count = m.records.length;
  const asked = m.askedAtMs;
  let size = head.length + containerHeaderBytes(count) + (asked === undefined ? 0 : uintBytes(asked));
  for (const record of m.records) size += binHeaderBytes(record.length) + record.length;
  const frame = frames.take(size);
  frame.set(head);
  // The head was written as an array of its 8 fields: the records are the ninth, askedAtMs the tenth.
  frame[0] = asked === undefined ? FIELDS : FIELDS_ASKED;
  let at = writeArrayHeader(frame, head.length, count);
  for (const record of m.records) {
    at = writeBinHeader(frame, at, record.length);
    frame.set(record, at);
    at += record.length;
  }
  if (asked !== undefined) writeUint(frame, at, asked);
  return frame;
}

/**
 * Reads an append message in the form {@link encodeAppendFrame} writes, its records as views of
 * `frame`; undefined for anything else (another kind, or any field not in its usual form), which
 * the general decoder then judges.
 */
export function readAppendFrame(frame: Uint8Array): AppendMessage | undefined {
  const asked = frame[0] === FIELDS_ASKED;
  if ((frame[0] !== FIELDS && !asked) || frame.length < 1 + KIND.length) return undefined;
  for (let i = 0; i < KIND.length; i++) if (frame[1 + i] !== KIND[i]) return undefined;
  const reader = new FrameReader(frame, 1 + KIND.length);
  const stripe = reader.count();
  const term = reader.count();
  const from = reader.name();
  const prevLsn = reader.count();
  const prevTerm = reader.count();
  const commitIndex = reader.count();
  const termStartLsn = reader.count();
  const records = reader.bins();
  const askedAtMs = asked ? reader.count() : undefined;
  if (stripe === undefined || term === undefined || from === undefined || prevLsn === undefined || prevTerm === undefined) return undefined;
  if (commitIndex === undefined || termStartLsn === undefined || records === undefined || (asked && askedAtMs === undefined) || !reader.atEnd()) return undefined;
  return { kind: 'append', stripe, term, from, prevLsn, prevTerm, commitIndex, termStartLsn, records, askedAtMs };
}

/** Reads values in sequence; a value not in the expected form makes every later read undefined. */
class FrameReader {
  constructor(
    private readonly bytes: Uint8Array,
    private at: number,
  ) {}

  atEnd(): boolean {
    return this.at === this.bytes.length;
  }

  /** A non-negative safe integer. */
  count(): number | undefined {
    const { bytes } = this;
    const type = bytes[this.at];
    if (type === undefined) return this.fail();
    if (type <= 0x7f) {
      this.at++;
      return type;
    }
    const width = type === 0xcc ? 1 : type === 0xcd ? 2 : type === 0xce ? 4 : type === 0xcf ? 8 : 0;
    if (width === 0) return this.fail();
    const value = this.uint(this.at + 1, width);
    if (value === undefined || !Number.isSafeInteger(value)) return this.fail();
    this.at += 1 + width;
    return value;
  }

  /** A member's name: a string of 1 to 64 UTF-16 units, as the general decoder checks it. */
  name(): string | undefined {
    const { bytes } = this;
    const type = bytes[this.at];
    if (type === undefined) return this.fail();
    let length: number | undefined;
    let body = this.at + 1;
    if (type >= 0xa0 && type <= 0xbf) length = type & 0x1f;
    else if (type === 0xd9) {
      length = bytes[body];
      body++;
    }
    if (length === undefined || body + length > bytes.length) return this.fail();
    let name: string;
    try {
      name = utf8.decode(bytes.subarray(body, body + length));
    } catch {
      return this.fail();
    }
    if (name.length === 0 || name.length > 64) return this.fail();
    this.at = body + length;
    return name;
  }

  /** An array of bins, as views, within the limits the general decoder keeps. */
  bins(): Uint8Array[] | undefined {
    const { bytes } = this;
    const type = bytes[this.at];
    if (type === undefined) return this.fail();
    let count: number | undefined;
    let at = this.at + 1;
    if (type >= 0x90 && type <= 0x9f) count = type & 0x0f;
    else if (type === 0xdc || type === 0xdd) {
      const width = type === 0xdc ? 2 : 4;
      count = this.uint(at, width);
      at += width;
    }
    if (count === undefined || count > untrustedDecoderLimits.maxArrayLength) return this.fail();
    const out: Uint8Array[] = [];
    for (let i = 0; i < count; i++) {
      const binType = bytes[at];
      const width = binType === 0xc4 ? 1 : binType === 0xc5 ? 2 : binType === 0xc6 ? 4 : 0;
      const length = width === 0 ? undefined : this.uint(at + 1, width);
      if (length === undefined || length > untrustedDecoderLimits.maxBinLength) return this.fail();
      const body = at + 1 + width;
      if (body + length > bytes.length) return this.fail();
      out.push(bytes.subarray(body, body + length));
      at = body + length;
    }
    this.at = at;
    return out;
  }

  /** A big-endian unsigned integer of `width` bytes at `at`, or undefined past the end. */
  private uint(at: number, width: number): number | undefined {
    if (at + width > this.bytes.length) return undefined;
    let value = 0;
    for (let i = 0; i < width; i++) value = value * 256 + this.bytes[at + i]!;
    return value;
  }

  private fail(): undefined {
    this.at = Number.NaN;
    return undefined;
  }
}

function containerHeaderBytes(count: number): number {
  return count < 16 ? 1 : count < 0x10000 ? 3 : 5;
}

function uintBytes(n: number): number {
  return n < 0x80 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n < 0x1_0000_0000 ? 5 : 9;
}

function binHeaderBytes(length: number): number {
  return length < 0x100 ? 2 : length < 0x10000 ? 3 : 5;
}
