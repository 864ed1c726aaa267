/** The options of the client's calls, and what an append returns. */
import type { ExpectedVersion, EventData } from '../log/events.js';
import type { ConnectionLimits } from '../limits.js';
import type { Direction } from '../store/store.js';
import type { Clock, Random, Timers } from '../time.js';
import type { Transport } from '../transport/transport.js';
import type { Credentials } from '../protocol/handshake.js';
import type { EventFilter } from '../protocol/messages.js';
import type { RecordedEvent } from '../log/events.js';
import type { PositionedEvent } from './position.js';

/** Options of {@link connect}. */
export interface ClientOptions {
  /** Transports to dial with; each URL goes to the one handling its scheme. */
  transports: readonly Transport[];
  /**
   * Names this client's transactions in the log (and in `diverged()` reports). Each `connect()`
   * tags them `<clientId>/<random UUID>`, numbered from 1, so the id may be reused, by a later
   * client or by several at once, without one taking another's transaction for a resend.
   * Exactly-once resends hold within one client, across its reconnects and failovers; a new
   * client starts a new sequence, so a transaction whose outcome an old client never learned is
   * found by reading the stream. In a cluster of several stripes the one tag serves every
   * stripe, each numbering its own transactions from 1 (each stripe dedups on its own).
   * At most 91 characters. @default a random UUID (used as is)
   */
  clientId?: string;
  /**
   * Who this client is, for servers with users and tokens: `{ username, password }` or
   * `{ token }`, sent in the handshake of every connection. Refused credentials fail `connect`
   * with `AuthenticationError`. @default none: the anonymous role, if any
   */
  credentials?: Credentials;
  /** A name the server shows in logs. @default 'kiln-client' */
  name?: string;
  /** Time a request may take, resends included, before it fails with `TimeoutError`. @default 30000 */
  requestTimeoutMs?: number;
  /**
   * Time to find a server again after a connection drops before requests fail with
   * `ConnectionClosedError`; the next request then looks again, for as long. In a cluster of
   * several stripes each stripe has its own: past it, that stripe's operations fail with
   * `StripeUnavailableError` and the next one tries again. @default 10000
   */
  reconnectWindowMs?: number;
  /**
   * Retries of a transaction refused with `StreamBusyError` (a stream held by a transaction over
   * several stripes still deciding), after a delay that doubles from `busyRetryDelayMs` up to a
   * second, with jitter. 0 turns retrying off: the error then reaches the caller at once.
   * @default 8
   */
  busyRetries?: number;
  /** Delay before the first retry of a busy transaction, ms. @default 25 */
  busyRetryDelayMs?: number;
  /**
   * With requests outstanding, a server silent for this long is taken for dead and the client
   * moves on (it pings after half of it). @default 2000
   */
  serverSilenceMs?: number;
  /** Frame cap, queue cap, in-flight cap and idle timeout; must match the server's. */
  limits?: Partial<Pick<ConnectionLimits, 'frameBytesMax' | 'sendQueueBytesMax' | 'inFlightMax' | 'idleTimeoutMs'>>;
  clock?: Clock;
  timers?: Timers;
  random?: Random;
}

/** Options of {@link KilnClient.append}. */
export interface AppendOptions {
  /** The version the stream must be at. @default 'any' */
  expectedVersion?: ExpectedVersion;
}

/** One stream's part of {@link KilnClient.transact}. */
export interface TransactAppend<Data = unknown> {
  /** The stream's name: see {@link KilnClient.append} for the rule. */
  stream: string;
  /** Events to append; leave out to only check the stream's version. */
  events?: readonly EventData<Data>[];
  /** @default 'any' */
  expectedVersion?: ExpectedVersion;
}

/** What an append returns. */
export interface AppendResult {
  /** LSN of the transaction. */
  lsn: number;
  /** Version of the first event appended. */
  firstVersion: number;
  /** Version of the last event appended: pass it as the next append's `expectedVersion`. */
  lastVersion: number;
}

/** Options of {@link KilnClient.read}. */
export interface ReadOptions {
  /** First version to read (forward) or last (backward). @default 0 forward, the end backward */
  fromVersion?: number;
  /** @default 'forward' */
  direction?: Direction;
  /** Events returned at most (the server's `readCountMax`, 4096, at most). @default 1000 (`DEFAULT_READ_COUNT`) */
  maxCount?: number;
}

/** Options of {@link KilnClient.readStream}: a read of the whole stream, page by page. */
export interface ReadStreamOptions extends Omit<ReadOptions, 'maxCount'> {
  /** Events asked for per request (at most `readCountMax`, 4096). @default 1000 */
  pageSize?: number;
}

/** A page of one stream, from {@link KilnClient.readPage}. */
export interface StreamPage<Data = unknown> {
  events: RecordedEvent<Data>[];
  /** True when no event lay past the last one returned (before the first, backward) when it was read. */
  endOfStream: boolean;
  /** The `fromVersion` to read on from: after the last event (before it, backward). */
  nextVersion: number;
}

/**
 * Options of {@link KilnClient.readAll}. Every event read carries a `position`; pass it back as
 * `from` to read on strictly after that event.
 *
 * In a cluster of several stripes, a read goes over the merged log of every stripe (or of the
 * one `stripe` names) and goes forward from `from`; `fromLsn` and `direction: 'backward'` read
 * one stripe's own log by LSN and need `stripe`.
 */
export interface ReadAllOptions {
  /**
   * The position of the last event already read (from an event of `readAll` or `subscribeAll`):
   * the read goes on strictly after it, in every stripe. Not with `fromLsn`.
   * @throws StripeEpochChangedError when a stripe restarted empty (memory mode) after it was taken
   * @throws PositionAheadError when it stands past what a stripe has committed (not a position of this log)
   * @default the start of every stripe
   */
  from?: string;
  /** Reads only this stripe's log (by its name in the topology). @default every stripe */
  stripe?: string;
  /**
   * First LSN to read (forward) or last (backward), in one stripe's log.
   * @throws PositionAheadError when more than one past the stripe's last committed LSN (forward)
   * @default 1 forward, the end backward
   */
  fromLsn?: number;
  /** `'backward'` reads one stripe's log by LSN, without `from`. @default 'forward' */
  direction?: Direction;
  /**
   * Events read at most, over all the stripes read. A page never splits a transaction: it ends
   * before one that would pass `maxCount` (so it may hold fewer), except that its first comes
   * whole even when larger. @default 1000 (`DEFAULT_READ_COUNT`)
   */
  maxCount?: number;
  /**
   * Only events whose stream starts with one of `streamPrefixes` and whose type is one of
   * `eventTypes` (a list left out matches all), chosen on the server: nothing else crosses the
   * network. A page may then hold no event yet not be the end: read on from the page's
   * `position` ({@link KilnClient.readAllPage}), or use {@link KilnClient.readAllStream}. A
   * position counts every event of a record, those the filter left out too: resume from it with
   * this filter, another or none, and delivery goes on strictly after its event.
   * @throws InvalidArgumentError when it breaks the rule of {@link EventFilter}, or the server predates filters
   */
  filter?: EventFilter;
}

/** Options of {@link KilnClient.readAllStream}: a read of `$all` to its end, page by page. */
export interface ReadAllStreamOptions extends Omit<ReadAllOptions, 'maxCount'> {
  /** Events asked for per page. @default 1000 */
  pageSize?: number;
}

/** A page of `$all`, from {@link KilnClient.readAllPage}. */
export interface AllPage<Data = unknown> {
  events: PositionedEvent<Data>[];
  /**
   * Where to read on from, as `from`: after the last event, or, with a filter, after the last
   * record the server passed, matching or not (forward reads).
   */
  position: string;
}
/** Options of {@link KilnClient.subscribe}. */
export interface SubscribeOptions {
  /** First version delivered. @default 0 */
  fromVersion?: number;
}

/**
 * Options of {@link KilnClient.subscribeAll}. Every event carries a `position`; pass it back as
 * `from` to resume strictly after that event, with a new client too.
 */
export interface SubscribeAllOptions {
  /**
   * The position of the last event already seen: delivery resumes strictly after it, in every
   * stripe. Not with `fromLsn`. The subscription fails with `StripeEpochChangedError` or
   * `PositionAheadError` as {@link ReadAllOptions.from} does; with `StripeEpochChangedError` too
   * when, after a reconnect, a stripe it consumed from has started over (memory mode).
   * @default the start of every stripe
   */
  from?: string;
  /** Subscribes to this stripe's log only (by its name in the topology). @default every stripe */
  stripe?: string;
  /**
   * First LSN delivered, in one stripe's log: in a cluster of several stripes, with `stripe` only.
   * More than one past the stripe's last committed LSN fails the subscription with `PositionAheadError`.
   * @default 1
   */
  fromLsn?: number;
  /** Only the events that match, chosen on the server: see {@link ReadAllOptions.filter}. */
  filter?: EventFilter;
  /**
   * With a filter: called with the position after records the subscription passed without
   * delivering anything of them, so that a checkpoint kept from it moves on while nothing matches.
   */
  onCheckpoint?: (position: string) => void;
}
