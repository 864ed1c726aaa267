/**
 * A TCP listener: accepts sockets, wraps each in a {@link SocketConnection}, refuses those past
 * `connectionsMax` with a close frame saying why, and on close frees the port.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { TooManyConnectionsError, type Connection, type Listener, type ListenOptions } from '@kiln/core';
import { encodeCloseFrame } from './length-prefix.js';
import { SocketConnection } from './socket-connection.js';
import { formatUrl, type TcpAddress } from './tcp-url.js';
import type { ResolvedTcpOptions } from './tcp-options.js';

export class TcpListener implements Listener {
  private readonly connections = new Set<SocketConnection>();
  private readonly refused = new Set<Socket>();
  private closing: Promise<void> | undefined;
  private boundUrl = '';

  private constructor(
    private readonly server: Server,
    private readonly onConnection: (connection: Connection) => void,
    private readonly options: ListenOptions,
    private readonly transportOptions: ResolvedTcpOptions,
  ) {
    server.on('connection', (socket) => this.accept(socket));
  }

  /** Listens at `address`; rejects with the socket error (`EADDRINUSE`, ...) if it cannot. */
  static async listen(
    address: TcpAddress,
    onConnection: (connection: Connection) => void,
    options: ListenOptions,
    transportOptions: ResolvedTcpOptions,
  ): Promise<TcpListener> {
    const server = createServer({ noDelay: true });
    const listener = new TcpListener(server, onConnection, options, transportOptions);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: address.host, port: address.port, backlog: transportOptions.backlog }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const bound = server.address();
    if (bound === null || typeof bound === 'string') throw new TypeError('a TCP server must bind to a host and port');
    listener.boundUrl = formatUrl(address.host, bound.port);
    return listener;
  }

  get url(): string {
    return this.boundUrl;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  private accept(socket: Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    if (this.connections.size >= this.options.connectionsMax) {
      this.refuse(socket);
      return;
    }
    const connection = new SocketConnection(socket, {
      remoteAddress: formatUrl(socket.remoteAddress ?? 'unknown', socket.remotePort ?? 0),
      frameBytesMax: this.options.frameBytesMax,
      sendQueueBytesMax: this.options.sendQueueBytesMax,
      closeTimeoutMs: this.transportOptions.closeTimeoutMs,
      receiveQueueFramesMax: this.transportOptions.receiveQueueFramesMax,
      receiveQueueBytesMax: this.transportOptions.receiveQueueBytesMax,
    });
    this.connections.add(connection);
    void connection.closed.then(() => this.connections.delete(connection));
    this.onConnection(connection);
  }

  /** Says why in a close frame, then hangs up; the older connections are not touched. */
  private refuse(socket: Socket): void {
    this.refused.add(socket);
    socket.on('error', () => {}); // the peer may reset first; nothing to report
    socket.on('close', () => this.refused.delete(socket));
    const error = new TooManyConnectionsError(this.options.connectionsMax);
    socket.end(encodeCloseFrame('too many connections', error));
    socket.resume(); // discard whatever it sends, and see its FIN
    setTimeout(() => socket.destroy(), this.transportOptions.closeTimeoutMs).unref();
  }

  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      // server.close stops accepting at once and calls back when every socket has closed.
      this.server.close(() => resolve());
      for (const connection of this.connections) connection.close('listener closed');
      for (const socket of this.refused) socket.destroy();
    });
    return this.closing;
  }
}
