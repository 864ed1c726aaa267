/**
 * `@kiln/transport-ws` in a browser: the same {@link wsTransport}, dialing with the native
 * `WebSocket`. A browser cannot listen, so the transport has no `listen`. Bundlers pick this
 * file through the `browser` export condition; it imports nothing from `node:`.
 *
 * @example
 * ```ts
 * import { connect } from '@kiln/core/client';
 * import { wsTransport } from '@kiln/transport-ws';
 *
 * const client = await connect('ws://127.0.0.1:7411', { transports: [wsTransport()] });
 * client.subscribe('orders-1').subscribe((event) => console.log(event.version, event.type));
 * ```
 *
 * @packageDocumentation
 */
import type { Transport } from '@kiln/core';
import { dialWithBrowserWebSocket } from './ws-dialer-browser.js';
import { resolveWsOptions, type WsTransportOptions } from './ws-options.js';

export type { WsTransportOptions, WsTlsOptions } from './ws-options.js';

/**
 * Creates a dial-only WebSocket transport for `ws://` and `wss://` URLs on the browser's own
 * `WebSocket`. Options that only concern a listener or Node's TLS are ignored.
 */
export function wsTransport(options: WsTransportOptions = {}): Transport {
  const resolved = resolveWsOptions(options);
  return {
    name: 'ws',
    schemes: ['ws', 'wss'],
    dial: (url, dialOptions) => dialWithBrowserWebSocket(url, dialOptions, resolved),
  };
}
