/**
 * The Node dialer, on the `ws` package: `maxPayload` set to the frame cap (its default is
 * 100 MiB), no compression, binary messages as fresh `ArrayBuffer`s, backpressure from
 * `bufferedAmount` and `send`'s callback, and real pause and resume of the socket. The browser
 * entry dials with `ws-dialer-browser.ts` instead; package.json's export conditions choose.
 */
import WebSocket from 'ws';
import { AbortError, ConnectionRefusedError, type Connection, type DialOptions } from '@kiln/core';
import { WsClientConnection, type ClientSocket } from './ws-client-connection.js';
import type { ResolvedWsOptions } from './ws-options.js';
import { formatWsUrl, parseWsUrl } from './ws-url.js';

/**
 * Dials `url` with `ws`.
 * @throws ConnectionRefusedError when no WebSocket server accepts at `url` (refused, an HTTP
 * answer other than an upgrade, a TLS failure); the cause says which
 * @throws AbortError when `options.signal` aborts first
 */
export function dialWithWs(url: string, options: DialOptions, resolved: ResolvedWsOptions): Promise<Connection> {
  const address = parseWsUrl(url);
  const signal = options.signal;
  if (signal?.aborted) return Promise.reject(new AbortError());
  return new Promise((resolve, reject) => {
    const tls = resolved.tls;
    const socket = new WebSocket(url, {
      maxPayload: options.frameBytesMax,
      perMessageDeflate: false,
      ...(tls.ca === undefined ? {} : { ca: typeof tls.ca === 'string' ? tls.ca : [...tls.ca] }),
      ...(tls.rejectUnauthorized === undefined ? {} : { rejectUnauthorized: tls.rejectUnauthorized }),
    });
    socket.binaryType = 'arraybuffer';
    // `ws` throws an 'error' nobody listens to; every error is followed by 'close', which is
    // what the connection goes by, so errors after the dial need no handling of their own.
    socket.on('error', () => {});

    let settled = false;
    const fail = (error: Error): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      socket.terminate();
      reject(error);
    };
    const onAbort = (): void => fail(new AbortError());
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('error', (error) => fail(new ConnectionRefusedError(url, { cause: error })));
    socket.once('unexpected-response', (_request, response) =>
      fail(new ConnectionRefusedError(url, { cause: new Error(`the server answered HTTP ${response.statusCode} instead of a WebSocket upgrade`) })),
    );
    socket.once('open', () => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      const port: ClientSocket = {
        get bufferedAmount() {
          return socket.bufferedAmount;
        },
        reportsWrites: true,
        sendText: (text) => socket.send(text),
        send: (frame, onWritten) => socket.send(frame, { binary: true }, onWritten === undefined ? undefined : () => onWritten()),
        close: (code, reason) => socket.close(code, reason),
        terminate: () => socket.terminate(),
        pause: () => socket.pause(),
        resume: () => socket.resume(),
      };
      const connection = new WsClientConnection(port, {
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
      });
      // With binaryType 'arraybuffer', `ws` hands over a buffer of the message's own.
      socket.on('message', (data: ArrayBuffer, isBinary) => connection.onMessage(data, isBinary, true));
      socket.on('close', (code, reason) => connection.onClose(code, reason.toString()));
      resolve(connection);
    });
  });
}
