/**
 * The frames servers send each other for every transaction over several stripes, by hand: a
 * `prepare` request and its vote (the part's stream ranges), a `decide` request and its empty
 * answer. Each crosses once per transaction on the coordinator's and the participant's actives,
 * and the general path (encode through the generic codec, shape pre-scan, generic decode, then the
 * argument checks) cost them more than the rest of the exchange.
 *
 * The bytes are the general form's, so a server that reads only that form reads these, and one
 * that writes only that form is read here: nothing to announce. As in `transact-frames.ts`, a
 * reader takes only the common form: `undefined` means "not read here", never "refused", and the
 * frame then goes the general way, which accepts or refuses it with its own error.
 */
import { TXN_ID_LENGTH_MAX } from '../limits.js';
import { ByteSlab } from '../log/byte-slab.js';
import { Decision, type StreamEntry } from '../log/record.js';
import { stringBound, writeArrayHeader, writeBinHeader, writeString, writeUint } from '../log/record-writer.js';
import { FrameKind } from './frames.js';
import { FrameReader, readTransaction } from './transact-frames.js';
import type { DecideRequest, PrepareRequest } from './txn-messages.js';

export type { FrameReader };

/** A request read from a frame, with the id its answer carries. */
export interface TxnFrame<T> {
  id: number;
  request: T;
}

const ascii = (text: string): number[] => Array.from(text, (c) => c.charCodeAt(0));
/** The op as a fixstr, after `[REQUEST, id`. */
const PREPARE = [0xa0 | 'prepare'.length, ...ascii('prepare')];
const DECIDE = [0xa0 | 'decide'.length, ...ascii('decide')];
/** Integers take 9 bytes at most. */
const UINT = 9;

/** `[REQUEST, id, op, …` up to the arguments; undefined when the frame is not a request for `op`. */
function requestFor(frame: Uint8Array, op: readonly number[]): { id: number; reader: FrameReader } | undefined {
  if (frame[0] !== 0x94 || frame[1] !== FrameKind.Request) return undefined;
  const reader = new FrameReader(frame);
  reader.at = 2;
  const id = reader.uint();
  reader.literal(op);
  return reader.ok ? { id, reader } : undefined;
}

/** Writes `[REQUEST, id, op, ` (up to the arguments) at `at`, the head {@link requestFor} reads; returns where the arguments start. */
function writeRequestHead(target: Uint8Array, at: number, id: number, op: readonly number[]): number {
  target[at++] = 0x94;
  target[at++] = FrameKind.Request;
  at = writeUint(target, at, id);
  target.set(op, at);
  return at + op.length;
}

/**
 * `[REQUEST, id, "prepare", [txnId, coordinator, participants, part]]` in the common form, or
 * undefined for anything else (another operation, or what `prepareFromWire` must judge).
 * @param streamsMax the most streams a part may name
 */
export function readPrepareFrame(frame: Uint8Array, streamsMax: number): TxnFrame<PrepareRequest> | undefined {
  const head = requestFor(frame, PREPARE);
  if (!head) return undefined;
  const { reader } = head;
  if (reader.arrayLength() !== 4) return undefined;
  const txnId = reader.ascii(TXN_ID_LENGTH_MAX);
  const coordinator = reader.uint();
  const count = reader.arrayLength();
  if (!reader.ok || txnId.length === 0 || count < 2) return undefined;
  const participants = new Array<number>(count);
  for (let i = 0; i < count; i++) participants[i] = reader.uint();
  if (!reader.ok || participants[0] !== coordinator) return undefined;
  const part = readTransaction(reader, streamsMax);
  if (!part || reader.at !== frame.length) return undefined;
  return { id: head.id, request: { txnId, coordinator, participants, part } };
}

/** `[REQUEST, id, "decide", [txnId, decision]]` in the common form, or undefined for anything else. */
export function readDecideFrame(frame: Uint8Array): TxnFrame<DecideRequest> | undefined {
  const head = requestFor(frame, DECIDE);
  if (!head) return undefined;
  const { reader } = head;
  if (reader.arrayLength() !== 2) return undefined;
  const txnId = reader.ascii(TXN_ID_LENGTH_MAX);
  const decision = reader.uint();
  if (!reader.ok || reader.at !== frame.length || txnId.length === 0) return undefined;
  if (decision !== Decision.Commit && decision !== Decision.Abort) return undefined;
  return { id: head.id, request: { txnId, decision } };
}

// Requests are kept until answered (a reconnect resends the same bytes) and answers may wait in a
// send queue: each frame gets bytes of its own, carved from a shared slab.
const slab = new ByteSlab();

/** The bytes of a `prepare` request, as the general encoder writes them. */
export function writePrepareFrame(id: number, request: PrepareRequest): Uint8Array {
  const { txnId, participants, part } = request;
  let bound = 3 + UINT + PREPARE.length + 1 + stringBound(txnId) + UINT + 5 + participants.length * UINT + 1 + stringBound(part.clientId) + UINT + 5;
  for (const append of part.appends) {
    bound += 1 + stringBound(append.stream) + stringBound('no-stream') + UINT + 5 + (append.events?.length ?? 0);
  }
  const target = slab.reserve(bound);
  let at = writeRequestHead(target, slab.reservedAt, id, PREPARE);
  target[at++] = 0x94;
  at = writeString(target, at, txnId);
  at = writeUint(target, at, request.coordinator);
  at = writeArrayHeader(target, at, participants.length);
  for (const p of participants) at = writeUint(target, at, p);
  target[at++] = 0x93;
  at = writeString(target, at, part.clientId);
  at = writeUint(target, at, part.seq);
  at = writeArrayHeader(target, at, part.appends.length);
  for (const { stream, expectedVersion, events } of part.appends) {
    target[at++] = events ? 0x93 : 0x92;
    at = writeString(target, at, stream);
    at = typeof expectedVersion === 'number' ? writeUint(target, at, expectedVersion) : writeString(target, at, expectedVersion);
    if (events) {
      at = writeBinHeader(target, at, events.length);
      target.set(events, at);
      at += events.length;
    }
  }
  return slab.keep(target, at);
}

/** The bytes of a `decide` request, as the general encoder writes them. */
export function writeDecideFrame(id: number, request: DecideRequest): Uint8Array {
  const target = slab.reserve(3 + UINT + DECIDE.length + 1 + stringBound(request.txnId) + 1);
  let at = writeRequestHead(target, slab.reservedAt, id, DECIDE);
  target[at++] = 0x92;
  at = writeString(target, at, request.txnId);
  target[at++] = request.decision;
  return slab.keep(target, at);
}

/** `[RESULT, id, [[stream, firstVersion, eventCount]…]]`: a participant's yes vote. */
export function writeVoteFrame(id: number, entries: readonly StreamEntry[]): Uint8Array {
  let bound = 2 + UINT + 5;
  for (const entry of entries) bound += 1 + stringBound(entry.stream) + 2 * UINT;
  const target = slab.reserve(bound);
  let at = slab.reservedAt;
  target[at++] = 0x93;
  target[at++] = FrameKind.Result;
  at = writeUint(target, at, id);
  at = writeArrayHeader(target, at, entries.length);
  for (const entry of entries) {
    target[at++] = 0x93;
    at = writeString(target, at, entry.stream);
    at = writeUint(target, at, entry.firstVersion);
    at = writeUint(target, at, entry.eventCount);
  }
  return slab.keep(target, at);
}

/** `[RESULT, id, nil]`: a `decide` answered. */
export function writeDecidedFrame(id: number): Uint8Array {
  const target = slab.reserve(3 + UINT);
  let at = slab.reservedAt;
  target[at++] = 0x93;
  target[at++] = FrameKind.Result;
  at = writeUint(target, at, id);
  target[at++] = 0xc0;
  return slab.keep(target, at);
}

/** A result frame's request id, with a reader where its result starts; undefined for any other frame. */
export function readResultHead(frame: Uint8Array): { id: number; reader: FrameReader } | undefined {
  if (frame[0] !== 0x93 || frame[1] !== FrameKind.Result) return undefined;
  const reader = new FrameReader(frame);
  reader.at = 2;
  const id = reader.uint();
  return reader.ok ? { id, reader } : undefined;
}

/** A vote's stream ranges, from `reader` (see {@link readResultHead}) to the frame's end; undefined when not in the common form. */
export function readVote(reader: FrameReader): StreamEntry[] | undefined {
  const count = reader.arrayLength();
  if (!reader.ok) return undefined;
  const entries = new Array<StreamEntry>(count);
  for (let i = 0; i < count; i++) {
    if (reader.arrayLength() !== 3 || !reader.atString()) return undefined;
    const stream = reader.ascii(Number.MAX_SAFE_INTEGER);
    const firstVersion = reader.uint();
    const eventCount = reader.uint();
    if (!reader.ok) return undefined;
    entries[i] = { stream, firstVersion, eventCount };
  }
  return reader.at === reader.bytes.length ? entries : undefined;
}

/** A `decide`'s empty answer, from `reader` (see {@link readResultHead}); undefined when the frame holds something else. */
export function readDecided(reader: FrameReader): null | undefined {
  return reader.at === reader.bytes.length - 1 && reader.bytes[reader.at] === 0xc0 ? null : undefined;
}
