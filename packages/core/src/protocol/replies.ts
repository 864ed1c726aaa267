/**
 * The results of operations as they travel inside result and events frames: the server's
 * encoders, and the client's decoders. The client trusts no reply: a decoder checks every field
 * and throws `ProtocolError` on anything the encoder here could not have produced.
 */
import { ProtocolError } from '../errors.js';
import { eventRowsProblem } from '../log/msgpack-shape.js';
import type { DivergedEntry, ForcedDecision } from '../replication/diverged-report.js';
import { viewFromWire, viewToWire, type GroupView } from '../replication/group-view.js';
import type { EventSlice, LogDigest, TransactionResult } from './messages.js';

/** One page of a stream read. */
export interface ReadPage {
  slices: EventSlice[];
  /** True when the server's byte cap ended the page before `maxCount` events: read on. */
  truncated: boolean;
}

/** One chunk of the whole log: slices, and the LSN the next chunk starts at. */
export interface ReadAllChunk {
  slices: EventSlice[];
  next: number;
}

/** Checks of untrusted replies: each names the reply and the field that broke a rule. */
export class ReplyReader {
  constructor(private readonly reply: string) {}

  fail(field: string, rule: string): never {
    throw new ProtocolError(`malformed ${this.reply} reply: ${field} ${rule}`);
  }

  tuple(value: unknown, field: string, length: number): unknown[] {
    if (!Array.isArray(value) || value.length !== length) this.fail(field, `must be an array of ${length} items`);
    return value;
  }

  array(value: unknown, field: string): unknown[] {
    if (!Array.isArray(value)) this.fail(field, 'must be an array');
    return value;
  }

  count(value: unknown, field: string): number {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) this.fail(field, 'must be a non-negative integer');
    return value;
  }

  /** A time in ms since the epoch. */
  time(value: unknown, field: string): number {
    if (typeof value !== 'number' || !Number.isFinite(value)) this.fail(field, 'must be a time in ms');
    return value;
  }

  string(value: unknown, field: string): string {
    if (typeof value !== 'string') this.fail(field, 'must be a string');
    return value;
  }

  boolean(value: unknown, field: string): boolean {
    if (typeof value !== 'boolean') this.fail(field, 'must be a boolean');
    return value;
  }

  bytes(value: unknown, field: string): Uint8Array {
    if (!(value instanceof Uint8Array)) this.fail(field, 'must be bytes');
    return value;
  }

  map(value: unknown, field: string): Record<string, unknown> {
    if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) this.fail(field, 'must be a map');
    return value as Record<string, unknown>;
  }
}

/** The result of an operation that answers only that it is done. */
export function nilFromWire(value: unknown): null {
  if (value !== null) new ReplyReader('nil').fail('result', 'must be nil');
  return null;
}

export const transactionResultToWire = (r: TransactionResult): unknown[] => [r.lsn, r.streams.map((s) => [s.stream, s.firstVersion, s.eventCount])];

export function transactionResultFromWire(value: unknown): TransactionResult {
  // Every transaction's answer passes here: a well-formed one is read without the reader below,
  // which builds each field's name for its error message.
  if (Array.isArray(value) && value.length === 2 && isCount(value[0]) && Array.isArray(value[1]) && value[1].every(isRangeWire)) {
    return { lsn: value[0], streams: value[1].map(([stream, firstVersion, eventCount]: [string, number, number]) => ({ stream, firstVersion, eventCount })) };
  }
  const check = new ReplyReader('transact');
  const [lsn, streams] = check.tuple(value, 'result', 2);
  return {
    lsn: check.count(lsn, 'lsn'),
    streams: check.array(streams, 'streams').map((s, i) => {
      const [stream, firstVersion, eventCount] = check.tuple(s, `streams[${i}]`, 3);
      return { stream: check.string(stream, `streams[${i}].stream`), firstVersion: check.count(firstVersion, `streams[${i}].firstVersion`), eventCount: check.count(eventCount, `streams[${i}].eventCount`) };
    }),
  };
}

const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
const isRangeWire = (value: unknown): boolean => Array.isArray(value) && value.length === 3 && typeof value[0] === 'string' && isCount(value[1]) && isCount(value[2]);

/** `[lsn, stream, firstVersion, eventCount, timestampMs, events]`, then `transaction` (or null) and `recordOffset` where set. */
export function sliceToWire(s: EventSlice): unknown[] {
  const wire: unknown[] = [s.lsn, s.stream, s.firstVersion, s.eventCount, s.timestampMs, s.events];
  const transaction = s.transaction === undefined ? undefined : [s.transaction.id, s.transaction.stripes];
  if (s.recordOffset !== undefined) wire.push(transaction ?? null, s.recordOffset);
  else if (transaction !== undefined) wire.push(transaction);
  return wire;
}

/** Slices as reads and events frames carry them; each slice's events blob must hold exactly its `eventCount` events. */
export function slicesFromWire(value: unknown, reply: string): EventSlice[] {
  const check = new ReplyReader(reply);
  return check.array(value, 'slices').map((s, i) => {
    const [lsn, stream, firstVersion, eventCount, timestampMs, events, transaction, recordOffset] = Array.isArray(s) && (s.length === 7 || s.length === 8) ? s : check.tuple(s, `slices[${i}]`, 6);
    const slice: EventSlice = {
      lsn: check.count(lsn, `slices[${i}].lsn`),
      stream: check.string(stream, `slices[${i}].stream`),
      firstVersion: check.count(firstVersion, `slices[${i}].firstVersion`),
      eventCount: check.count(eventCount, `slices[${i}].eventCount`),
      timestampMs: check.time(timestampMs, `slices[${i}].timestampMs`),
      events: check.bytes(events, `slices[${i}].events`),
    };
    if (recordOffset !== undefined) slice.recordOffset = check.count(recordOffset, `slices[${i}].recordOffset`);
    if (transaction !== undefined && (transaction !== null || recordOffset === undefined)) {
      const [id, stripes] = check.tuple(transaction, `slices[${i}].transaction`, 2);
      slice.transaction = { id: check.string(id, `slices[${i}].transaction.id`), stripes: check.count(stripes, `slices[${i}].transaction.stripes`) };
    }
    const rows = eventRowsProblem(slice.events);
    if (typeof rows === 'string') check.fail(`slices[${i}].events`, rows);
    if (rows !== slice.eventCount) check.fail(`slices[${i}].events`, `must hold eventCount (${slice.eventCount}) events, not ${rows}`);
    return slice;
  });
}

export const readPageToWire = (page: ReadPage): unknown[] => [page.slices.map(sliceToWire), page.truncated];

export function readPageFromWire(value: unknown): ReadPage {
  const check = new ReplyReader('read');
  const [slices, truncated] = check.tuple(value, 'page', 2);
  return { slices: slicesFromWire(slices, 'read'), truncated: check.boolean(truncated, 'truncated') };
}

export const readAllChunkToWire = (chunk: ReadAllChunk): unknown[] => [chunk.slices.map(sliceToWire), chunk.next];

export function readAllChunkFromWire(value: unknown): ReadAllChunk {
  const check = new ReplyReader('readAll');
  const [slices, next] = check.tuple(value, 'chunk', 2);
  return { slices: slicesFromWire(slices, 'readAll'), next: check.count(next, 'next') };
}

export const logDigestToWire = (d: LogDigest): unknown[] => [d.throughLsn, d.digest];

export function logDigestFromWire(value: unknown): LogDigest {
  const check = new ReplyReader('logDigest');
  const [throughLsn, digest] = check.tuple(value, 'digest', 2);
  const crc = check.count(digest, 'digest');
  if (crc > 0xffff_ffff) check.fail('digest', 'must be a 32-bit CRC');
  return { throughLsn: check.count(throughLsn, 'throughLsn'), digest: crc };
}

export function divergedEntryToWire(entry: DivergedEntry | undefined): unknown {
  if (!entry) return null;
  const wire: unknown[] = [entry.index, entry.atMs, entry.replacedInTerm, entry.records.map((r) => [r.lsn, r.bytes])];
  if (entry.forcedByOperator) wire.push([entry.forcedByOperator.txnId, entry.forcedByOperator.decision]);
  return wire;
}

/** One entry of the diverged report, or undefined past the last. */
export function divergedEntryFromWire(value: unknown): DivergedEntry | undefined {
  if (value === null) return undefined;
  const check = new ReplyReader('diverged');
  // A fifth item: an operator's forced decision.
  const [index, atMs, replacedInTerm, records, forced] = Array.isArray(value) && value.length === 5 ? value : check.tuple(value, 'entry', 4);
  return {
    ...(forced === undefined ? {} : { forcedByOperator: forcedDecisionFromWire(check, forced) }),
    index: check.count(index, 'index'),
    atMs: check.time(atMs, 'atMs'),
    replacedInTerm: check.count(replacedInTerm, 'replacedInTerm'),
    records: check.array(records, 'records').map((r, i) => {
      const [lsn, bytes] = check.tuple(r, `records[${i}]`, 2);
      return { lsn: check.count(lsn, `records[${i}].lsn`), bytes: check.bytes(bytes, `records[${i}].bytes`) };
    }),
  };
}

function forcedDecisionFromWire(check: ReplyReader, value: unknown): ForcedDecision {
  const [txnId, decision] = check.tuple(value, 'forcedByOperator', 2);
  if (decision !== 'commit' && decision !== 'abort') check.fail('forcedByOperator.decision', "must be 'commit' or 'abort'");
  return { txnId: check.string(txnId, 'forcedByOperator.txnId'), decision };
}

export const groupViewToWire = viewToWire;

/** The view a membership change recorded. */
export function groupViewFromWire(value: unknown): GroupView {
  const check = new ReplyReader('membership');
  // Only views in store metadata may be of the older three-field form.
  return viewFromWire(check.tuple(value, 'view', 4)) ?? check.fail('view', 'must be a group view');
}
