/**
 * The browser dialer, on the native `WebSocket`: binary messages as `ArrayBuffer`s, and
 * backpressure by polling `bufferedAmount`, since a browser has no drain event and cannot pause
 * reading. Imports nothing from `node:` and nothing from uWebSockets.js or `ws`.
 */
import { AbortError, ConnectionRefusedError, type Connection, type DialOptions } from '@kiln/core';
import { WsClientConnection, type ClientSocket } from './ws-client-connection.js';
import type { ResolvedWsOptions } from './ws-options.js';
import { formatWsUrl, parseWsUrl } from './ws-url.js';

/** The part of the WHATWG `WebSocket` this dialer uses; declared here so no DOM types are needed. */
interface BrowserWebSocket {
  binaryType: 'arraybuffer' | 'blob';
  readonly bufferedAmount: number;
  send(data: Uint8Array | string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open' | 'error', listener: () => void): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  addEventListener(type: 'close', listener: (event: { code: number; reason: string }) => void): void;
}

type BrowserWebSocketConstructor = new (url: string) => BrowserWebSocket;

/** A browser may send only 1000 and 3000-4999: Kiln's 10xx error codes go as 40xx. */
function browserCloseCode(code: number): number {
  return code === 1000 ? code : 4000 + (code % 1000);
}

/**
 * Dials `url` with the global `WebSocket`.
 * @throws ConnectionRefusedError when the WebSocket fails before it opens (a browser does not say why)
 * @throws AbortError when `options.signal` aborts first
 * @throws TypeError when there is no global `WebSocket`
 */
export function dialWithBrowserWebSocket(url: string, options: DialOptions, resolved: ResolvedWsOptions): Promise<Connection> {
  const address = parseWsUrl(url);
  const Native = (globalThis as { WebSocket?: BrowserWebSocketConstructor }).WebSocket;
  if (Native === undefined) return Promise.reject(new TypeError('this environment has no global WebSocket'));
  const signal = options.signal;
  if (signal?.aborted) return Promise.reject(new AbortError());
  return new Promise((resolve, reject) => {
    const socket = new Native(url);
    socket.binaryType = 'arraybuffer';
    let connection: WsClientConnection | undefined;
    let settled = false;
    const fail = (error: Error): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      socket.close();
      reject(error);
    };
    const onAbort = (): void => fail(new AbortError());
    signal?.addEventListener('abort', onAbort, { once: true });

    socket.addEventListener('error', () => fail(new ConnectionRefusedError(url)));
    socket.addEventListener('message', (event) => {
      const data = event.data;
      if (data instanceof ArrayBuffer) connection?.onMessage(data, true, true);
      else connection?.onMessage(typeof data === 'string' ? data : '', false, false);
    });
    socket.addEventListener('close', (event) => {
      if (connection === undefined) fail(new ConnectionRefusedError(url));
      else connection.onClose(event.code, event.reason);
    });
    socket.addEventListener('open', () => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      const port: ClientSocket = {
        get bufferedAmount() {
          return socket.bufferedAmount;
        },
        reportsWrites: false,
        send: (frame) => socket.send(frame),
        sendText: (text) => socket.send(text),
        close: (code, reason) => socket.close(code, reason),
        // A browser cannot drop a socket at once; closing without a handshake is the nearest.
        terminate: () => socket.close(),
      };
      connection = new WsClientConnection(port, {
        remoteAddress: formatWsUrl(address),
        frameBytesMax: options.frameBytesMax,
        sendQueueBytesMax: options.sendQueueBytesMax,
        receiveQueueFramesMax: resolved.receiveQueueFramesMax,
        receiveQueueBytesMax: resolved.receiveQueueBytesMax,
        receiveOverflowBytesMax: resolved.receiveOverflowBytesMax,
        receiveOverflowFramesMax: resolved.receiveQueueFramesMax,
        writeBufferBytesMax: resolved.writeBufferBytesMax,
        closeTimeoutMs: resolved.closeTimeoutMs,
        drainPollMs: resolved.drainPollMs,
        closeCode: browserCloseCode,
      });
      resolve(connection);
    });
  });
}
