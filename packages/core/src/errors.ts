/**
 * Every error Kiln raises or sends over the wire. One class per condition; `name` equals the
 * class name and never changes. Data travels as fields, never inside the message text, so a
 * client rebuilds the same class with the same fields from an error frame.
 *
 * Programmer mistakes and broken invariants are not here: those are `TypeError` or a failed
 * {@link assert}, and stop the process.
 *
 * @packageDocumentation
 */

/** Fields an error carries over the wire, besides `name` and `message`. */
export type ErrorFields = Record<string, string | number | boolean | null>;

/** Base class of every Kiln error. */
export class KilnError extends Error {
  /** True when trying the same operation again, unchanged, may succeed. */
  readonly retryable: boolean = false;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }

  /** The fields that describe this error, sent over the wire with `name` and `message`. */
  fields(): ErrorFields {
    return {};
  }
}

/** An append's expected version did not match the stream's actual version. */
export class WrongExpectedVersionError extends KilnError {
  constructor(
    readonly stream: string,
    readonly expected: string | number,
    readonly actual: number,
  ) {
    super(`stream '${stream}': expected version ${String(expected)}, actual ${describeVersion(actual)}`);
  }

  override fields(): ErrorFields {
    return { stream: this.stream, expected: this.expected, actual: this.actual };
  }
}

function describeVersion(version: number): string {
  return version < 0 ? 'no stream' : String(version);
}

/** An argument or request field broke a rule. Nothing was changed. */
export class InvalidArgumentError extends KilnError {
  constructor(
    readonly field: string,
    readonly rule: string,
  ) {
    super(`${field}: ${rule}`);
  }

  override fields(): ErrorFields {
    return { field: this.field, rule: this.rule };
  }
}

/** A configuration value broke a rule; `field` is its path, for example `listen[0]`. */
export class ConfigError extends InvalidArgumentError {}

/** A frame was larger than the connection's frame cap. The connection closes. */
export class FrameTooLargeError extends KilnError {
  constructor(
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(`frame of ${bytes} bytes exceeds the limit of ${limit} bytes`);
  }

  override fields(): ErrorFields {
    return { bytes: this.bytes, limit: this.limit };
  }
}

/** A frame could not be decoded or came out of turn. The connection closes. */
export class ProtocolError extends KilnError {}

/** The peer speaks a protocol version this side does not. */
export class UnsupportedProtocolVersionError extends KilnError {
  constructor(
    readonly version: number,
    readonly supported: number,
  ) {
    super(`protocol version ${version} is not supported (this side speaks ${supported})`);
  }

  override fields(): ErrorFields {
    return { version: this.version, supported: this.supported };
  }
}

/** A connection sent too many requests without waiting for replies. */
export class TooManyInFlightError extends KilnError {
  override readonly retryable = true;

  constructor(readonly limit: number) {
    super(`more than ${limit} requests in flight on one connection`);
  }

  override fields(): ErrorFields {
    return { limit: this.limit };
  }
}

/** The server refused a connection because it already holds its maximum. */
export class TooManyConnectionsError extends KilnError {
  override readonly retryable = true;

  constructor(readonly limit: number) {
    super(`the server already holds its maximum of ${limit} connections`);
  }

  override fields(): ErrorFields {
    return { limit: this.limit };
  }
}

/** A connection closed, or was closed, with the given reason. */
export class ConnectionClosedError extends KilnError {
  override readonly retryable = true;

  constructor(readonly reason: string) {
    super(`connection closed: ${reason}`);
  }

  override fields(): ErrorFields {
    return { reason: this.reason };
  }
}

/** Nothing accepted a connection at the given address. */
export class ConnectionRefusedError extends KilnError {
  override readonly retryable = true;

  constructor(
    readonly url: string,
    options?: { cause?: unknown },
  ) {
    super(`connection to ${url} refused`, options);
  }

  override fields(): ErrorFields {
    return { url: this.url };
  }
}

/** A peer did not read fast enough: its queued bytes passed the cap, so the connection closed. */
export class SendQueueFullError extends KilnError {
  constructor(
    readonly queuedBytes: number,
    readonly limit: number,
  ) {
    super(`${queuedBytes} bytes queued for a peer that does not read (limit ${limit})`);
  }

  override fields(): ErrorFields {
    return { queuedBytes: this.queuedBytes, limit: this.limit };
  }
}

/** An operation did not finish within its time limit. Whether it took effect is unknown. */
export class TimeoutError extends KilnError {
  override readonly retryable = true;

  constructor(
    readonly operation: string,
    readonly timeoutMs: number,
  ) {
    super(`${operation} did not finish within ${timeoutMs} ms`);
  }

  override fields(): ErrorFields {
    return { operation: this.operation, timeoutMs: this.timeoutMs };
  }
}

/** The operation was aborted through its `AbortSignal`. */
export class AbortError extends KilnError {
  constructor(message = 'the operation was aborted') {
    super(message);
  }
}

/** No transport given to this client or server handles the URL's scheme. */
export class UnsupportedSchemeError extends KilnError {
  constructor(readonly url: string) {
    super(`no transport handles the scheme of ${url}`);
  }

  override fields(): ErrorFields {
    return { url: this.url };
  }
}

/** The store was used while closed or closing. */
export class StoreClosedError extends KilnError {
  constructor() {
    super('the store is not open');
  }
}

/** A store write failed; the store refuses further work, since what reached the disk is unknown. */
export class StoreFailedError extends KilnError {
  constructor(options?: { cause?: unknown }) {
    super('a store write failed; the store accepts no more work until it is reopened', options);
  }
}

/** A record failed its length or CRC check at a place where a torn tail is impossible. */
export class CorruptRecordError extends KilnError {
  constructor(
    readonly lsn: number,
    readonly detail: string,
  ) {
    super(`record at LSN ${lsn} is corrupt: ${detail}`);
  }

  override fields(): ErrorFields {
    return { lsn: this.lsn, detail: this.detail };
  }
}

/**
 * A record is of a kind this code does not implement (one reserved for a later version, say):
 * a newer Kiln wrote it. It is not corruption, and recovery never drops it.
 */
export class UnsupportedRecordKindError extends KilnError {
  constructor(
    readonly lsn: number,
    readonly kind: number,
  ) {
    super(`record at LSN ${lsn} is of kind ${kind}, which this version of Kiln does not read`);
  }

  override fields(): ErrorFields {
    return { lsn: this.lsn, kind: this.kind };
  }
}

/**
 * A store records an on-disk format version this code does not read: a newer Kiln wrote it.
 * The store was not changed; open it with that version or a later one.
 */
export class UnsupportedFormatVersionError extends KilnError {
  constructor(
    /** The version the store records; 0 when what it records is not a version at all. */
    readonly version: number,
    /** The newest version this code reads (and the one it writes). */
    readonly supported: number,
  ) {
    super(`the store is in format version ${version}; this version of Kiln reads format versions 1 to ${supported}`);
  }

  override fields(): ErrorFields {
    return { version: this.version, supported: this.supported };
  }
}

/** A segment did not follow the log: an LSN gap, or a term lower than the last record's. */
export class LogOrderError extends KilnError {
  constructor(detail: string) {
    super(detail);
  }
}

/**
 * A resent transaction's `(clientId, seq)` is older than the de-duplication window, so the
 * server can no longer tell whether it committed. Read the stream to find out.
 */
export class SequenceExpiredError extends KilnError {
  constructor(
    readonly clientId: string,
    readonly seq: number,
  ) {
    super(`transaction ${clientId}#${seq} is older than the de-duplication window`);
  }

  override fields(): ErrorFields {
    return { clientId: this.clientId, seq: this.seq };
  }
}

/**
 * A transaction reused a `(clientId, seq)` that the server holds, committed or in flight, for a
 * transaction that writes something else. Nothing was written. A client made by `connect()`
 * never does this; a hand-rolled client that restarts its sequence, or two that share one id, do.
 */
export class SequenceReusedError extends KilnError {
  constructor(
    readonly clientId: string,
    readonly seq: number,
  ) {
    super(`transaction ${clientId}#${seq} was already taken by a transaction that writes something else`);
  }

  override fields(): ErrorFields {
    return { clientId: this.clientId, seq: this.seq };
  }
}

/**
 * This server is not its group's active, or stopped being it before the request committed. A
 * transaction that got this may or may not commit under the new active: resend it with the same
 * client (the client does so itself), and the new active answers with the original result.
 */
export class NotActiveError extends KilnError {
  override readonly retryable = true;

  constructor(
    /** A client URL of the active this server knows of, or null when it knows none. */
    readonly active: string | null,
  ) {
    super(active ? `this server is not the active; try ${active}` : 'this server is not the active, and no active is known yet');
  }

  override fields(): ErrorFields {
    return { active: this.active };
  }
}

/** The server is shutting down; the request was not carried out. */
export class ServerShuttingDownError extends KilnError {
  override readonly retryable = true;

  constructor() {
    super('the server is shutting down');
  }
}

/** The server failed its store and stopped accepting work; nothing after the failure is acknowledged. */
export class ServerFailedError extends KilnError {
  constructor(options?: { cause?: unknown }) {
    super('the server stopped after a store failure', options);
  }
}

/** The client was closed by the application. */
export class ClientClosedError extends KilnError {
  constructor() {
    super('the client is closed');
  }
}

/** An error frame named a class this side does not know (a newer server, say). */
export class RemoteError extends KilnError {
  constructor(
    readonly remoteName: string,
    message: string,
    readonly remoteFields: ErrorFields,
  ) {
    super(`${remoteName}: ${message}`);
  }

  override fields(): ErrorFields {
    return this.remoteFields;
  }
}

/** Builds an error from its wire fields; each known class has one. */
type ErrorFactory = (message: string, f: ErrorFields) => KilnError;

const str = (v: unknown): string => String(v ?? '');
const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v));

const factories: Record<string, ErrorFactory> = {
  WrongExpectedVersionError: (_m, f) =>
    new WrongExpectedVersionError(str(f.stream), typeof f.expected === 'number' ? f.expected : str(f.expected), num(f.actual)),
  InvalidArgumentError: (_m, f) => new InvalidArgumentError(str(f.field), str(f.rule)),
  ConfigError: (_m, f) => new ConfigError(str(f.field), str(f.rule)),
  FrameTooLargeError: (_m, f) => new FrameTooLargeError(num(f.bytes), num(f.limit)),
  ProtocolError: (m) => new ProtocolError(m),
  UnsupportedProtocolVersionError: (_m, f) => new UnsupportedProtocolVersionError(num(f.version), num(f.supported)),
  TooManyInFlightError: (_m, f) => new TooManyInFlightError(num(f.limit)),
  TooManyConnectionsError: (_m, f) => new TooManyConnectionsError(num(f.limit)),
  ConnectionClosedError: (_m, f) => new ConnectionClosedError(str(f.reason)),
  SendQueueFullError: (_m, f) => new SendQueueFullError(num(f.queuedBytes), num(f.limit)),
  TimeoutError: (_m, f) => new TimeoutError(str(f.operation), num(f.timeoutMs)),
  StoreClosedError: () => new StoreClosedError(),
  StoreFailedError: () => new StoreFailedError(),
  CorruptRecordError: (_m, f) => new CorruptRecordError(num(f.lsn), str(f.detail)),
  UnsupportedRecordKindError: (_m, f) => new UnsupportedRecordKindError(num(f.lsn), num(f.kind)),
  UnsupportedFormatVersionError: (_m, f) => new UnsupportedFormatVersionError(num(f.version), num(f.supported)),
  LogOrderError: (m) => new LogOrderError(m),
  SequenceExpiredError: (_m, f) => new SequenceExpiredError(str(f.clientId), num(f.seq)),
  SequenceReusedError: (_m, f) => new SequenceReusedError(str(f.clientId), num(f.seq)),
  ServerShuttingDownError: () => new ServerShuttingDownError(),
  NotActiveError: (_m, f) => new NotActiveError(typeof f.active === 'string' ? f.active : null),
  ServerFailedError: () => new ServerFailedError(),
};

/** The wire form of an error: its class name, message and fields. */
export interface WireError {
  name: string;
  message: string;
  fields: ErrorFields;
}

/** Turns an error into its wire form; anything not a KilnError is reported without detail. */
export function errorToWire(error: unknown): WireError {
  if (error instanceof KilnError) return { name: error.name, message: error.message, fields: error.fields() };
  return { name: 'InternalError', message: 'internal server error', fields: {} };
}

/** Rebuilds the error class the other side raised; an unknown name becomes a {@link RemoteError}. */
export function errorFromWire(wire: WireError): KilnError {
  const factory = factories[wire.name];
  return factory ? factory(wire.message, wire.fields) : new RemoteError(wire.name, wire.message, wire.fields);
}
