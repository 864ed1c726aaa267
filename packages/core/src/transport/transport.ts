/**
 * The Transport interface: how frames move between a client or peer and a server.
 *
 * A transport moves opaque frames (`Uint8Array`) and never parses MessagePack. It opens sockets,
 * writes bytes and says whether more fit, hands over whole frames and closes. Queueing, caps and
 * close bookkeeping live once in core's {@link FramedConnection}, which transports extend. A new
 * transport is done when `transportConformance` from `@kiln/core/testing` passes against it.
 */

/** Options for one listener. */
export interface ListenOptions {
  /** Largest frame accepted; a larger one closes its connection with `FrameTooLargeError`. */
  frameBytesMax: number;
  /** Bytes queued for one connection before it closes with `SendQueueFullError`. */
  sendQueueBytesMax: number;
  /** Connections held at once; the next one is refused while the older ones live. */
  connectionsMax: number;
  /**
   * Mutual TLS: every connection must present a certificate of the transport's CA carrying one
   * of these names, or it is refused before any frame is read. A transport that cannot check
   * certificates, or a URL without TLS, refuses to listen with it.
   * @default none: no certificate is asked for
   */
  requireCertificate?: CertificateRequirement;
}

/** Who may connect to a listener with mutual TLS, and where refusals are reported. */
export interface CertificateRequirement {
  /** Names accepted on a certificate (its common name or a DNS subject alternative name). */
  names: readonly string[];
  /** Hears every refused connection: its remote address and why (never key material). */
  onRefused: (remoteAddress: string, reason: string) => void;
}

/** Options for one dial. */
export interface DialOptions {
  /** Largest frame accepted from the server. */
  frameBytesMax: number;
  /** Bytes queued before the connection closes with `SendQueueFullError`. */
  sendQueueBytesMax: number;
  /** Aborts the dial; it then rejects with `AbortError`. */
  signal?: AbortSignal;
  /**
   * The name the server's certificate must carry (a member's name on a peer link), where the
   * transport checks certificates; the dial rejects with `TlsError` otherwise.
   * @default the URL's host
   */
  serverName?: string;
}

/** Moves frames for one or more URL schemes. */
export interface Transport {
  /** A short name, for logs: `tcp`, `ws`, `in-process`. */
  readonly name: string;
  /** URL schemes handled, without the colon: `['tcp']`, `['ws', 'wss']`. */
  readonly schemes: readonly string[];
  /**
   * Listens at `url` and hands each new connection to `onConnection`. Absent on dial-only
   * transports (a browser's WebSocket).
   */
  listen?(url: string, onConnection: (connection: Connection) => void, options: ListenOptions): Promise<Listener>;
  /**
   * Opens a connection.
   * @throws ConnectionRefusedError when nothing accepts at `url`
   * @throws AbortError when `options.signal` aborts first
   */
  dial(url: string, options: DialOptions): Promise<Connection>;
}

/** A bound listening socket. */
export interface Listener {
  /** The bound address as a URL, with the real port after listening on port 0. */
  readonly url: string;
  /** Connections open now. */
  readonly connectionCount: number;
  /** Stops accepting, closes every connection, and resolves once the address is free again. */
  close(): Promise<void>;
}

/** What {@link Connection.send} did with a frame. */
export type SendResult = 'written' | 'queued';

/** One open connection: whole frames in both directions. */
export interface Connection extends AsyncIterable<Uint8Array> {
  /** The remote address, for logs. */
  readonly remoteAddress: string;
  /**
   * The name on the certificate the other side presented, when the listener required one
   * ({@link ListenOptions.requireCertificate}) and verified it; undefined otherwise.
   */
  readonly certificateName?: string | undefined;
  /** True while the connection is open and its queue is below the high-water mark. */
  readonly writable: boolean;
  /** Bytes queued and not yet handed to the operating system. */
  readonly queuedBytes: number;
  /**
   * Sends one frame: `written` if it went straight out, `queued` if it waits behind others (then
   * wait for {@link whenWritable} before sending more). Past the queue cap the connection closes
   * with `SendQueueFullError`.
   * @throws FrameTooLargeError when the frame exceeds the frame cap; the connection stays open
   * @throws ConnectionClosedError when the connection is closed
   */
  send(frame: Uint8Array): SendResult;
  /**
   * Writes the frames sent so far at once, where the transport would otherwise gather them until
   * the end of the event-loop turn: for a sender that knows nothing more comes this turn, such as
   * an active shipping a group commit from a callback that itself ran at a turn's end. Optional: a
   * transport that gathers nothing has nothing to write.
   */
  writeNow?(): void;
  /** Resolves once the queue drains below the high-water mark; rejects if the connection closes. */
  whenWritable(): Promise<void>;
  /**
   * A frame already received and not yet read, taken without waiting; undefined when there is
   * none. A reader that serves frames synchronously drains a burst with it, instead of a promise
   * per frame from the iterator, which it then waits on only when this is empty.
   */
  takeReceived?(): Uint8Array | undefined;
  /**
   * Closes the connection. The reason reaches the other side's `closed` where the transport can
   * carry it. Frames already received can still be read.
   */
  close(reason?: string): void;
  /** Resolves, never rejects, with the reason once the connection is closed from either side. */
  readonly closed: Promise<ConnectionCloseInfo>;
}

/** Why a connection closed. */
export interface ConnectionCloseInfo {
  /** A short reason: what `close(reason)` was given, or what went wrong. */
  reason: string;
  /** True when this side called `close`. */
  local: boolean;
  /** The error behind the close, when there was one (`FrameTooLargeError`, `SendQueueFullError`, ...). */
  error?: Error;
}
