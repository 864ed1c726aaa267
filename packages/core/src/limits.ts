/**
 * Every tunable in one place: the settable limits and timeouts with their defaults, the fixed
 * limits, each with its unit and why it is what it is, and the checks that settings fit together.
 * `docs/LIMITS.md` lists each one and what happens when it is reached; a test holds the two equal.
 */

const KiB = 1024;
const MiB = 1024 * KiB;

/** Limits and timeouts of the wire protocol and its connections. */
export interface ConnectionLimits {
  /** Largest frame either side accepts, in bytes. Larger frames close the connection. @default 4 MiB */
  frameBytesMax: number;
  /** Bytes a connection may queue for a peer that does not read before it closes. @default 16 MiB */
  sendQueueBytesMax: number;
  /** Requests one connection may have unanswered; the next gets `TooManyInFlightError`. @default 1024 */
  inFlightMax: number;
  /** Time from connect to a completed handshake. @default 5000 */
  handshakeTimeoutMs: number;
  /** A connection that sends nothing for this long is closed; clients ping at a third of it. @default 30000 */
  idleTimeoutMs: number;
  /** Connections one listener holds at once; further ones are refused. @default 10000 */
  connectionsMax: number;
}

/** Limits of the log and the commit path. */
export interface LogLimits {
  /** Largest stream name, in UTF-8 bytes. @default 512 */
  streamNameBytesMax: number;
  /** Streams one transaction may append to or check. @default 256 */
  streamsPerTransactionMax: number;
  /** Records written in one group commit. @default 4096 */
  groupCommitRecordsMax: number;
  /** Bytes written in one group commit. @default 8 MiB */
  groupCommitBytesMax: number;
  /** Events one read returns at most. @default 4096 */
  readCountMax: number;
  /** Bytes of records one read or subscription chunk loads at most. @default 1 MiB */
  readBytesMax: number;
  /**
   * Bytes one connection's reads in flight may hold, each read charged `readBytesMax` before it
   * touches the store: a client that pipelines reads and never reads the answers holds no more.
   * @default 4 MiB
   */
  readBytesInFlightPerConnectionMax: number;
  /** Bytes all client reads in flight on one server may hold, charged as above; further reads wait their turn. @default 64 MiB */
  readBytesInFlightMax: number;
  /** Transactions per client kept for answering resends, counted back from its newest. @default 1024 */
  dedupWindow: number;
  /** Clients whose recent transactions are remembered; the least recently seen is forgotten first. @default 16384 */
  dedupClientsMax: number;
  /** Records scanned back from the tail to rebuild the de-duplication table on recovery. @default 1000000 */
  dedupRecoveryRecordsMax: number;
  /** Stream heads cached in memory; the rest are looked up in the store's index. @default 65536 */
  streamHeadCacheMax: number;
  /** Records a long scan handles before it yields to the event loop. @default 1024 */
  scanYieldEvery: number;
  /**
   * Time a coordinator gives every participant of a transaction over several stripes to vote
   * before it decides abort; also the longest one server's call to another stripe may take, its
   * wait for room past `inFlightMax` calls to that stripe included.
   * @default 10000
   */
  txnTimeoutMs: number;
}

export const defaultConnectionLimits: Readonly<ConnectionLimits> = Object.freeze({
  frameBytesMax: 4 * MiB,
  sendQueueBytesMax: 16 * MiB,
  inFlightMax: 1024,
  handshakeTimeoutMs: 5_000,
  idleTimeoutMs: 30_000,
  connectionsMax: 10_000,
});

export const defaultLogLimits: Readonly<LogLimits> = Object.freeze({
  streamNameBytesMax: 512,
  streamsPerTransactionMax: 256,
  groupCommitRecordsMax: 4096,
  groupCommitBytesMax: 8 * MiB,
  readCountMax: 4096,
  readBytesMax: 1 * MiB,
  readBytesInFlightPerConnectionMax: 4 * MiB,
  readBytesInFlightMax: 64 * MiB,
  dedupWindow: 1024,
  dedupClientsMax: 16_384,
  dedupRecoveryRecordsMax: 1_000_000,
  streamHeadCacheMax: 65_536,
  scanYieldEvery: 1024,
  txnTimeoutMs: 10_000,
});

/** Timing of a mirror group, in milliseconds; every member of a group must use the same. */
export interface GroupTiming {
  /** Longest time a voting member collects candidacies before it votes. @default 5000 */
  electionTimeMs: number;
  /**
   * A mirror that does not acknowledge for this long leaves the in-sync set; a mirror that hears
   * nothing from the active for this long starts an election. @default 1000
   */
  mirrorTimeoutMs: number;
  /** An active that hears from no majority for this long stops acknowledging and steps down. @default 800 */
  leaseMs: number;
}

export const defaultGroupTiming: Readonly<GroupTiming> = Object.freeze({
  // Long enough for every reachable member to be heard from across a slow network.
  electionTimeMs: 5_000,
  // A mirror's missed acknowledgements show within a second; well inside the election window.
  mirrorTimeoutMs: 1_000,
  // Below mirrorTimeoutMs, so an old active stops serving before a successor can be elected.
  leaseMs: 800,
});

/** Inclusive bounds of each group timing setting, in milliseconds. */
export const groupTimingBounds: Readonly<Record<keyof GroupTiming, Readonly<{ min: number; max: number }>>> = Object.freeze({
  electionTimeMs: Object.freeze({ min: 100, max: 600_000 }),
  mirrorTimeoutMs: Object.freeze({ min: 10, max: 600_000 }),
  leaseMs: Object.freeze({ min: 10, max: 600_000 }),
});

/** Timeouts of a client, in milliseconds (`connect(urls, options)`). */
export interface ClientTiming {
  /** A request unanswered by then fails with `TimeoutError`. @default 30000 */
  requestTimeoutMs: number;
  /** How long a client looks for an active before failing requests in flight; at least an election. @default 10000 */
  reconnectWindowMs: number;
  /** With requests outstanding, a server silent for this long is taken for dead. @default 2000 */
  serverSilenceMs: number;
}

export const defaultClientTiming: Readonly<ClientTiming> = Object.freeze({
  requestTimeoutMs: 30_000,
  // Twice the default election window: a client outlasts one failover.
  reconnectWindowMs: 10_000,
  serverSilenceMs: 2_000,
});

/** Inclusive bounds of the client's reconnect window in a config file, in milliseconds. */
export const reconnectWindowBounds = Object.freeze({ min: 100, max: 3_600_000 });

// Fixed limits: not settable, named here so each has one home and one documented value.

/** Subscriptions one connection may hold at once; bounds a connection's server-side state. */
export const SUBSCRIPTIONS_PER_CONNECTION_MAX = 256;
/** Prefixes, and event types, one filter may name at most (each list on its own); bounds the work a filter costs the server per record. */
export const FILTER_TERMS_MAX = 64;
/** Longest stream prefix or event type a filter may name, in characters. */
export const FILTER_TERM_LENGTH_MAX = 512;
/** Events a client's `read` asks for when the caller gives no `maxCount`; below `readCountMax`. */
export const DEFAULT_READ_COUNT = 1000;
/** How long a group member shutting down waits for its mirrors to confirm transactions in flight, in ms. */
export const SHUTDOWN_COMMIT_WAIT_MS = 2000;
/** Records an active keeps in memory for shipping; a mirror further behind is shipped from the store. */
export const RECENT_RECORDS = 65_536;
/** Bytes of those records, at most, past the group commit being written; the oldest go first. */
export const RECENT_RECORDS_BYTES_MAX = 64 * MiB;
/** Records between progress lines while the de-duplication table is rebuilt at start. */
export const RECOVERY_PROGRESS_EVERY = 65_536;
/** Records sent and not yet acknowledged, at most, to an in-sync mirror; bounds the active's memory per mirror. */
export const SHIP_WINDOW_RECORDS = 16_384;
/** Records in one append to a mirror catching up: small, so catching up never starves the live stream. */
export const CATCH_UP_RECORDS = 1024;
/** Bytes in one append to a mirror catching up. */
export const CATCH_UP_BYTES = 256 * KiB;
/** First and longest delay between redials of a peer, in ms: quick to recover, gentle when it is down. */
export const REDIAL_DELAY_MIN_MS = 50;
export const REDIAL_DELAY_MAX_MS = 500;
/** Group URLs a server may name to a client, at most; bounds what a hostile server can make a client hold. */
export const LEARNED_URLS_MAX = 256;
/** Longest URL a welcome may name, in characters. */
export const URL_LENGTH_MAX = 512;
/** Longest name a hello may carry (a client's or a member's), in characters. */
export const HELLO_NAME_LENGTH_MAX = 256;
/**
 * Bytes of a frame a record leaves to the append message that ships it to the mirrors: its other
 * fields (at most 9 numbers of 9 bytes, 'append', two headers) and the sender's name (up to
 * HELLO_NAME_LENGTH_MAX characters of 3 bytes). A record that does not fit beside them could
 * never be shipped: a stripe with mirrors committed nothing after it.
 */
export const APPEND_FRAME_HEADROOM_BYTES = 1024;
/** First and longest delay between a client's reconnect attempts, in ms. */
export const RECONNECT_DELAY_MIN_MS = 50;
export const RECONNECT_DELAY_MAX_MS = 1000;
/** How often a client checks its requests for timeouts, in ms; the granularity of `requestTimeoutMs`. */
export const SWEEP_INTERVAL_MS = 250;
/** Records one diverged-report entry holds at most. */
export const ENTRY_RECORDS_MAX = 1024;
/** Retries of a transaction refused with `StreamBusyError`, unless the client sets `busyRetries`. */
export const DEFAULT_BUSY_RETRIES = 8;
/** Delay before a client's first retry of a busy transaction, in ms, unless it sets `busyRetryDelayMs`; each later one doubles it. */
export const DEFAULT_BUSY_RETRY_DELAY_MS = 25;
/** Longest delay between a client's retries of a busy transaction, in ms. */
export const BUSY_RETRY_DELAY_MAX_MS = 1_000;
/** Longest a write or a prepare waits for a held stream's coordinator to say it decided, in ms; past it, `StreamBusyError`. */
export const TXN_SETTLE_WAIT_MS = 100;
/** How often an active looks for prepared parts to ask their coordinators about, in ms. */
export const TXN_RESOLVE_EVERY_MS = 250;
/** How old a prepared part must be before its active asks its coordinator about it, in ms. */
export const TXN_RESOLVE_AFTER_MS = 500;
/**
 * Longest a participant's outcome waits for another record's group commit to ride in, in ms,
 * when nobody waits for it: the next prepare usually comes sooner, and one replication round
 * then carries both. A read of the part's streams commits it at once.
 */
export const TXN_OUTCOME_DELAY_MAX_MS = 2;
/**
 * Longest a coordinator keeps a decision for the next prepare to the same participant, in ms:
 * both then go in one write, and the outcome rides in the prepare's group commit there.
 */
export const TXN_DECISION_DELAY_MAX_MS = 2;
/** Times a coordinator tries to tell a participant its decision before leaving it to ask. */
export const TXN_DECISION_SENDS = 3;
/** Decisions and ended parts an active remembers; the oldest is forgotten first. */
export const TXN_REMEMBERED_MAX = 100_000;
/**
 * Transactions a participant remembers it was told aborted before any prepare of theirs reached it,
 * each for twice `txnTimeoutMs`, so that a prepare arriving late is refused rather than written to
 * hold its streams until the resolver asks. An abort overtakes a prepare only when the prepare's
 * link dropped or its coordinator gave up on it, at most a connection's `inFlightMax` at once;
 * this holds several such bursts. It bounds what decisions for made-up ids can make an active
 * hold (ids of up to `TXN_ID_LENGTH_MAX` characters: a few MiB); the oldest is forgotten first.
 * A late prepare the participant forgot is only held until the resolver asks, as before.
 */
export const TXN_EARLY_ABORTS_MAX = 10_000;
/** Longest transaction id, in characters. */
export const TXN_ID_LENGTH_MAX = 200;
/**
 * Records one `rangeDigest` request covers at most (`kiln verify` asks in ranges of this many): it
 * bounds how long one request keeps a server reading, about a second for records of 1 KiB.
 */
export const RANGE_DIGEST_RECORDS_MAX = 100_000;
/**
 * Files the level store lets LevelDB keep open (its `max_open_files`, the least it accepts; it
 * keeps 10 for its own files and the rest for tables). LevelDB maps each open table into memory,
 * and every page a read or a compaction touches counts in the server's resident memory until the
 * table is closed: this bounds that memory to about 64 × `STORE_TABLE_FILE_BYTES` whatever the size
 * of the data (LevelDB's default, 1000, let it grow to 2 GiB). A read of a table not open reopens it.
 */
export const STORE_OPEN_FILES_MAX = 74;
/**
 * Size of one LevelDB table file (`max_file_size`): the unit of the mapped memory above, which a
 * long scan (recovery, a catch-up, a read of the whole log) fills. LevelDB's least; its default,
 * 2 MiB, doubled that memory.
 */
export const STORE_TABLE_FILE_BYTES = 1 * MiB;
/** LevelDB's cache of decompressed blocks, in bytes. */
export const STORE_BLOCK_CACHE_BYTES = 8 * MiB;
/** LevelDB's write buffer, in bytes; at most two are in memory at once (one being written to a table). */
export const STORE_WRITE_BUFFER_BYTES = 4 * MiB;
/** Longest store metadata key, in characters. */
export const META_KEY_CHARS_MAX = 256;
/** Nesting depth allowed in frames and event data; deeper input costs stack and time to walk. */
export const MSGPACK_DEPTH_MAX = 64;
/** Longest event id or type, in UTF-8 bytes. */
export const EVENT_NAME_BYTES_MAX = 256;

/** Longest password or token a hello may carry, in characters; longer ones are a `ProtocolError` before any hashing. */
export const AUTH_SECRET_LENGTH_MAX = 1024;
/** Delay an address's attempts wait after its first failed authentication, in ms; it doubles on each further failure. */
export const AUTH_FAILURE_DELAY_MIN_MS = 100;
/** Longest delay between an address's attempts; an attempt that would wait longer is refused at once, unchecked. */
export const AUTH_FAILURE_DELAY_MAX_MS = 5_000;
/** Time without a failure after which an address's failures are forgotten, in ms. */
export const AUTH_FAILURE_FORGET_MS = 60_000;
/** Addresses whose failed authentications a server remembers; past it the oldest is forgotten first. */
export const AUTH_FAILURE_ADDRESSES_MAX = 10_000;
/** Log lines about failed authentications a server writes per {@link AUTH_FAILURE_LOG_WINDOW_MS}; the rest are counted in one line. */
export const AUTH_FAILURE_LOG_LINES_MAX = 20;
/** The window of {@link AUTH_FAILURE_LOG_LINES_MAX}, in ms. */
export const AUTH_FAILURE_LOG_WINDOW_MS = 60_000;

/**
 * Connections a member's HTTP listener (health, metrics, status page) holds at once; it closes a
 * further one as soon as it is accepted. A status page open in a browser holds one (its live feed).
 */
export const HTTP_CONNECTIONS_MAX = 128;
/**
 * Time an HTTP client has to send a request's headers, in ms, from when its connection opens: a
 * client that sends nothing, or sends its headers a byte at a time (slow loris), is answered 408
 * and closed, so it cannot hold one of the listener's connections for long.
 */
export const HTTP_HEADERS_TIMEOUT_MS = 5_000;
/** Time an HTTP client has to send a whole request, in ms; then 408 and the connection closes. */
export const HTTP_REQUEST_TIMEOUT_MS = 10_000;
/** Time an HTTP connection may stay open with no request after its last answer, in ms. */
export const HTTP_KEEP_ALIVE_TIMEOUT_MS = 5_000;

/** The limits a server runs with: the defaults, each overridden by a given value of its name (other names are ignored). */
export function limitsOf(values: Partial<Record<string, number>> | undefined): { connectionLimits: ConnectionLimits; logLimits: LogLimits } {
  const given = <T extends object>(shape: T): Partial<T> => Object.fromEntries(Object.entries(values ?? {}).filter(([key, v]) => key in shape && v !== undefined)) as Partial<T>;
  return { connectionLimits: { ...defaultConnectionLimits, ...given(defaultConnectionLimits) }, logLimits: { ...defaultLogLimits, ...given(defaultLogLimits) } };
}

/** Throws a `RangeError` naming the first pair of limits that do not fit together. */
export function checkLimits(c: ConnectionLimits, l: LogLimits): void {
  const positive: Array<[string, number]> = [...Object.entries(c), ...Object.entries(l)];
  for (const [name, value] of positive) {
    if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
  // One transaction must fit one group commit, and a whole frame must fit the send queue.
  if (l.groupCommitBytesMax < c.frameBytesMax) throw new RangeError('groupCommitBytesMax must be at least frameBytesMax');
  if (c.sendQueueBytesMax < c.frameBytesMax) throw new RangeError('sendQueueBytesMax must be at least frameBytesMax');
  // A client with a full window of requests in flight must still get its resends answered.
  if (l.dedupWindow < c.inFlightMax) throw new RangeError('dedupWindow must be at least inFlightMax');
  // One read must fit each read budget, or it could never start.
  if (l.readBytesInFlightPerConnectionMax < l.readBytesMax) throw new RangeError('readBytesInFlightPerConnectionMax must be at least readBytesMax');
  if (l.readBytesInFlightMax < l.readBytesInFlightPerConnectionMax) throw new RangeError('readBytesInFlightMax must be at least readBytesInFlightPerConnectionMax');
  if (c.handshakeTimeoutMs > c.idleTimeoutMs) throw new RangeError('handshakeTimeoutMs must not exceed idleTimeoutMs');
}
