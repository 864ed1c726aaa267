/** The options of the TCP transport, shared by its dialer and its listener. */

import type { SecureContext } from 'node:tls';

/**
 * TLS for `tls://` URLs. A `tls://` listener needs `cert` and `key`; a dialer needs nothing unless
 * the server's certificate is not from a CA the system trusts (then `ca`), or the server asks for
 * a certificate (mutual TLS: then `cert` and `key`).
 */
export interface TcpTlsOptions {
  /**
   * PEM certificates to trust in place of the system's: a dialer verifies servers with them, a
   * listener asking for certificates (mutual TLS) verifies its clients with them.
   * @default the system's trusted CAs
   */
  ca?: string | Buffer | ReadonlyArray<string | Buffer>;
  /** The PEM certificate (chain) this side presents. */
  cert?: string | Buffer;
  /** The PEM private key of {@link cert}. Never logged, never part of an error. */
  key?: string | Buffer;
  /**
   * The name a dialer expects on the server's certificate, and sends as SNI.
   * @default the URL's host
   */
  servername?: string;
}

/** Options of `tcpTransport`. */
export interface TcpTransportOptions {
  /** TLS for `tls://` URLs; see {@link TcpTlsOptions}. @default none: `tls://` dials trust the system's CAs, and cannot listen */
  tls?: TcpTlsOptions;
  /**
   * Time a `tls://` connection gets to say its first byte and finish its TLS handshake, in
   * milliseconds; a listener then drops it.
   * @default 10000
   */
  tlsHandshakeTimeoutMs?: number;
  /**
   * Time a closing connection gets to flush its last frames and its close reason before its
   * socket is destroyed, in milliseconds. Only a peer that stops reading ever waits this long.
   * @default 2000
   */
  closeTimeoutMs?: number;
  /** Unread incoming frames held per connection before its socket pauses. @default 1024 */
  receiveQueueFramesMax?: number;
  /** Unread incoming bytes held per connection before its socket pauses. @default 1 MiB */
  receiveQueueBytesMax?: number;
  /** Pending connections the operating system queues for a listener. @default 511 */
  backlog?: number;
}

/** {@link TcpTransportOptions} with every default filled in. */
export interface ResolvedTcpOptions {
  /** The TLS settings as given; a `tls://` listener needs their `cert` and `key`. */
  tls: TcpTlsOptions | undefined;
  /** The TLS settings as one context for dialing, made once; undefined when none were given. */
  secureContext: SecureContext | undefined;
  tlsHandshakeTimeoutMs: number;
  closeTimeoutMs: number;
  receiveQueueFramesMax: number;
  receiveQueueBytesMax: number;
  backlog: number;
}
