/**
 * The reference transport: listen and dial inside one process, at `memory://name`. It has what
 * a network transport has (bounded buffers and real backpressure, a close reason carried to the
 * other side, `connectionsMax`, refusal when nothing listens, abort), so tests and simulations
 * behave like the real thing, and it is the smallest example of a transport.
 */
import { AbortError, ConnectionRefusedError, InvalidArgumentError, TooManyConnectionsError } from '../errors.js';
import { FramedConnection } from './framed-connection.js';
import type { Connection, ConnectionCloseInfo, DialOptions, ListenOptions, Listener, Transport } from './transport.js';

/** Options of {@link inProcessTransport}. */
export interface InProcessTransportOptions {
  /**
   * Bytes one direction of a connection holds in flight while the reader is paused, like a
   * socket's buffers; past it the writer is told to wait.
   * @default 65536
   */
  wireBytesMax?: number;
  /** Unread incoming frames held before a connection stops taking more. @default 1024 */
  receiveQueueFramesMax?: number;
  /** Unread incoming bytes held before a connection stops taking more. @default 1 MiB */
  receiveQueueBytesMax?: number;
}

const SCHEME = 'memory';

/**
 * Creates an in-process transport for `memory://name` URLs. Listeners live in this transport
 * instance: dial with the same instance that listens.
 *
 * @example
 * ```ts
 * const transport = inProcessTransport();
 * const listener = await transport.listen!('memory://demo', (connection) => {
 *   void (async () => { for await (const frame of connection) connection.send(frame); })(); // echo
 * }, defaultConnectionLimits);
 * const connection = await transport.dial(listener.url, defaultConnectionLimits);
 * connection.send(new Uint8Array([1, 2, 3]));
 * ```
 */
export function inProcessTransport(options: InProcessTransportOptions = {}): Transport {
  const registry = new Map<string, InProcessListener>();
  const wireBytesMax = options.wireBytesMax ?? 64 * 1024;
  const receive = { receiveQueueFramesMax: options.receiveQueueFramesMax, receiveQueueBytesMax: options.receiveQueueBytesMax };

  return {
    name: 'in-process',
    schemes: [SCHEME],

    async listen(url, onConnection, listenOptions) {
      if (listenOptions.requireCertificate !== undefined) throw new InvalidArgumentError('url', 'the in-process transport has no certificates for mutual TLS');
      const key = addressOf(url);
      if (registry.has(key)) throw new InvalidArgumentError('url', `${url} is already listened on`);
      const listener = new InProcessListener(url, key, onConnection, listenOptions, () => registry.delete(key));
      registry.set(key, listener);
      return listener;
    },

    async dial(url, dialOptions) {
      const signal = dialOptions.signal;
      if (signal?.aborted) throw new AbortError();
      const key = addressOf(url);
      // A dial takes at least one turn, as on a network, so an abort right after it counts.
      await Promise.resolve();
      if (signal?.aborted) throw new AbortError();
      const listener = registry.get(key);
      if (!listener) throw new ConnectionRefusedError(url);
      return listener.accept(url, dialOptions, wireBytesMax, receive);
    },
  };
}

function addressOf(url: string): string {
  const parsed = new URL(url);
  if (parsed.protocol !== `${SCHEME}:`) throw new InvalidArgumentError('url', `must start with ${SCHEME}://, got ${url}`);
  return `${parsed.host}${parsed.pathname === '/' ? '' : parsed.pathname}`;
}

type ReceiveOptions = { receiveQueueFramesMax: number | undefined; receiveQueueBytesMax: number | undefined };

class InProcessListener implements Listener {
  private readonly connections = new Set<InProcessConnection>();
  private closing = false;

  constructor(
    readonly url: string,
    private readonly key: string,
    private readonly onConnection: (connection: Connection) => void,
    private readonly options: ListenOptions,
    private readonly unregister: () => void,
  ) {}

  get connectionCount(): number {
    return this.connections.size;
  }

  accept(url: string, dialOptions: DialOptions, wireBytesMax: number, receive: ReceiveOptions): Connection {
    if (this.closing) throw new ConnectionRefusedError(url);
    if (this.connections.size >= this.options.connectionsMax) throw new TooManyConnectionsError(this.options.connectionsMax);
    const client = new InProcessConnection({ ...receive, remoteAddress: url, frameBytesMax: dialOptions.frameBytesMax, sendQueueBytesMax: dialOptions.sendQueueBytesMax }, wireBytesMax);
    const server = new InProcessConnection(
      { ...receive, remoteAddress: `${SCHEME}://client-of-${this.key}`, frameBytesMax: this.options.frameBytesMax, sendQueueBytesMax: this.options.sendQueueBytesMax },
      wireBytesMax,
    );
    client.peer = server;
    server.peer = client;
    this.connections.add(server);
    void server.closed.then(() => this.connections.delete(server));
    this.onConnection(server);
    return client;
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.unregister();
    const closing = [...this.connections].map((connection) => {
      connection.close('listener closed');
      return connection.closed;
    });
    await Promise.all(closing);
  }
}

/**
 * One end of an in-process connection. Frames go straight into the peer's incoming queue
 * while the peer reads; while it has paused, they wait on the "wire" (bounded like a socket's
 * buffer), and the writer is told to wait once the wire is full.
 */
class InProcessConnection extends FramedConnection {
  peer!: InProcessConnection;
  private wire: Uint8Array[] = [];
  private wireBytes = 0;
  private needDrain = false;
  private paused = false;
  private pumpScheduled = false;

  constructor(
    options: ConstructorParameters<typeof FramedConnection>[0],
    private readonly wireBytesMax: number,
  ) {
    super(options);
  }

  protected writeFrame(frame: Uint8Array): boolean {
    // Copy, as a network would: the receiver never shares memory with the sender.
    const copy = frame.slice();
    if (!this.peer.paused && this.wire.length === 0) this.peer.receivedFrame(copy);
    else {
      this.wire.push(copy);
      this.wireBytes += copy.byteLength;
    }
    if (this.wireBytes < this.wireBytesMax) return true;
    this.needDrain = true;
    return false;
  }

  protected override bufferedBytes(): number {
    return this.wireBytes;
  }

  protected pauseReading(): void {
    this.paused = true;
  }

  protected resumeReading(): void {
    this.paused = false;
    this.peer.schedulePump();
  }

  protected destroyTransport(info: ConnectionCloseInfo): void {
    const peer = this.peer;
    const wire = this.wire;
    this.wire = [];
    this.wireBytes = 0;
    if (!info.local) return;
    // The other side learns of the close one turn later, after every frame on the wire.
    queueMicrotask(() => {
      for (const frame of wire) peer.receivedFrame(frame);
      peer.remoteClosed(info.reason, info.error);
    });
  }

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    queueMicrotask(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /** Moves frames from the wire into the peer while it reads; says when the writer may go on. */
  private pump(): void {
    if (this.isClosed) return;
    let moved = 0;
    while (moved < this.wire.length && !this.peer.paused) {
      const frame = this.wire[moved++]!;
      this.wireBytes -= frame.byteLength;
      this.peer.receivedFrame(frame);
    }
    this.wire.splice(0, moved);
    if (this.needDrain && this.wireBytes < this.wireBytesMax) {
      this.needDrain = false;
      this.drained();
    }
  }
}
