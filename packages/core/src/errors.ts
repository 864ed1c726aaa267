/**
 * Every error Kiln raises or sends over the wire. One class per condition; `name` equals the
 * class name, is declared as a literal (`static name`) so a minified bundle keeps it, and never
 * changes. Data travels as fields, never inside the message text, so a
 * client rebuilds the same class with the same fields from an error frame.
 *
 * Programmer mistakes and broken invariants are not here: those are `TypeError` or a failed
 * {@link assert}, and stop the process.
 *
 * @packageDocumentation
 */

/** Fields an error carries over the wire, besides `name` and `message`. */
export type ErrorFields = Record<string, string | number | boolean | null>;

// Wire fields are checked loosely: a field of the wrong type becomes a harmless string or NaN.
const str = (v: unknown): string => String(v ?? '');
const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v));

/** Base class of every Kiln error. */
export class KilnError extends Error {
  static override readonly name: string = 'KilnError';

  /** True when trying the same operation again, unchanged, may succeed. */
  readonly retryable: boolean = false;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    // Every subclass declares its `name` as a literal, so this survives minifying.
    this.name = new.target.name;
  }

  /** The fields that describe this error, sent over the wire with `name` and `message`. */
  fields(): ErrorFields {
    return {};
  }
}

/** An append's expected version did not match the stream's actual version. */
export class WrongExpectedVersionError extends KilnError {
  static override readonly name: string = 'WrongExpectedVersionError';

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

  /** Rebuilds the error from its wire form. */
  static fromWire(_message: string, fields: ErrorFields): WrongExpectedVersionError {
    return new WrongExpectedVersionError(str(fields.stream), typeof fields.expected === 'number' ? fields.expected : str(fields.expected), num(fields.actual));
  }
}

function describeVersion(version: number): string {
  return version < 0 ? 'no stream' : String(version);
}

/** An argument or request field broke a rule. Nothing was changed. */
export class InvalidArgumentError extends KilnError {
  static override readonly name: string = 'InvalidArgumentError';

  constructor(
    readonly field: string,
    readonly rule: string,
  ) {
    super(`${field}: ${rule}`);
  }

  override fields(): ErrorFields {
    return { field: this.field, rule: this.rule };
  }

  /** Rebuilds the error from its wire form. */
  static fromWire(_message: string, fields: ErrorFields): InvalidArgumentError {
    return new InvalidArgumentError(str(fields.field), str(fields.rule));
  }
}

/** A configuration value broke a rule; `field` is its path, for example `listen[0]`. */
export class ConfigError extends InvalidArgumentError {
  static override readonly name: string = 'ConfigError';

  /** Rebuilds the error from its wire form. */
  static fromWire(_message: string, fields: ErrorFields): ConfigError {
    return new ConfigError(str(fields.field), str(fields.rule));
  }
}

/** A frame was larger than the connection's frame cap. The connection closes. */
export class FrameTooLargeError extends KilnError {
  static override readonly name: string = 'FrameTooLargeError';

  constructor(
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(`frame of ${bytes} bytes exceeds the limit of ${limit} bytes`);
  }

  override fields(): ErrorFields {
    return { bytes: this.bytes, limit: this.limit };
  }

  /** Rebuilds the error from its wire form. */
  static fromWire(_message: string, fields: ErrorFields): FrameTooLargeError {
    return new FrameTooLargeError(num(fields.bytes), num(fields.limit));
  }
}

/** A frame could not be decoded or came out of turn. The connection closes. */
export class ProtocolError extends KilnError {
  static override readonly name: string = 'ProtocolError';

  /** Rebuilds the error from its wire form. */
  static fromWire(message: string, _fields: ErrorFields): ProtocolError {
    return new ProtocolError(message);
  }
}

/** The peer speaks a protocol version this side does not. */
export class UnsupportedProtocolVersionError extends KilnError {
  static override readonly name: string = 'UnsupportedProtocolVersionError';

  constructor(
    readonly version: number,
    readonly supported: number,
  ) {
    super(`protocol version ${version} is not supported (this side speaks ${supported})`);
  }

  override fields(): ErrorFields {
    return { version: this.version, supported: this.supported };
  }

  /** Rebuilds the error from its wire form. */
  static fromWire(_message: string, fields: ErrorFields): UnsupportedProtocolVersionError {
    return new UnsupportedProtocolVersionError(num(fields.version), num(fields.supported));
  }
}

/** A connection sent too many requests without waiting for replies. */
export class TooManyInFlightError extends KilnError {
  static override readonly name: string = 'TooManyInFlightError';

  override readonly retryable = true;

  constructor(readonly limit: number) {
    super(`more than ${limit} requests in flight on one connection`);
  }

  override fields(): ErrorFields {
    return { limit: this.limit };
  }

  /** Rebuilds the error from its wire form. */
  static fromWire(_message: string, fields: ErrorFields): TooManyInFlightError {
    return new TooManyInFlightError(num(fields.limit));
  }
}

/** The server refused a connection because it already holds its maximum. */
export class TooManyConnectionsError extends KilnError {
  static override readonly name: string = 'TooManyConnectionsError';

  override readonly retryable = true;

  constructor(readonly limit: number) {
    super(`the server already holds its maximum of ${limit} connections`);
  }

  override fields(): ErrorFields {
    return { limit: this.limit };
  }

  /** Rebuilds the error from its wire form. */
  static fromWire(_message: string, fields: ErrorFields): TooManyConnectionsError {
    return new TooManyConnectionsError(num(fields.limit));
  }
}

/** A connection closed, or was closed, with the given reason. */
export class ConnectionClosedError extends KilnError {
  static override readonly name: string = 'ConnectionClosedError';

  override readonly retryable = true;

  constructor(readonly reason: string) {
    super(`connection closed: ${reason}`);
  }

  override fields(): ErrorFields {
    return { reason: this.reason };
  }

  /** Rebuilds the error from its wire form. */
  static fromWire(_message: string, fields: ErrorFields): ConnectionClosedError {
    return new ConnectionClosedError(str(fields.reason));
  }
}

/** Nothing accepted a connection at the given address. */
export class ConnectionRefusedError extends KilnError {
  static override readonly name: string = 'ConnectionRefusedError';

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
  static override readonly name: string = 'SendQueueFullError';

  constructor(
    readonly queuedBytes: number,
    readonly limit: number,
  ) {
    super(`${queuedBytes} bytes queued for a peer that does not read (limit ${limit})`);
  }

  override fields(): ErrorFields {
    return { queuedBytes: this.queuedBytes, limit: this.limit };
  }

  /** Rebuilds the error from its wire form. */
  static fromWire(_message: string, fields: ErrorFields): SendQueueFullError {
    return new SendQueueFullError(num(fields.queuedBytes), num(fields.limit));
  }
}

/** An operation did not finish within its time limit. Whether it took effect is unknown. */
export class TimeoutError extends KilnError {
  static override readonly name: string = 'TimeoutError';

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

  /** Rebuilds the error from its wire form. */
  static fromWire(_message: string, fields: ErrorFields): TimeoutError {
    return new TimeoutError(str(fields.operation), num(fields.timeoutMs));
  }
}

/** The operation was aborted through its `AbortSignal`. */
export class AbortError extends KilnError {
  static override readonly name: string = 'AbortError';

  constructor(message = 'the operation was aborted') {
    super(message);
  }
}

/** No transport given to this client or server handles the URL's scheme. */
export class UnsupportedSchemeError extends KilnError {
  static override readonly name: string = 'UnsupportedSchemeError';

  constructor(readonly url: string) {
    super(`no transport handles the scheme of ${url}`);
  }

  override fields(): ErrorFields {
    return { url: this.url };
  }
}

/** The store was used while closed or closing. */
export class StoreClosedError extends KilnError {
  static override readonly name: string = 'StoreClosedError';

  constructor() {
    super('the store is not open');
  }

  /** Rebuilds the error from its wire form. */
  static fromWire(_message: string, _fields: ErrorFields): StoreClosedError {
    return new StoreClosedError();
  }
}

/** A store write failed; the store refuses further work, since what reached the disk is unknown. */
export class StoreFailedError extends KilnError {
  static override readonly name: string = 'StoreFailedError';

  constructor(options?: { cause?: unknown }) {
    super('a store write failed; the store accepts no more work until it is reopened', options);
  }

  /** Rebuilds the error from its wire form. */
  static fromWire(_message: string, _fields: ErrorFields): StoreFailedError {
    return new StoreFailedError();
  }
}

/** A record failed its length or CRC check at a place where a torn tail is impossible. */
export class CorruptRecordError extends KilnError {
  static override readonly name: string = 'CorruptRecordError';

  constructor(
    readonly lsn: number,
    readonly detail: string,
  ) {
    super(`record at LSN ${lsn} is corrupt: ${detail}`);
  }

  override fields(): ErrorFields {
    return { lsn: this.lsn, detail: this.detail };
  }

  /** Rebuilds the error from its wire form. */
  static fromWire(_message: string, fields: ErrorFields): CorruptRecordError {
    return new CorruptRecordError(num(fields.lsn), str(fields.detail));
  }
}

/**
 * A record is of a kind this code does not implement (one reserved for a later version, say):
 * a newer Kiln wrote it. It is not corruption, and recovery never drops it.
 */
export class UnsupportedRecordKindError extends KilnError {
  static override readonly name: string = 'UnsupportedRecordKindError';

  constructor(
    readonly lsn: number,
    readonly kind: number,
  ) {
    super(`record at LSN ${lsn} is of kind ${kind}, which this version of Kiln does not read`);
  }

  override fields(): ErrorFields {
    return { lsn: this.lsn, kind: this.kind };
  }

  /** Rebuilds the error from its wire form. */
  static fromWire(_message: string, fields: ErrorFields): UnsupportedRecordKindError {
    return new UnsupportedRecordKindError(num(fields.lsn), num(fields.kind));
  }
}

/**
 * A store records an on-disk format version this code does not read: a newer Kiln wrote it.
 * The store was not changed; open it with that version or a later one.
 */
export class UnsupportedFormatVersionError extends KilnError {
  static override readonly name: string = 'UnsupportedFormatVersionError';

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

  /** Rebuilds the error from its wire form. */
  static fromWire(_message: string, fields: ErrorFields): UnsupportedFormatVersionError {
    return new UnsupportedFormatVersionError(num(fields.version), num(fields.supported));
  }
}

/** A segment did not follow the log: an LSN gap, or a term lower than the last record's. */
export class LogOrderError extends KilnError {
  static override readonly name: string = 'LogOrderError';

  constructor(detail: string) {
    super(detail);
  }

  /** Rebuilds the error from its wire form. */
  static fromWire(message: string, _fields: ErrorFields): LogOrderError {
    return new LogOrderError(message);
  }
}

/**
 * A resent transaction's `(clientId, seq)` is older than the de-duplication window, so the
 * server can no longer tell whether it committed. Read the stream to find out.
 */
export class SequenceExpiredError extends KilnError {
  static override readonly name: string = 'SequenceExpiredError';

  constructor(
    readonly clientId: string,
    readonly seq: number,
  ) {
    super(`transaction ${clientId}#${seq} is older than the de-duplication window`);
  }

  override fields(): ErrorFields {
    return { clientId: this.clientId, seq: this.seq };
  }

  /** Rebuilds the error from its wire form. */
  static fromWire(_message: string, fields: ErrorFields): SequenceExpiredError {
    return new SequenceExpiredError(str(fields.clientId), num(fields.seq));
  }
}

/**
 * A transaction reused a `(clientId, seq)` that the server holds, committed or in flight, for a
 * transaction that writes something else. Nothing was written. A client made by `connect()`
 * never does this; a hand-rolled client that restarts its sequence, or two that share one id, do.
 */
export class SequenceReusedError extends KilnError {
  static override readonly name: string = 'SequenceReusedError';

  constructor(
    readonly clientId: string,
    readonly seq: number,
  ) {
    super(`transaction ${clientId}#${seq} was already taken by a transaction that writes something else`);
  }

  override fields(): ErrorFields {
    return { clientId: this.clientId, seq: this.seq };
  }

  /** Rebuilds the error from its wire form. */
  static fromWire(_message: string, fields: ErrorFields): SequenceReusedError {
    return new SequenceReusedError(str(fields.clientId), num(fields.seq));
  }
}

/**
 * This server is not its group's active, or stopped being it before the request committed. A
 * transaction that got this may or may not commit under the new active: resend it with the same
 * client (the client does so itself), and the new active answers with the original result.
 */
export class NotActiveError extends KilnError {
  static override readonly name: string = 'NotActiveError';

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

  /** Rebuilds the error from its wire form. */
  static fromWire(_message: string, fields: ErrorFields): NotActiveError {
    return new NotActiveError(typeof fields.active === 'string' ? fields.active : null);
  }
}

/** The server is shutting down; the request was not carried out. */
export class ServerShuttingDownError extends KilnError {
  static override readonly name: string = 'ServerShuttingDownError';

  override readonly retryable = true;

  constructor() {
    super('the server is shutting down');
  }

  /** Rebuilds the error from its wire form. */
  static fromWire(_message: string, _fields: ErrorFields): ServerShuttingDownError {
    return new ServerShuttingDownError();
  }
}

/** The server failed its store and stopped accepting work; nothing after the failure is acknowledged. */
export class ServerFailedError extends KilnError {
  static override readonly name: string = 'ServerFailedError';

  constructor(options?: { cause?: unknown }) {
    super('the server stopped after a store failure', options);
  }

  /** Rebuilds the error from its wire form. */
  static fromWire(_message: string, _fields: ErrorFields): ServerFailedError {
    return new ServerFailedError();
  }
}

/** The client was closed by the application. */
export class ClientClosedError extends KilnError {
  static override readonly name: string = 'ClientClosedError';

  constructor() {
    super('the client is closed');
  }
}

/** An error frame named a class this side does not know (a newer server, say). */
export class RemoteError extends KilnError {
  static override readonly name: string = 'RemoteError';

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

/**
 * The classes an error frame may name, each found by its literal `name` (which minifying a
 * bundle does not change) and rebuilt by its own `fromWire`.
 */
const wireClasses = [
  WrongExpectedVersionError,
  InvalidArgumentError,
  ConfigError,
  FrameTooLargeError,
  ProtocolError,
  UnsupportedProtocolVersionError,
  TooManyInFlightError,
  TooManyConnectionsError,
  ConnectionClosedError,
  SendQueueFullError,
  TimeoutError,
  StoreClosedError,
  StoreFailedError,
  CorruptRecordError,
  UnsupportedRecordKindError,
  UnsupportedFormatVersionError,
  LogOrderError,
  SequenceExpiredError,
  SequenceReusedError,
  ServerShuttingDownError,
  NotActiveError,
  ServerFailedError,
];
const fromWireByName = new Map<string, (message: string, fields: ErrorFields) => KilnError>(
  wireClasses.map((errorClass) => [errorClass.name, (message, fields) => errorClass.fromWire(message, fields)]),
);

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
  const fromWire = fromWireByName.get(wire.name);
  return fromWire ? fromWire(wire.message, wire.fields) : new RemoteError(wire.name, wire.message, wire.fields);
}
