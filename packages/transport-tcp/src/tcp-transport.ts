/** The TCP transport: `listen` and `dial` over `node:net`, and over `node:tls` for `tls://`. */
import { connect, type Socket } from 'node:net';
import { AbortError, ConnectionRefusedError, defaultReceiveQueueBytesMax, defaultReceiveQueueFramesMax, type Transport } from '@kiln/core';
import { SocketConnection } from './socket-connection.js';
import { TcpListener } from './tcp-listener.js';
import type { ResolvedTcpOptions, TcpTransportOptions } from './tcp-options.js';
import { secureContextOf } from './tls-accept.js';
import { connectTls, tlsDialError } from './tls-dial.js';
import { formatUrl, parseTcpUrl } from './tcp-url.js';

/** Socket errors that mean nothing accepts at the address. */
const REFUSED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'EADDRNOTAVAIL']);

/**
 * Creates a TCP transport for `tcp://host:port` URLs, and `tls://host:port` ones (TLS on
 * `node:tls`; a listener needs `tls.cert` and `tls.key`).
 *
 * @example
 * ```ts
 * import { createServer, defaultConnectionLimits } from '@kiln/core';
 * import { tcpTransport } from '@kiln/transport-tcp';
 *
 * const tcp = tcpTransport();
 * const server = await createServer({ store, transports: [tcp], listen: ['tcp://127.0.0.1:7410'] });
 * const connection = await tcp.dial('tcp://127.0.0.1:7410', { ...defaultConnectionLimits, signal: AbortSignal.timeout(5000) });
 * ```
 *
 * @example
 * ```ts
 * // TLS: the server presents its certificate; the client trusts the CA that signed it.
 * const server = await createServer({ store, transports: [tcpTransport({ tls: { cert, key } })], listen: ['tls://127.0.0.1:7410'] });
 * const client = await connect('tls://127.0.0.1:7410', { transports: [tcpTransport({ tls: { ca } })] });
 * ```
 * @throws ConfigError when the TLS certificates or key cannot be used
 */
export function tcpTransport(options: TcpTransportOptions = {}): Transport {
  const resolved: ResolvedTcpOptions = {
    tls: options.tls,
    secureContext: secureContextOf(options.tls),
    tlsHandshakeTimeoutMs: options.tlsHandshakeTimeoutMs ?? 10_000,
    closeTimeoutMs: options.closeTimeoutMs ?? 2000,
    receiveQueueFramesMax: options.receiveQueueFramesMax ?? defaultReceiveQueueFramesMax,
    receiveQueueBytesMax: options.receiveQueueBytesMax ?? defaultReceiveQueueBytesMax,
    backlog: options.backlog ?? 511,
  };

  return {
    name: 'tcp',
    schemes: ['tcp', 'tls'],

    listen(url, onConnection, listenOptions) {
      return TcpListener.listen(parseTcpUrl(url), onConnection, listenOptions, resolved);
    },

    dial(url, dialOptions) {
      const address = parseTcpUrl(url);
      const signal = dialOptions.signal;
      if (signal?.aborted) return Promise.reject(new AbortError());
      return new Promise((resolve, reject) => {
        const socket: Socket = address.secure ? connectTls(address, resolved, dialOptions.serverName) : connect({ host: address.host, port: address.port, noDelay: true });
        // A TLS error after the TCP connection opened is TLS failing, not a refusal.
        let opened = false;
        socket.once('connect', () => (opened = true));
        const onAbort = (): void => {
          settle();
          socket.destroy();
          reject(new AbortError());
        };
        const onError = (error: NodeJS.ErrnoException): void => {
          settle();
          socket.destroy();
          if (address.secure && opened) reject(tlsDialError(url, error));
          else if (error.code !== undefined && REFUSED.has(error.code)) reject(new ConnectionRefusedError(url, { cause: error }));
          else reject(error);
        };
        const onConnect = (): void => {
          settle();
          resolve(
            new SocketConnection(socket, {
              remoteAddress: formatUrl(socket.remoteAddress ?? address.host, socket.remotePort ?? address.port, address.secure),
              frameBytesMax: dialOptions.frameBytesMax,
              sendQueueBytesMax: dialOptions.sendQueueBytesMax,
              closeTimeoutMs: resolved.closeTimeoutMs,
              receiveQueueFramesMax: resolved.receiveQueueFramesMax,
              receiveQueueBytesMax: resolved.receiveQueueBytesMax,
            }),
          );
        };
        const settle = (): void => {
          signal?.removeEventListener('abort', onAbort);
          socket.off('error', onError);
          socket.off(address.secure ? 'secureConnect' : 'connect', onConnect);
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        socket.once('error', onError);
        socket.once(address.secure ? 'secureConnect' : 'connect', onConnect);
      });
    },
  };
}
