/**
 * The simulated network: a `Transport` per node at `sim://name`, built on core's
 * {@link FramedConnection} as the in-process transport is, where every frame's delivery is a
 * scheduled task with a seeded delay.
 *
 * Kiln's protocol assumes ordered, reliable streams (TCP, WebSocket), so faults keep to what such
 * a stream can show: within one connection frames arrive in order or not at all. A lost frame
 * resets its connection; delay reorders only across connections. Partitions refuse new dials
 * (after a timeout, as a SYN into the void does) and break the connections across them. A paused
 * node's incoming frames and timers wait until it resumes, so a connection to it fills and pushes
 * back on the sender, as a stopped process's socket buffers do.
 *
 * One fault leaves the stream whole: a peer message of some kinds on one link is dropped whole
 * while the others pass ({@link SimNetwork.dropKinds}). It stands for a sender's best-effort send
 * that does not go (a member's `send` says false on a backed-up or redialling link, and the message
 * is gone), which can hit a resent `view` many times while heartbeats still get through.
 */
import { AbortError, ConnectionRefusedError, InvalidArgumentError, TooManyConnectionsError } from '../../errors.js';
import { FramedConnection, type FramedConnectionOptions } from '../../transport/framed-connection.js';
import { decodePeerMessage } from '../../replication/peer-protocol.js';
import type { Connection, ConnectionCloseInfo, DialOptions, ListenOptions, Listener, Transport } from '../../transport/transport.js';
import type { Prng } from './prng.js';
import { HARNESS_NODE, type Scheduler, type SimNode } from './scheduler.js';

/** Faults and timing of a {@link SimNetwork}; every field can change during a run. */
export interface SimNetworkFaults {
  /** Shortest one-way delay of a frame, in virtual ms. @default 0 */
  delayMinMs: number;
  /** Longest one-way delay of a frame, in virtual ms. @default 5 */
  delayMaxMs: number;
  /** Chance that a frame is lost, which resets its connection (TCP gives up). @default 0 */
  resetProbability: number;
}

/** Options of {@link SimNetwork}. */
export interface SimNetworkOptions extends Partial<SimNetworkFaults> {
  /**
   * How long a dial across a partition hangs before it is refused, in virtual ms.
   * @default 1000
   */
  dialTimeoutMs?: number;
  /** Bytes one direction of a connection holds in flight before the writer is told to wait. @default 262144 */
  wireBytesMax?: number;
}

/** The URL scheme of simulated addresses. */
export const SIM_SCHEME = 'sim';

/** The client address of node `name` (it may also listen at `sim://<name>/<path>`). */
export function simUrl(name: string): string {
  return `${SIM_SCHEME}://${name}`;
}

/** Counters of what the network did. */
export interface SimNetworkStats {
  frames: number;
  bytes: number;
  dials: number;
  refused: number;
  resets: number;
  /** Peer messages dropped whole by {@link SimNetwork.dropKinds}. */
  dropped: number;
}

/**
 * A simulated network of named nodes. Hand `transport(name)` to the server or client running as
 * node `name`; it listens at and dials `sim://` addresses.
 */
export class SimNetwork {
  /** Current delays and fault rates; change them at any time. */
  readonly faults: SimNetworkFaults;
  /** What happened so far. */
  readonly stats: SimNetworkStats = { frames: 0, bytes: 0, dials: 0, refused: 0, resets: 0, dropped: 0 };
  /** @internal */
  readonly random: Prng;
  /** @internal */
  readonly wireBytesMax: number;
  private readonly dialTimeoutMs: number;
  private readonly listeners = new Map<string, SimListener>();
  /** @internal */
  readonly connections = new Set<SimConnection>();
  private readonly cut = new Set<string>();
  /** Kinds of peer message dropped on a directed link (`from`, `to`), each drop a token of its own. */
  private readonly kindDrops = new Map<string, Map<symbol, ReadonlySet<string>>>();

  constructor(
    /** The scheduler every delivery runs on. */
    readonly scheduler: Scheduler,
    options: SimNetworkOptions = {},
  ) {
    this.random = scheduler.random.fork();
    this.faults = {
      delayMinMs: options.delayMinMs ?? 0,
      delayMaxMs: options.delayMaxMs ?? 5,
      resetProbability: options.resetProbability ?? 0,
    };
    this.dialTimeoutMs = options.dialTimeoutMs ?? 1000;
    this.wireBytesMax = options.wireBytesMax ?? 256 * 1024;
  }

  /** The transport of node `name`: what it listens and dials with. */
  transport(name: string): Transport {
    return {
      name: 'sim',
      schemes: [SIM_SCHEME],
      listen: async (url, onConnection, options) => this.listen(name, url, onConnection, options),
      dial: (url, options) => this.dial(name, url, options),
    };
  }

  // ---- faults ----------------------------------------------------------------------------------

  /** Cuts every link between a node of `a` and a node of `b`; connections across the cut break. */
  partition(a: readonly string[], b: readonly string[]): void {
    for (const x of a) for (const y of b) if (x !== y) this.cut.add(linkKey(x, y));
    this.scheduler.note(`partition [${a.join(',')}] | [${b.join(',')}]`);
    for (const connection of [...this.connections]) {
      if (this.isPartitioned(connection.nodeName, connection.peer.nodeName)) this.reset(connection, 'network partition');
    }
  }

  /** Cuts `name` off from every node in `others`. */
  isolate(name: string, others: readonly string[]): void {
    this.partition([name], others);
  }

  /**
   * Drops every peer message of `kinds` (`view`, `vote`...) that `from` sends to a node of `to`,
   * whole and without breaking its connection, until {@link restoreKinds} with the token returned
   * (or {@link heal}). Frames of other kinds, and client frames, pass.
   */
  dropKinds(from: string, to: readonly string[], kinds: readonly string[]): symbol {
    const token = Symbol('kind drop');
    for (const name of to) {
      if (name === from) continue;
      const key = directedKey(from, name);
      let drops = this.kindDrops.get(key);
      if (!drops) this.kindDrops.set(key, (drops = new Map()));
      drops.set(token, new Set(kinds));
    }
    this.scheduler.note(`drop ${kinds.join(',')} messages ${from} -> [${to.join(',')}]`);
    return token;
  }

  /** Ends the drops {@link dropKinds} returned `token` for. */
  restoreKinds(token: symbol): void {
    for (const [key, drops] of this.kindDrops) {
      if (drops.delete(token) && drops.size === 0) this.kindDrops.delete(key);
    }
    this.scheduler.note('restore dropped message kinds');
  }

  /** Restores every link, and ends every drop of message kinds. */
  heal(): void {
    if (this.cut.size === 0 && this.kindDrops.size === 0) return;
    this.cut.clear();
    this.kindDrops.clear();
    this.scheduler.note('heal');
  }

  /** True when the link between `a` and `b` is cut. */
  isPartitioned(a: string, b: string): boolean {
    return this.cut.size > 0 && this.cut.has(linkKey(a, b));
  }

  /** Resets every connection of `name` (both ends learn after a delay), or every connection at all. */
  resetConnections(name?: string): void {
    this.scheduler.note(`reset connections of ${name ?? 'everyone'}`);
    for (const connection of [...this.connections]) {
      if (name === undefined || connection.nodeName === name) this.reset(connection, 'connection reset');
    }
  }

  /** Pauses node `name` (see {@link Scheduler.pause}): frames to it wait, so do its timers. */
  pause(name: string): void {
    this.scheduler.pause(name);
  }

  /** Resumes node `name`. */
  resume(name: string): void {
    this.scheduler.resume(name);
  }

  /**
   * Node `name`'s process died (call it after {@link Scheduler.kill}): its listeners vanish, its
   * ends of connections go dead, and each peer sees a reset one delay later.
   */
  crashed(name: string): void {
    for (const [key, listener] of this.listeners) if (listener.nodeName === name) this.listeners.delete(key);
    for (const connection of [...this.connections]) {
      if (connection.nodeName !== name) continue;
      connection.dead = true;
      this.connections.delete(connection);
      connection.peer.resetLater(this.delayMs(), 'connection reset by peer');
    }
  }

  // ---- internals -------------------------------------------------------------------------------

  /** @internal The kind of peer message `frame` is when `from` sends it to `to` and the kind is dropped on that link. */
  droppedKind(from: string, to: string, frame: Uint8Array): string | undefined {
    const drops = this.kindDrops.size > 0 ? this.kindDrops.get(directedKey(from, to)) : undefined;
    if (!drops) return undefined;
    let kind: string;
    try {
      kind = decodePeerMessage(frame).kind;
    } catch {
      return undefined; // not a peer message (a client's frame, a peer handshake)
    }
    for (const kinds of drops.values()) if (kinds.has(kind)) return kind;
    return undefined;
  }

  /** @internal A one-way delay drawn from the current range. */
  delayMs(): number {
    const { delayMinMs, delayMaxMs } = this.faults;
    return delayMaxMs <= delayMinMs ? delayMinMs : this.random.float(delayMinMs, delayMaxMs);
  }

  /** @internal Breaks a connection: each end that is still open learns of it after a delay. */
  reset(connection: SimConnection, reason: string): void {
    this.stats.resets++;
    for (const end of [connection, connection.peer]) {
      end.sendBroken = true;
      end.resetLater(this.delayMs(), reason);
    }
  }

  private async listen(nodeName: string, url: string, onConnection: (connection: Connection) => void, options: ListenOptions): Promise<Listener> {
    const { host, key } = parseAddress(url);
    if (host !== nodeName) throw new InvalidArgumentError('url', `node ${nodeName} can only listen at ${simUrl(nodeName)}[/<path>], not ${url}`);
    if (this.listeners.has(key)) throw new InvalidArgumentError('url', `${url} is already listened on`);
    const listener = new SimListener(this, `${SIM_SCHEME}://${key}`, nodeName, this.scheduler.node(nodeName), onConnection, options, () => {
      if (this.listeners.get(key) === listener) this.listeners.delete(key);
    });
    this.listeners.set(key, listener);
    this.scheduler.note(`listen ${url}`);
    return listener;
  }

  private dial(from: string, url: string, options: DialOptions): Promise<Connection> {
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(new AbortError());
    let host: string;
    let key: string;
    try {
      ({ host, key } = parseAddress(url));
    } catch (error) {
      return Promise.reject(error);
    }
    this.stats.dials++;
    const dialer = this.scheduler.node(from);
    const sentMs = this.scheduler.now;
    this.scheduler.note(`dial ${from} -> ${host}`);
    return new Promise<Connection>((resolve, reject) => {
      const refuse = (after: number, error: Error): void => {
        this.stats.refused++;
        this.scheduler.schedule(dialer, after, () => reject(error), 'dial refused');
      };
      if (this.isPartitioned(from, host)) {
        refuse(this.dialTimeoutMs, new ConnectionRefusedError(url));
        return;
      }
      // The handshake is the kernels' business (a network task): a paused server's kernel still
      // accepts. The application takes the connection when its process next runs.
      this.scheduler.schedule(
        this.scheduler.node(HARNESS_NODE),
        this.delayMs(),
        () => {
          // A SYN that meets a partition on its way is lost, as one sent into it is: the dial
          // hangs to its timeout. Refused at once, it would tell the dialer that nothing accepts
          // at the address (the process gone) while the peer runs on beyond the cut, and a
          // member takes that as leave to elect before the lease of the active it lost ran out.
          if (this.isPartitioned(from, host)) {
            refuse(Math.max(0, sentMs + this.dialTimeoutMs - this.scheduler.now), new ConnectionRefusedError(url));
            return;
          }
          const listener = this.listeners.get(key);
          if (!listener) {
            refuse(this.delayMs(), new ConnectionRefusedError(url));
            return;
          }
          let client: SimConnection;
          try {
            client = listener.accept(from, dialer, options);
          } catch (error) {
            refuse(this.delayMs(), error as Error);
            return;
          }
          this.scheduler.schedule(
            dialer,
            this.delayMs(),
            () => {
              if (signal?.aborted) {
                client.close('dial aborted');
                reject(new AbortError());
                return;
              }
              resolve(client);
            },
            'dial accepted',
          );
        },
        'syn',
      );
    });
  }
}

function linkKey(a: string, b: string): string {
  return a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`;
}

function directedKey(from: string, to: string): string {
  return `${from}\u0000${to}`;
}

/** The node an address belongs to and the address's key: `sim://s1` and `sim://s1/peer` are both s1's. */
function parseAddress(url: string): { host: string; key: string } {
  const prefix = `${SIM_SCHEME}://`;
  if (!url.startsWith(prefix)) throw new InvalidArgumentError('url', `must start with ${prefix}, got ${url}`);
  const key = url.slice(prefix.length).replace(/\/+$/, '');
  const host = key.split('/')[0]!;
  if (host.length === 0) throw new InvalidArgumentError('url', `must be ${prefix}<node name>[/<path>], got ${url}`);
  return { host, key };
}

class SimListener implements Listener {
  private readonly open = new Set<SimConnection>();
  private closing = false;

  constructor(
    private readonly network: SimNetwork,
    readonly url: string,
    readonly nodeName: string,
    readonly node: SimNode,
    private readonly onConnection: (connection: Connection) => void,
    private readonly options: ListenOptions,
    private readonly unregister: () => void,
  ) {}

  get connectionCount(): number {
    return this.open.size;
  }

  /**
   * Creates both ends of a new connection (the kernel's accept) and hands the server's end to the
   * listener's process when it next runs. Returns the dialer's end.
   */
  accept(from: string, dialer: SimNode, dialOptions: DialOptions): SimConnection {
    if (this.closing || !this.node.alive) throw new ConnectionRefusedError(this.url);
    if (this.open.size >= this.options.connectionsMax) throw new TooManyConnectionsError(this.options.connectionsMax);
    const client = new SimConnection(
      this.network,
      from,
      dialer,
      { remoteAddress: this.url, frameBytesMax: dialOptions.frameBytesMax, sendQueueBytesMax: dialOptions.sendQueueBytesMax },
    );
    const server = new SimConnection(
      this.network,
      this.nodeName,
      this.node,
      { remoteAddress: simUrl(from), frameBytesMax: this.options.frameBytesMax, sendQueueBytesMax: this.options.sendQueueBytesMax },
    );
    client.peer = server;
    server.peer = client;
    this.network.connections.add(client);
    this.network.connections.add(server);
    this.open.add(server);
    void server.closed.then(() => this.open.delete(server));
    this.network.scheduler.note(`accept ${from} -> ${this.nodeName}`);
    this.network.scheduler.schedule(this.node, 0, () => this.onConnection(server), 'accept');
    return client;
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.unregister();
    const closing = [...this.open].map((connection) => {
      connection.close('listener closed');
      return connection.closed;
    });
    await Promise.all(closing);
  }
}

/**
 * One end of a simulated connection. Frames it sends arrive at its peer as tasks of the peer's
 * process, in order, each no earlier than the one before it.
 */
class SimConnection extends FramedConnection {
  peer!: SimConnection;
  /** The process behind this end died: it sends nothing more. */
  dead = false;
  /** A frame this end sent was lost: the stream is broken and nothing more gets through. */
  sendBroken = false;
  private lastArrivalMs = 0;
  private wireBytes = 0;
  private needDrain = false;
  private readPaused = false;
  private held: Uint8Array[] = [];
  private flushScheduled = false;

  constructor(
    private readonly network: SimNetwork,
    /** The node this end belongs to. */
    readonly nodeName: string,
    /** The incarnation whose tasks handle this end's events. */
    readonly node: SimNode,
    options: FramedConnectionOptions,
  ) {
    super(options);
    void this.closed.then(() => {
      if (this.peer.isClosed || this.peer.dead) {
        this.network.connections.delete(this);
        this.network.connections.delete(this.peer);
      }
    });
  }

  protected writeFrame(frame: Uint8Array): boolean {
    if (this.dead || this.sendBroken) return true;
    const { network } = this;
    const { scheduler } = network;
    const dropped = network.droppedKind(this.nodeName, this.peer.nodeName, frame);
    if (dropped !== undefined) {
      network.stats.dropped++;
      scheduler.note(`dropped ${dropped} ${this.nodeName}->${this.peer.nodeName}`);
      return true;
    }
    // Copy, as a network would: the receiver never shares memory with the sender.
    const copy = frame.slice();
    const arrivalMs = this.nextArrival();
    network.stats.frames++;
    network.stats.bytes += copy.byteLength;
    scheduler.note(`frame ${this.nodeName}->${this.peer.nodeName} ${copy.byteLength}B`);
    scheduler.noteBytes(copy);
    if (network.faults.resetProbability > 0 && network.random.chance(network.faults.resetProbability)) {
      // This frame never arrives; TCP gives up and both ends see a reset.
      scheduler.note(`lost frame ${this.nodeName}->${this.peer.nodeName}`);
      this.sendBroken = true;
      network.stats.resets++;
      this.peer.resetLater(arrivalMs - scheduler.now, 'connection reset (frame lost)');
      this.resetLater(arrivalMs - scheduler.now + network.delayMs(), 'connection reset (frame lost)');
      return true;
    }
    this.wireBytes += copy.byteLength;
    scheduler.schedule(
      this.peer.node,
      arrivalMs - scheduler.now,
      () => {
        this.wireBytes -= copy.byteLength;
        this.peer.arrive(copy);
        if (this.needDrain && this.wireBytes < network.wireBytesMax) {
          this.needDrain = false;
          scheduler.schedule(this.node, 0, () => this.drained(), 'drained');
        }
      },
      'deliver',
    );
    if (this.wireBytes < network.wireBytesMax) return true;
    this.needDrain = true;
    return false;
  }

  protected override bufferedBytes(): number {
    return this.wireBytes;
  }

  protected pauseReading(): void {
    this.readPaused = true;
  }

  protected resumeReading(): void {
    this.readPaused = false;
    this.scheduleFlush();
  }

  protected destroyTransport(info: ConnectionCloseInfo): void {
    this.held = [];
    if (!info.local || this.dead || this.sendBroken) return;
    // The other side learns of the close after every frame already on the wire.
    const peer = this.peer;
    const { scheduler } = this.network;
    scheduler.schedule(
      peer.node,
      this.nextArrival() - scheduler.now,
      () => {
        peer.flushHeld(true);
        peer.remoteClosed(info.reason, info.error);
      },
      'close',
    );
  }

  /** A frame reached this end. */
  arrive(frame: Uint8Array): void {
    if (this.isClosed || this.dead) return;
    if (this.readPaused || this.held.length > 0) this.held.push(frame);
    else this.receivedFrame(frame);
  }

  /** This end sees a reset `delayMs` from now; frames not yet read from the socket are lost. */
  resetLater(delayMs: number, reason: string): void {
    if (this.isClosed || this.dead) return;
    this.network.scheduler.schedule(
      this.node,
      delayMs,
      () => {
        this.held = [];
        this.sendBroken = true;
        this.remoteClosed(reason);
      },
      'reset',
    );
  }

  /** Hands held frames to the reader while it reads (or all of them, when the stream ends). */
  flushHeld(all: boolean): void {
    while (this.held.length > 0 && (all || !this.readPaused) && !this.isClosed) this.receivedFrame(this.held.shift()!);
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.held.length === 0) return;
    this.flushScheduled = true;
    this.network.scheduler.schedule(
      this.node,
      0,
      () => {
        this.flushScheduled = false;
        this.flushHeld(false);
      },
      'resume reading',
    );
  }

  /** When a frame sent now arrives: after a fresh delay, and never before the previous frame. */
  private nextArrival(): number {
    const arrivalMs = Math.max(this.network.scheduler.now + this.network.delayMs(), this.lastArrivalMs);
    this.lastArrivalMs = arrivalMs;
    return arrivalMs;
  }
}
