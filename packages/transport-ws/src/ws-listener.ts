/**
 * A WebSocket listener on uWebSockets.js: `App` for `ws://`, `SSLApp` for `wss://`. It wraps
 * each accepted socket in a {@link UwsConnection}, closes those past `connectionsMax` with a
 * reason, and on close frees the port (`us_listen_socket_close`) and closes its connections.
 * Node only: the browser entry never imports this file.
 */
import { createServer } from 'node:net';
import uWS from 'uWebSockets.js';
import { InvalidArgumentError, TooManyConnectionsError, type Connection, type Listener, type ListenOptions } from '@kiln/core';
import { CloseCode, closeReason } from './ws-close.js';
import { UwsConnection, type UwsUserData } from './ws-connection.js';
import type { ResolvedWsOptions } from './ws-options.js';
import { originAllowed } from './ws-origin.js';
import { formatWsUrl, type WsAddress } from './ws-url.js';

const decoder = new TextDecoder();

/** `listen(host, port, options, callback)`, which uWebSockets.js has and its typings omit. */
interface ListenWithOptions {
  listen(host: string, port: number, options: number, callback: (listenSocket: uWS.us_listen_socket | false) => void): void;
}

/** uSockets' LIBUS_LISTEN_EXCLUSIVE_PORT: listen without SO_REUSEPORT. */
const LISTEN_EXCLUSIVE_PORT = (uWS as unknown as { LIBUS_LISTEN_EXCLUSIVE_PORT?: number }).LIBUS_LISTEN_EXCLUSIVE_PORT ?? 1;

export class WsListener implements Listener {
  private readonly connections = new Set<UwsConnection>();
  private listenSocket: uWS.us_listen_socket | undefined;
  private closing: Promise<void> | undefined;
  private boundUrl = '';

  private constructor(
    private readonly onConnection: (connection: Connection) => void,
    private readonly options: ListenOptions,
    private readonly transportOptions: ResolvedWsOptions,
  ) {}

  /**
   * Listens at `address`.
   * @throws InvalidArgumentError for `wss://` without a certificate and key, or when the address
   * cannot be listened on (in use, or not this host's)
   */
  static async listen(
    address: WsAddress,
    onConnection: (connection: Connection) => void,
    options: ListenOptions,
    transportOptions: ResolvedWsOptions,
  ): Promise<WsListener> {
    const listener = new WsListener(onConnection, options, transportOptions);
    const app = listener.createApp(address);
    const listenSocket = await listenExclusive(app, address);
    if (listenSocket === false) {
      throw new InvalidArgumentError('url', `cannot listen on ${formatWsUrl(address)}: the address is in use or not available`);
    }
    listener.listenSocket = listenSocket;
    listener.boundUrl = formatWsUrl({ ...address, port: uWS.us_socket_local_port(listenSocket as unknown as uWS.us_socket) });
    return listener;
  }

  get url(): string {
    return this.boundUrl;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.listenSocket !== undefined) uWS.us_listen_socket_close(this.listenSocket);
      this.listenSocket = undefined;
      const closing = [...this.connections].map((connection) => {
        connection.close('listener closed');
        return connection.closed;
      });
      await Promise.all(closing);
    })();
    return this.closing;
  }

  private createApp(address: WsAddress): uWS.TemplatedApp {
    const options = this.options;
    const tls = this.transportOptions.tls;
    let app: uWS.TemplatedApp;
    if (address.secure) {
      if (tls.certFile === undefined || tls.keyFile === undefined) {
        throw new InvalidArgumentError('tls', `listening on ${formatWsUrl(address)} needs tls.certFile and tls.keyFile`);
      }
      app = uWS.SSLApp({ cert_file_name: tls.certFile, key_file_name: tls.keyFile, ...(tls.passphrase === undefined ? {} : { passphrase: tls.passphrase }) });
    } else {
      app = uWS.App();
    }
    const frameBytesMax = options.frameBytesMax;
    app.ws<UwsUserData>(address.path === '/' ? '/*' : address.path, {
      // uWS refuses a larger message from its header, before buffering any of it.
      maxPayloadLength: frameBytesMax,
      // The connection keeps uWS's buffer under writeBufferBytesMax plus one frame; past that
      // uWS would drop messages silently, so the limit sits above anything that can happen.
      maxBackpressure: this.transportOptions.writeBufferBytesMax + 2 * frameBytesMax,
      closeOnBackpressureLimit: 0,
      idleTimeout: this.transportOptions.idleTimeoutSeconds,
      sendPingsAutomatically: true,
      compression: uWS.DISABLED,
      upgrade: (res, req, context) => {
        const origin = req.getHeader('origin');
        if (!originAllowed(origin, req.getHeader('host'), this.transportOptions.origins)) {
          res.writeStatus('403 Forbidden').end("this page's origin may not connect here: list it in the WebSocket transport's origins");
          return;
        }
        res.upgrade<UwsUserData>({}, req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), context);
      },
      open: (ws) => this.accept(ws),
      message: (ws, message, isBinary) => ws.getUserData().connection?.onMessage(message, isBinary),
      drain: (ws) => ws.getUserData().connection?.onDrain(),
      close: (ws, code, message) => {
        const connection = ws.getUserData().connection;
        connection?.onClose(code, message);
      },
    });
    return app;
  }

  private accept(ws: uWS.WebSocket<UwsUserData>): void {
    if (this.closing !== undefined) {
      ws.end(CloseCode.goingAway, 'listener closed');
      return;
    }
    if (this.connections.size >= this.options.connectionsMax) {
      // Say why in the close frame; the older connections are not touched.
      ws.end(CloseCode.tryAgainLater, closeReason(new TooManyConnectionsError(this.options.connectionsMax).message));
      return;
    }
    const connection = new UwsConnection(ws, {
      remoteAddress: `ws://${decoder.decode(ws.getRemoteAddressAsText())}`,
      frameBytesMax: this.options.frameBytesMax,
      sendQueueBytesMax: this.options.sendQueueBytesMax,
      receiveQueueFramesMax: this.transportOptions.receiveQueueFramesMax,
      receiveQueueBytesMax: this.transportOptions.receiveQueueBytesMax,
      receiveOverflowBytesMax: this.transportOptions.receiveOverflowBytesMax,
      receiveOverflowFramesMax: this.transportOptions.receiveQueueFramesMax,
      writeBufferBytesMax: this.transportOptions.writeBufferBytesMax,
    });
    ws.getUserData().connection = connection;
    this.connections.add(connection);
    void connection.closed.then(() => this.connections.delete(connection));
    this.onConnection(connection);
  }
}

/** Free-port attempts before giving up, when asked for port 0. */
const FREE_PORT_ATTEMPTS = 8;

/**
 * Listens on an exclusive port: without that flag uSockets sets SO_REUSEPORT, and a second server
 * on the same port would silently share it instead of failing. uSockets sets SO_REUSEADDR only
 * for a non-zero port, and without it the connections of a closed listener (in TIME_WAIT) keep
 * the port from being listened on again for a minute; so for port 0 a free port is found first
 * (with `node:net`) and listened on by number, retried if another process takes it meanwhile.
 */
async function listenExclusive(app: uWS.TemplatedApp, address: WsAddress): Promise<uWS.us_listen_socket | false> {
  const listen = (port: number): Promise<uWS.us_listen_socket | false> =>
    // The typings lack the (host, port, options, callback) overload.
    new Promise((resolve) => (app as unknown as ListenWithOptions).listen(address.host, port, LISTEN_EXCLUSIVE_PORT, resolve));
  if (address.port !== 0) return listen(address.port);
  for (let attempt = 0; attempt < FREE_PORT_ATTEMPTS; attempt++) {
    const port = await freePort(address.host);
    const listenSocket = await listen(port);
    if (listenSocket !== false) return listenSocket;
  }
  return false;
}

/** A port nothing listens on at `host` right now. */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen({ host, port: 0, exclusive: true }, () => {
      const bound = probe.address();
      const port = typeof bound === 'object' && bound !== null ? bound.port : 0;
      probe.close(() => resolve(port));
    });
  });
}
