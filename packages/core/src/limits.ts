/**
 * Every default limit and timeout in one place, with the checks that they fit together.
 * `docs/LIMITS.md` lists each one and what happens when it is reached.
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
});

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
