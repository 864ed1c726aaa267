/** Options of `wsTransport`, shared by the Node and browser entries. Imports nothing from `node:`. */

/** TLS settings: a certificate and key to listen on `wss://`, and whom to trust when dialing one. */
export interface WsTlsOptions {
  /** Path of the PEM certificate (chain) a `wss://` listener presents. Node only. */
  certFile?: string;
  /** Path of the PEM private key of {@link certFile}. Node only. */
  keyFile?: string;
  /** Passphrase of {@link keyFile}, when it is encrypted. Node only. */
  passphrase?: string;
  /**
   * PEM certificates a Node dialer trusts for `wss://`, in place of the system's (a self-signed
   * server, say). Browsers use their own trust store and ignore it.
   */
  ca?: string | readonly string[];
  /**
   * Whether a Node dialer refuses a `wss://` server whose certificate it cannot verify. Browsers
   * always verify.
   * @default true
   */
  rejectUnauthorized?: boolean;
}

/** Options of `wsTransport`. */
export interface WsTransportOptions {
  /** TLS for `wss://` URLs. A `wss://` listener needs `certFile` and `keyFile`. */
  tls?: WsTlsOptions;
  /**
   * Seconds a listener's connection may go without receiving anything before uWebSockets.js
   * drops it. The listener pings idle clients automatically (they answer on their own), so this
   * only catches peers that vanished without a close. uWebSockets.js rounds it to its 4-second
   * granularity; 0 disables it.
   * @default 120
   */
  idleTimeoutSeconds?: number;
  /**
   * Time a connection closed from this side gets to finish the WebSocket closing handshake before
   * its socket is dropped, in milliseconds. Only a peer that stops reading waits this long.
   * @default 2000
   */
  closeTimeoutMs?: number;
  /**
   * Bytes the WebSocket may hold unsent before the connection tells its writer to wait (the
   * high-water mark). Queued bytes past `sendQueueBytesMax` still close the connection.
   * @default 262144 (256 KiB)
   */
  writeBufferBytesMax?: number;
  /**
   * Origins of web pages (`https://app.example.com`) a listener lets in besides pages served from
   * the host they dial when that is an IP address or `localhost`; `'*'` lets every page in.
   * Clients that are no browser send no origin and are always let in.
   * @default []
   */
  origins?: readonly string[];
  /** Unread incoming frames held per connection before it asks to stop reading. @default 1024 */
  receiveQueueFramesMax?: number;
  /** Unread incoming bytes held per connection before it asks to stop reading. @default 1 MiB */
  receiveQueueBytesMax?: number;
  /**
   * Bytes a connection still accepts after it asked to stop reading when its WebSocket cannot
   * pause (uWebSockets.js on the server, the browser's WebSocket); past it, or past
   * `receiveQueueFramesMax` more frames, the connection closes with `ProtocolError`. At least
   * one frame (`frameBytesMax`) always fits. The Node dialer pauses its socket instead.
   * @default 8 MiB
   */
  receiveOverflowBytesMax?: number;
  /**
   * How often a browser connection waiting to write checks whether its WebSocket drained, in
   * milliseconds. Browsers have no drain event, so this is polled.
   * @default 10
   */
  drainPollMs?: number;
}

const KiB = 1024;
const MiB = 1024 * KiB;

/** {@link WsTransportOptions} with every default filled in. */
export interface ResolvedWsOptions {
  tls: WsTlsOptions;
  origins: readonly string[];
  idleTimeoutSeconds: number;
  closeTimeoutMs: number;
  writeBufferBytesMax: number;
  receiveQueueFramesMax: number;
  receiveQueueBytesMax: number;
  receiveOverflowBytesMax: number;
  drainPollMs: number;
}

/** Fills in the defaults. */
export function resolveWsOptions(options: WsTransportOptions): ResolvedWsOptions {
  const resolved: ResolvedWsOptions = {
    tls: options.tls ?? {},
    origins: options.origins ?? [],
    idleTimeoutSeconds: options.idleTimeoutSeconds ?? 120,
    closeTimeoutMs: options.closeTimeoutMs ?? 2000,
    writeBufferBytesMax: options.writeBufferBytesMax ?? 256 * KiB,
    receiveQueueFramesMax: options.receiveQueueFramesMax ?? 1024,
    receiveQueueBytesMax: options.receiveQueueBytesMax ?? 1 * MiB,
    receiveOverflowBytesMax: options.receiveOverflowBytesMax ?? 8 * MiB,
    drainPollMs: options.drainPollMs ?? 10,
  };
  for (const [name, value] of Object.entries(resolved)) {
    if (typeof value !== 'number') continue;
    const zeroAllowed = name === 'idleTimeoutSeconds';
    if (!Number.isSafeInteger(value) || value < 0 || (value === 0 && !zeroAllowed)) {
      throw new RangeError(`${name} must be a ${zeroAllowed ? 'non-negative' : 'positive'} integer, got ${value}`);
    }
  }
  return resolved;
}
