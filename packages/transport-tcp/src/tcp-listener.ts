/**
 * A TCP listener: accepts sockets (on `tls://`, once TLS is up: see `tls-accept.ts`), wraps each
 * in a {@link SocketConnection}, refuses those past `connectionsMax` with a close frame saying
 * why, and on close frees the port.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { InvalidArgumentError, TooManyConnectionsError, type Connection, type Listener, type ListenOptions } from '@kiln/core';
import { encodeCloseFrame } from './length-prefix.js';
import { SocketConnection } from './socket-connection.js';
import { TlsGate } from './tls-accept.js';
import { formatUrl, type TcpAddress } from './tcp-url.js';
import type { ResolvedTcpOptions } from './tcp-options.js';

export class TcpListener implements Listener {
  private readonly connections = new Set<SocketConnection>();
  private readonly refused = new Set<Socket>();
  /** `tls://` sockets whose handshake has not finished, or that are being refused. */
  private readonly handshaking = new Set<Socket>();
  private readonly gate: TlsGate | undefined;
  private closing: Promise<void> | undefined;
  private boundUrl = '';

  private constructor(
    private readonly server: Server,
    private readonly secure: boolean,
    private readonly onConnection: (connection: Connection) => void,
    private readonly options: ListenOptions,
    private readonly transportOptions: ResolvedTcpOptions,
  ) {
    if (secure) {
      const { tls, tlsHandshakeTimeoutMs, closeTimeoutMs } = transportOptions;
      const gateOptions = { tls: tls!, requireCertificate: options.requireCertificate, handshakeTimeoutMs: tlsHandshakeTimeoutMs, closeTimeoutMs };
      this.gate = new TlsGate(gateOptions, (socket, certificateName) => this.accept(socket, certificateName));
    }
    server.on('connection', (socket) => (secure ? this.acceptSecure(socket) : this.accept(socket)));
  }

  /**
   * Listens at `address`; rejects with the socket error (`EADDRINUSE`, ...) if it cannot.
   * @throws InvalidArgumentError for `tls://` without a certificate and key, or mutual TLS asked of `tcp://`
   */
  static async listen(
    address: TcpAddress,
    onConnection: (connection: Connection) => void,
    options: ListenOptions,
    transportOptions: ResolvedTcpOptions,
  ): Promise<TcpListener> {
    if (address.secure && transportOptions.tls?.cert === undefined) throw new InvalidArgumentError('url', 'a tls:// listener needs tcpTransport({ tls: { cert, key } })');
    if (options.requireCertificate !== undefined && !address.secure) throw new InvalidArgumentError('url', 'mutual TLS (requireCertificate) needs a tls:// address');
    const server = createServer({ noDelay: true });
    const listener = new TcpListener(server, address.secure, onConnection, options, transportOptions);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: address.host, port: address.port, backlog: transportOptions.backlog }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const bound = server.address();
    if (bound === null || typeof bound === 'string') throw new TypeError('a TCP server must bind to a host and port');
    listener.boundUrl = formatUrl(address.host, bound.port, address.secure);
    return listener;
  }

  get url(): string {
    return this.boundUrl;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  private acceptSecure(raw: Socket): void {
    if (this.closing) {
      raw.destroy();
      return;
    }
    this.handshaking.add(raw);
    raw.once('close', () => this.handshaking.delete(raw));
    this.gate!.accept(raw);
  }

  private accept(socket: Socket, certificateName?: string): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    if (this.connections.size >= this.options.connectionsMax) {
      this.refuse(socket);
      return;
    }
    const connection = new SocketConnection(socket, {
      remoteAddress: formatUrl(socket.remoteAddress ?? 'unknown', socket.remotePort ?? 0, this.secure),
      ...(certificateName !== undefined && { certificateName }),
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
      for (const socket of this.handshaking) socket.destroy();
    });
    return this.closing;
  }
}
