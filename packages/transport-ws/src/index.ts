/**
 * `@kiln/transport-ws`: Kiln over WebSocket. The listener runs on uWebSockets.js (`App`, or
 * `SSLApp` for `wss://`); the dialer runs on `ws` in Node and on the native `WebSocket` in
 * browsers, chosen by this package's export conditions (`browser` gets a dial-only build that
 * imports nothing from `node:`, uWebSockets.js or `ws`).
 *
 * Each Kiln frame is one binary WebSocket message; the listener's `maxPayloadLength` is the frame
 * cap, so uWebSockets.js refuses a larger message from its header. A close carries its reason in
 * the WebSocket close frame (code 1000, 1008 for a broken rule, 1009 for an oversize frame, 1013
 * for a full listener; at most 123 bytes of reason).
 *
 * @example
 * ```ts
 * import { createServer } from '@kiln/core';
 * import { connect } from '@kiln/core/client';
 * import { memoryStore } from '@kiln/store-memory';
 * import { tcpTransport } from '@kiln/transport-tcp';
 * import { wsTransport } from '@kiln/transport-ws';
 *
 * // One server on TCP and WebSocket at once.
 * const server = await createServer({
 *   store: memoryStore(),
 *   transports: [tcpTransport(), wsTransport()],
 *   listen: ['tcp://127.0.0.1:7410', 'ws://127.0.0.1:7411'],
 * });
 * // In Node or in a browser: the same import, the same client.
 * const client = await connect('ws://127.0.0.1:7411', { transports: [wsTransport()] });
 * ```
 *
 * @packageDocumentation
 */
import { AbortError, InvalidArgumentError, type Transport } from '@kiln/core';
import { dialWithWs } from './ws-dialer.js';
import { resolveWsOptions, type WsTransportOptions } from './ws-options.js';
import { parseWsUrl } from './ws-url.js';

export type { WsTransportOptions, WsTlsOptions } from './ws-options.js';

/**
 * Creates a WebSocket transport for `ws://host:port/path` and `wss://` URLs: it listens (Node
 * only, on uWebSockets.js) and dials (on `ws` in Node, the native `WebSocket` in browsers).
 *
 * @example
 * ```ts
 * const ws = wsTransport({ tls: { certFile: 'cert.pem', keyFile: 'key.pem' } });
 * const server = await createServer({ store, transports: [ws], listen: ['wss://0.0.0.0:7411'] });
 * ```
 */
export function wsTransport(options: WsTransportOptions = {}): Transport {
  const resolved = resolveWsOptions(options);
  return {
    name: 'ws',
    schemes: ['ws', 'wss'],

    async listen(url, onConnection, listenOptions) {
      const address = parseWsUrl(url);
      if (listenOptions.requireCertificate !== undefined) throw new InvalidArgumentError('url', 'mutual TLS (requireCertificate) needs a tls:// address of the TCP transport');
      // Loaded on first listen, so a Node process that only dials never loads the native addon.
      const { WsListener } = await import('./ws-listener.js');
      return WsListener.listen(address, onConnection, listenOptions, resolved);
    },

    dial(url, dialOptions) {
      if (dialOptions.signal?.aborted) return Promise.reject(new AbortError());
      return dialWithWs(url, dialOptions, resolved);
    },
  };
}
