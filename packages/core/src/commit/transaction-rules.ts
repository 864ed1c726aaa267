/**
 * The rules a transaction is held to, apart from the state they are checked against: its shape
 * (names, events, limits), an expected version against a stream's head, the result a committed
 * record stands for, and whether a resend writes what its original wrote.
 */
import { InvalidArgumentError, WrongExpectedVersionError } from '../errors.js';
import { APPEND_FRAME_HEADROOM_BYTES, type LogLimits } from '../limits.js';
import { validateEvents, type ExpectedVersion } from '../log/events.js';
import { Decision, RecordKind, type EncodedRecord, type LogRecord, type RecordAppend, type StreamEntry } from '../log/record.js';
import { checkStreamName } from '../log/stream-name.js';
import type { TransactionAppend, TransactionRequest, TransactionResult } from '../protocol/messages.js';

/**
 * Checks a transaction's stream names and events before it takes an LSN; returns each append's
 * event count (0 for a check-only entry). A `part` of a transaction over several stripes may
 * only check versions: the events may all be in other parts.
 * @throws InvalidArgumentError naming the first field that breaks a rule
 */
export function validateTransaction(request: TransactionRequest, limits: LogLimits, part = false): number[] {
  if (request.appends.length > limits.streamsPerTransactionMax) {
    throw new InvalidArgumentError('appends', `must name at most ${limits.streamsPerTransactionMax} streams`);
  }
  // Every transaction passes here: a plain loop, and no set of names for the usual single stream.
  const seen = request.appends.length > 1 ? new Set<string>() : undefined;
  const counts = new Array<number>(request.appends.length);
  let events = 0;
  for (let i = 0; i < request.appends.length; i++) {
    const append = request.appends[i]!;
    checkStreamName(append.stream, limits.streamNameBytesMax);
    if (seen) {
      if (seen.has(append.stream)) throw new InvalidArgumentError(`appends[${i}].stream`, `names '${append.stream}' twice`);
      seen.add(append.stream);
    }
    const count = append.events ? validateEvents(append.events, i) : 0;
    counts[i] = count;
    events += count;
  }
  if (events === 0 && !part) throw new InvalidArgumentError('appends', 'must append at least one event');
  return counts;
}

/** @throws WrongExpectedVersionError when `expected` does not hold for a stream whose head is `actual` */
export function checkExpected(stream: string, expected: ExpectedVersion, actual: number): void {
  const holds =
    expected === 'any' ||
    (expected === 'no-stream' && actual === -1) ||
    (expected === 'exists' && actual >= 0) ||
    expected === actual;
  if (!holds) throw new WrongExpectedVersionError(stream, expected, actual);
}

/**
 * True for a record that stands for a client's committed transaction on this stripe: a commit, or
 * a coordinator's commit decision. A participant's steps carry the coordinator's sequence, and an
 * aborted transaction answers nothing: a resend of it runs again.
 */
export const answersClient = (record: LogRecord): boolean =>
  record.kind === RecordKind.Commit || (record.kind === RecordKind.Decide && record.txn!.decision === Decision.Commit);

/** The result a record stands for: what a resend of its transaction gets back (a decide's names every part). */
export function resultOf(record: LogRecord): TransactionResult {
  if (record.kind === RecordKind.Decide) return { lsn: record.lsn, streams: record.txn!.streams };
  return {
    lsn: record.lsn,
    streams: record.appends.map((a) => ({ stream: a.stream, firstVersion: a.firstVersion, eventCount: a.eventCount })),
  };
}

/**
 * True when a transaction writes exactly what a record (or a queued one) holds: the same streams
 * with the same event bytes, in order. Expected versions and appends of no events are not
 * compared: the log does not keep them. Only resends get here, so the hot path pays nothing.
 * @param eventCounts each append's event count, from {@link validateTransaction}
 */
export function sameWrites(appends: readonly TransactionAppend[], eventCounts: readonly number[], written: readonly RecordAppend[]): boolean {
  let index = 0;
  for (const [i, append] of appends.entries()) {
    if (eventCounts[i] === 0 || !append.events) continue;
    const other = written[index++];
    if (!other || other.stream !== append.stream || !sameBytes(other.events, append.events)) return false;
  }
  return index === written.length;
}

/**
 * True when a resend of a transaction over several stripes writes what the record its
 * `(clientId, seq)` committed here holds: `own`, this stripe's part, the same events; every part
 * the same streams and event counts as the result (a decide holds only its own part's events).
 */
export function sameDecided(request: TransactionRequest, own: TransactionAppend[], original: LogRecord, limits: LogLimits): boolean {
  const ownCounts = validateTransaction({ ...request, appends: own }, limits, true);
  return sameWrites(own, ownCounts, original.appends) && sameRanges(request.appends, validateTransaction(request, limits), resultOf(original).streams);
}

/** True when `appends` name the streams and event counts of `streams`, in order. */
function sameRanges(appends: readonly TransactionAppend[], eventCounts: readonly number[], streams: readonly StreamEntry[]): boolean {
  let index = 0;
  for (const [i, append] of appends.entries()) {
    if (eventCounts[i] === 0) continue;
    const other = streams[index++];
    if (!other || other.stream !== append.stream || other.eventCount !== eventCounts[i]) return false;
  }
  return index === streams.length;
}

/** Bytes a participant's outcome may take beyond its prepare (its decision and the prepare's LSN): a prepare leaves them room. */
export const OUTCOME_EXTRA_BYTES = 16;

/**
 * @throws InvalidArgumentError when a record (and `room` bytes more) is over `bytesMax`: it could
 * never be shipped to a mirror beside an append frame's header (see `APPEND_FRAME_HEADROOM_BYTES`)
 */
export function checkRecordBytes(encoded: EncodedRecord, bytesMax = Infinity, room = 0): void {
  const bytes = encoded.bytes.length + room;
  if (bytes > bytesMax) throw new InvalidArgumentError('appends', `take ${bytes} bytes as a log record, over the ${bytesMax} a record may take (frameBytesMax less ${APPEND_FRAME_HEADROOM_BYTES} bytes, to ship it to the mirrors): split the transaction`);
}

/** True when two requests under one `(clientId, seq)` are the same transaction: a resend, not another client's reuse of the id. */
export function sameRequest(a: TransactionRequest, b: TransactionRequest): boolean {
  if (a.appends.length !== b.appends.length) return false;
  return a.appends.every((append, i) => {
    const other = b.appends[i]!;
    if (append.stream !== other.stream || append.expectedVersion !== other.expectedVersion) return false;
    return append.events === undefined || other.events === undefined ? append.events === other.events : sameBytes(append.events, other.events);
  });
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
