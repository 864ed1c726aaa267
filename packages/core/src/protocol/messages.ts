/**
 * The arguments of each operation, as they travel inside request frames, and the checks a server
 * applies to what a client sent (results are in `replies.ts`). A failed check is an
 * `InvalidArgumentError` for that request alone; the connection stays open.
 */
import { InvalidArgumentError } from '../errors.js';
import { FILTER_TERM_LENGTH_MAX, FILTER_TERMS_MAX } from '../limits.js';
import type { ExpectedVersion } from '../log/events.js';
import { checkAppendStreamText, checkStreamNameText, checkWellFormed } from '../log/stream-name.js';
import type { Direction } from '../store/store.js';

/** One stream's part of a transaction: events to append, or none for a check only. */
export interface TransactionAppend {
  stream: string;
  expectedVersion: ExpectedVersion;
  /** The events as one MessagePack blob (see `encodeEvents`); absent for a check-only stream. */
  events?: Uint8Array;
}

/** A transaction as a client sends it. */
export interface TransactionRequest {
  clientId: string;
  seq: number;
  appends: TransactionAppend[];
}

/** Where a committed transaction put one stream's events. */
export interface AppendedRange {
  stream: string;
  /** Version of the first event appended. */
  firstVersion: number;
  eventCount: number;
}

/** A committed transaction's result: its LSN and the versions each stream's events took. */
export interface TransactionResult {
  lsn: number;
  streams: AppendedRange[];
}

/** A run of one stream's events from one record, as reads and subscriptions deliver them. */
export interface EventSlice {
  lsn: number;
  stream: string;
  firstVersion: number;
  eventCount: number;
  timestampMs: number;
  events: Uint8Array;
  /** Set on the part of a transaction over several stripes: its id, and how many stripes have a part of it. */
  transaction?: TransactionPart;
  /**
   * In a filtered read, where the slice's first event stands among its record's events, counted
   * from 0 over every stream of the record: set when a filter left out events of the record before
   * it, so that a position counts a record's events the same whatever the filter.
   */
  recordOffset?: number;
}

/** What an event of a transaction over several stripes says of it, so a consumer can apply it as one unit. */
export interface TransactionPart {
  id: string;
  /** The stripes that took part, each with one part. */
  stripes: number;
}

/** A read of one stream. */
export interface ReadRequest {
  stream: string;
  fromVersion: number;
  direction: Direction;
  maxCount: number;
}

/**
 * Which events of the whole log a read or subscription wants, chosen on the server so that only
 * those cross the network: an event matches when its stream starts with one of `streamPrefixes`
 * and its type is one of `eventTypes` (a list left out matches everything). Each list holds 1 to
 * `FILTER_TERMS_MAX` strings of 1 to `FILTER_TERM_LENGTH_MAX` characters.
 */
export interface EventFilter {
  streamPrefixes?: readonly string[];
  eventTypes?: readonly string[];
}

/**
 * A read of the whole log. Without a filter, `maxCount` counts records; with one, matching events,
 * in whole records (the first record read comes whole even when it holds more), and `next` of the
 * answer is the LSN after the last record passed, matching or not.
 */
export interface ReadAllRequest {
  fromLsn: number;
  direction: Direction;
  maxCount: number;
  filter?: EventFilter;
}

/**
 * A subscription to one stream (from a version) or to the whole log (`stream` null, from an LSN).
 * A filtered one (whole log only) gets, with each delivery, the LSN it passed to, so that its
 * position moves on past records that did not match.
 */
export interface SubscribeRequest {
  subscriptionId: number;
  stream: string | null;
  /** The first version (stream) or LSN (whole log) to deliver. */
  from: number;
  filter?: EventFilter;
}

/** A server to add to a group as a mirror: its name, peer address, client addresses and election weight. */
export interface MirrorSpec {
  name: string;
  peer: string;
  clientUrls: readonly string[];
  weight: number;
}

// Encoders: compact arrays in a fixed order.

export const transactionToWire = (t: TransactionRequest): unknown[] => [
  t.clientId,
  t.seq,
  t.appends.map((a) => (a.events ? [a.stream, a.expectedVersion, a.events] : [a.stream, a.expectedVersion])),
];
export const readToWire = (r: ReadRequest): unknown[] => [r.stream, r.fromVersion, r.direction, r.maxCount];
// A filter rides as an extra last item, sent only when there is one: a request without one is
// what a server that predates filters reads, and a server that cannot filter refuses the longer
// array rather than ignore it.
const filterToWire = (f: EventFilter): unknown[] => [f.streamPrefixes ?? null, f.eventTypes ?? null];
export const readAllToWire = (r: ReadAllRequest): unknown[] => (r.filter ? [r.fromLsn, r.direction, r.maxCount, filterToWire(r.filter)] : [r.fromLsn, r.direction, r.maxCount]);
export const subscribeToWire = (s: SubscribeRequest): unknown[] => (s.filter ? [s.subscriptionId, s.stream, s.from, filterToWire(s.filter)] : [s.subscriptionId, s.stream, s.from]);
export const mirrorToWire = (m: MirrorSpec): unknown[] => [m.name, m.peer, [...m.clientUrls], m.weight];

/** The longest `clientId` a transaction may carry, in UTF-16 code units. */
export const CLIENT_ID_LENGTH_MAX = 128;

// Decoders with checks. `fail` names the field that broke a rule.

function fail(field: string, rule: string): never {
  throw new InvalidArgumentError(field, rule);
}

function tuple(value: unknown, field: string, min: number, max = min): unknown[] {
  if (!Array.isArray(value) || value.length < min || value.length > max) fail(field, `must be an array of ${min === max ? min : `${min} to ${max}`} items`);
  return value;
}

function position(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) fail(field, 'must be a non-negative integer');
  return value;
}

function direction(value: unknown): Direction {
  if (value !== 'forward' && value !== 'backward') fail('direction', "must be 'forward' or 'backward'");
  return value;
}

function count(value: unknown, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > max) fail('maxCount', `must be an integer from 1 to ${max}`);
  return value;
}

const isExpectedVersion = (value: unknown): value is ExpectedVersion =>
  value === 'any' || value === 'no-stream' || value === 'exists' || (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0);

/** @throws InvalidArgumentError naming the field when the value is not an expected version */
export function checkExpectedVersion(value: unknown, field: string): ExpectedVersion {
  if (isExpectedVersion(value)) return value;
  return fail(field, "must be 'any', 'no-stream', 'exists' or a non-negative integer");
}

export function transactionFromWire(value: unknown, streamsMax: number): TransactionRequest {
  const [clientId, seq, appends] = tuple(value, 'transaction', 3);
  if (typeof clientId !== 'string' || clientId.length === 0 || clientId.length > CLIENT_ID_LENGTH_MAX) fail('clientId', `must be a string of 1 to ${CLIENT_ID_LENGTH_MAX} characters`);
  checkWellFormed(clientId, 'clientId');
  if (!Array.isArray(appends) || appends.length === 0 || appends.length > streamsMax) fail('appends', `must name 1 to ${streamsMax} streams`);
  const decoded: TransactionAppend[] = [];
  for (let i = 0; i < appends.length; i++) decoded.push(appendFromWire(appends[i], i));
  return { clientId, seq: position(seq, 'seq'), appends: decoded };
}

/** `appends[index]` of a transaction. Every append passes here: a field's name is built only when its check fails. */
function appendFromWire(value: unknown, index: number): TransactionAppend {
  const [stream, expected, events] = Array.isArray(value) && value.length >= 2 && value.length <= 3 ? value : tuple(value, `appends[${index}]`, 2, 3);
  checkAppendStreamText(stream, index);
  const expectedVersion = isExpectedVersion(expected) ? expected : checkExpectedVersion(expected, `appends[${index}].expectedVersion`);
  if (events === undefined) return { stream, expectedVersion };
  if (!(events instanceof Uint8Array)) fail(`appends[${index}].events`, 'must be a MessagePack blob');
  return { stream, expectedVersion, events };
}

export function readFromWire(value: unknown, countMax: number): ReadRequest {
  const [stream, fromVersion, dir, maxCount] = tuple(value, 'read', 4);
  checkStreamNameText(stream);
  return { stream, fromVersion: position(fromVersion, 'fromVersion'), direction: direction(dir), maxCount: count(maxCount, countMax) };
}

export function readAllFromWire(value: unknown, countMax: number): ReadAllRequest {
  const [fromLsn, dir, maxCount, filter] = tuple(value, 'readAll', 3, 4);
  const request: ReadAllRequest = { fromLsn: position(fromLsn, 'fromLsn'), direction: direction(dir), maxCount: count(maxCount, countMax) };
  if (filter !== undefined) request.filter = filterFromWire(filter);
  return request;
}

export function subscribeFromWire(value: unknown): SubscribeRequest {
  const [subscriptionId, stream, from, filter] = tuple(value, 'subscribe', 3, 4);
  if (stream !== null) checkStreamNameText(stream);
  const request: SubscribeRequest = { subscriptionId: position(subscriptionId, 'subscriptionId'), stream, from: position(from, 'from') };
  if (filter !== undefined) {
    if (stream !== null) fail('filter', 'filters a subscription to the whole log only');
    request.filter = filterFromWire(filter);
  }
  return request;
}

function filterFromWire(value: unknown): EventFilter {
  const [streamPrefixes, eventTypes] = tuple(value, 'filter', 2);
  return checkFilter({ streamPrefixes: streamPrefixes ?? undefined, eventTypes: eventTypes ?? undefined }, 'filter');
}

/**
 * Holds a filter to the rule of {@link EventFilter}; the client checks with it before sending too.
 * @throws InvalidArgumentError naming `field` and the list that breaks the rule
 */
export function checkFilter(value: unknown, field: string): EventFilter {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(field, 'must be { streamPrefixes?, eventTypes? }');
  const { streamPrefixes, eventTypes } = value as Record<string, unknown>;
  if (streamPrefixes === undefined && eventTypes === undefined) fail(field, 'must name streamPrefixes, eventTypes or both');
  const filter: EventFilter = {};
  if (streamPrefixes !== undefined) filter.streamPrefixes = filterTerms(streamPrefixes, `${field}.streamPrefixes`);
  if (eventTypes !== undefined) filter.eventTypes = filterTerms(eventTypes, `${field}.eventTypes`);
  return filter;
}

function filterTerms(value: unknown, field: string): string[] {
  const rule = `must be an array of 1 to ${FILTER_TERMS_MAX} strings of 1 to ${FILTER_TERM_LENGTH_MAX} characters`;
  if (!Array.isArray(value) || value.length === 0 || value.length > FILTER_TERMS_MAX) fail(field, rule);
  for (let i = 0; i < value.length; i++) {
    const term: unknown = value[i];
    if (typeof term !== 'string' || term.length === 0 || term.length > FILTER_TERM_LENGTH_MAX) fail(`${field}[${i}]`, rule);
    checkWellFormed(term, `${field}[${i}]`);
  }
  return [...(value as string[])];
}

function shortString(value: unknown, field: string, max: number): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max) fail(field, `must be a string of 1 to ${max} characters`);
  return value;
}

/** A mirror to add; the group checks that its name and addresses are free. */
export function mirrorFromWire(value: unknown): MirrorSpec & { kind: 'server' } {
  const [name, peer, clientUrls, weight] = tuple(value, 'mirror', 4);
  if (!Array.isArray(clientUrls) || clientUrls.length === 0 || clientUrls.length > 8) fail('clientUrls', 'must name 1 to 8 URLs');
  return {
    kind: 'server',
    name: shortString(name, 'name', 64),
    peer: shortString(peer, 'peer', 512),
    clientUrls: clientUrls.map((url: unknown, i: number) => shortString(url, `clientUrls[${i}]`, 512)),
    weight: position(weight, 'weight'),
  };
}

export function mirrorNameFromWire(value: unknown): string {
  return shortString(value, 'name', 64);
}

/** The index of the `diverged` report entry a request asks for (one per request: an entry fills a read). */
export function divergedIndexFromWire(value: unknown): number {
  return position(value, 'index');
}

/** The subscription an `unsubscribe` ends. */
export function subscriptionIdFromWire(value: unknown): number {
  return position(value, 'subscriptionId');
}

/** The arguments of an operation that takes none. */
export function noArguments(value: unknown): null {
  if (value !== null) fail('arguments', 'must be nil');
  return null;
}

/** The LSN a log digest runs through. */
export function logDigestThroughFromWire(value: unknown): number {
  return position(value, 'throughLsn');
}

/** A fingerprint of a server's own log from LSN 1 through `throughLsn` (see `KilnClient.logDigest`). */
export interface LogDigest {
  throughLsn: number;
  /** Chained CRC-32C of the records' own CRCs: equal digests mean equal logs. */
  digest: number;
}
