/**
 * A connection or its transport failed or refused: frames too large or malformed, protocol
 * versions that do not match, caps on requests, connections and queued bytes, closed or refused
 * connections, schemes no transport handles.
 *
 * @packageDocumentation
 */
import { KilnError, num, str, type ErrorFields } from './base.js';

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

/** Nothing accepted a connection at the given address; the message says why when the dial knew (no such host, say). */
export class ConnectionRefusedError extends KilnError {
  static override readonly name: string = 'ConnectionRefusedError';

  override readonly retryable = true;

  constructor(
    readonly url: string,
    /** `cause`: the dial's own error; its code, when it says more than a refusal, is named in the message. */
    options?: { cause?: unknown },
  ) {
    super(`connection to ${url} refused${refusedBecause(options?.cause)}`, options);
  }

  override fields(): ErrorFields {
    return { url: this.url };
  }
}

/** What a dial's error code says beyond a refusal: a mistyped host name reads as one otherwise. */
const DIAL_FAILURES: Readonly<Record<string, string>> = {
  ENOTFOUND: 'no such host',
  EAI_AGAIN: 'the host name could not be looked up now',
  EHOSTUNREACH: 'the host is unreachable',
  ENETUNREACH: 'the network is unreachable',
  EADDRNOTAVAIL: 'the address is not available on this machine',
  // The WebSocket dialer's HTTP parser, meeting a port that does not speak HTTP.
  HPE_INVALID_CONSTANT: 'the server did not answer in HTTP (is it a tcp:// address?)',
};

/** ': why' when the dial's error says more than a refusal (a transport's own error carries no code), else ''. */
function refusedBecause(cause: unknown): string {
  const code = (cause as { code?: unknown } | undefined)?.code;
  const why = typeof code === 'string' ? DIAL_FAILURES[code] : cause instanceof Error ? cause.message : undefined;
  return why ? `: ${why}` : '';
}

/**
 * TLS did not come up: the other side does not speak TLS (a plain client at a `tls://` port, or a
 * `tls://` client at a plain one), or a certificate was refused (none, another CA, expired, a
 * name that does not match). The connection closes; the reason says which.
 */
export class TlsError extends KilnError {
  static override readonly name: string = 'TlsError';

  constructor(
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`TLS failed: ${reason}`, options);
  }

  override fields(): ErrorFields {
    return { reason: this.reason };
  }

  /** Rebuilds the error from its wire form. */
  static fromWire(_message: string, fields: ErrorFields): TlsError {
    return new TlsError(str(fields.reason));
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
