/**
 * One client connection on the server: the handshake, then requests until either side closes.
 * A malformed, oversize or unexpected frame gets an error frame and the connection closes; a
 * request with bad arguments gets an error for that request alone. The session stops reading
 * while its connection cannot write, so a client that never reads its replies stalls only itself.
 */
import { errorToWire, ConnectionClosedError, InvalidArgumentError, KilnError, ProtocolError, ServerShuttingDownError, TimeoutError, TooManyInFlightError, UnsupportedProtocolVersionError } from '../errors.js';
import type { ConnectionLimits, LogLimits } from '../limits.js';
import {
  decodeClientFrame,
  encodeError,
  encodeEvents,
  encodeResult,
  encodeSubscriptionEnd,
  encodeWelcome,
  FrameKind,
  PROTOCOL_VERSION,
  type Operation,
} from '../protocol/frames.js';
import {
  divergedIndexFromWire,
  logDigestThroughFromWire,
  mirrorFromWire,
  mirrorNameFromWire,
  readAllFromWire,
  readFromWire,
  resultToWire,
  sliceToWire,
  subscribeFromWire,
  transactionFromWire,
  type EventSlice,
  type LogDigest,
} from '../protocol/messages.js';
import type { DivergedEntry } from '../replication/diverged-report.js';
import { viewToWire, type GroupMemberConfig, type GroupView } from '../replication/group-view.js';
import type { Clock, TimerHandle, Timers } from '../time.js';
import type { Connection } from '../transport/transport.js';
import type { Committer } from '../commit/committer.js';
import type { Reader } from '../read/reader.js';
import type { Subscription, SubscriptionHub } from '../read/subscriptions.js';

/** What a session needs from its server. */
export interface SessionContext {
  serverName: string;
  clusterId: string;
  connectionLimits: ConnectionLimits;
  logLimits: LogLimits;
  clock: Clock;
  timers: Timers;
  /** The log's writer while this server is the active. @throws NotActiveError otherwise */
  committer: () => Committer;
  /** The commit index a read may use now (waiting, on a new active, for its inherited log to commit). */
  readIndex: () => Promise<number>;
  /** The client URLs of the group's servers, when this server is a member of one. */
  groupUrls?: () => string[];
  /** The group's peer network, when this server is a member of one. */
  peers?: { accept(connection: Connection, frames: AsyncIterator<Uint8Array>): Promise<void> };
  reader: Reader;
  subscriptions: SubscriptionHub;
  status: () => unknown;
  addMirror: (mirror: GroupMemberConfig) => Promise<GroupView>;
  removeMirror: (name: string) => Promise<GroupView>;
  /** A fingerprint of this server's own log through an LSN (the end of its log at most). */
  logDigest: (throughLsn: number) => Promise<LogDigest>;
  /** One entry of the `diverged` report, by index (none outside a group). */
  diverged: (index: number) => Promise<DivergedEntry | undefined>;
  /** True once the server began shutting down. */
  shuttingDown: () => boolean;
}

/** Subscriptions one connection may hold at once. */
const SUBSCRIPTIONS_PER_CONNECTION_MAX = 256;

export class Session {
  private inFlight = 0;
  private readonly subscriptions = new Map<number, Subscription>();
  private lastActivityMs: number;
  private idleTimer: TimerHandle | undefined;

  constructor(
    private readonly connection: Connection,
    private readonly context: SessionContext,
  ) {
    this.lastActivityMs = context.clock.monotonicMs();
  }

  /** Serves the connection until it closes. Never rejects. */
  async run(): Promise<void> {
    const handshakeTimer = this.context.timers.setTimeout(
      () => this.closeWith(null, new TimeoutError('handshake', this.context.connectionLimits.handshakeTimeoutMs)),
      this.context.connectionLimits.handshakeTimeoutMs,
    );
    void this.connection.closed.then(() => this.cleanUp(handshakeTimer));
    let greeted = false;
    const frames = this.connection[Symbol.asyncIterator]();
    try {
      for (;;) {
        const next = await frames.next();
        if (next.done) break;
        this.lastActivityMs = this.context.clock.monotonicMs();
        const decoded = decodeClientFrame(next.value);
        if (!greeted) {
          if (decoded.kind !== FrameKind.Hello) throw new ProtocolError('the first frame must be a hello');
          handshakeTimer.cancel();
          this.greet(decoded.hello.version, decoded.hello.role, decoded.hello.clusterId);
          if (decoded.hello.role === 'peer') {
            // A member of this server's group: the peer network reads the rest.
            await this.context.peers!.accept(this.connection, frames);
            return;
          }
          greeted = true;
          this.armIdleTimer();
          continue;
        }
        if (decoded.kind !== FrameKind.Request) throw new ProtocolError('hello sent twice');
        this.handle(decoded.id, decoded.op, decoded.args);
        if (!this.connection.writable) await this.connection.whenWritable();
      }
    } catch (error) {
      if (!(error instanceof ConnectionClosedError)) this.closeWith(null, error);
    }
  }

  private greet(version: number, role: string, clusterId: string | undefined): void {
    if (version !== PROTOCOL_VERSION) throw new UnsupportedProtocolVersionError(version, PROTOCOL_VERSION);
    if (role !== 'client' && !(role === 'peer' && this.context.peers)) throw new ProtocolError(`role '${role}' is not served by this server`);
    if (clusterId !== undefined && clusterId !== this.context.clusterId) {
      throw new ProtocolError(`cluster id ${clusterId} does not match this server's ${this.context.clusterId}`);
    }
    if (this.context.shuttingDown()) throw new ServerShuttingDownError();
    const servers = this.context.groupUrls?.();
    this.connection.send(encodeWelcome({ version: PROTOCOL_VERSION, server: this.context.serverName, clusterId: this.context.clusterId, ...(servers ? { servers } : {}) }));
  }

  /** Starts one request; its answer is sent when it settles, so requests pipeline. */
  private handle(id: number, op: Operation, args: unknown): void {
    if (this.inFlight >= this.context.connectionLimits.inFlightMax) {
      this.reply(id, new TooManyInFlightError(this.context.connectionLimits.inFlightMax));
      return;
    }
    if (this.context.shuttingDown()) {
      this.reply(id, new ServerShuttingDownError());
      return;
    }
    let work: Promise<unknown>;
    try {
      work = this.start(op, args);
    } catch (error) {
      this.reply(id, error);
      return;
    }
    this.inFlight++;
    work.then(
      (result) => {
        this.inFlight--;
        this.send(encodeResult(id, result));
      },
      (error: unknown) => {
        this.inFlight--;
        this.reply(id, error);
      },
    );
  }

  private start(op: Operation, args: unknown): Promise<unknown> {
    const { reader, logLimits } = this.context;
    switch (op) {
      case 'transact':
        return this.context.committer().transact(transactionFromWire(args, logLimits.streamsPerTransactionMax)).then(resultToWire);
      case 'read':
        return this.context
          .readIndex()
          .then((commitIndex) => reader.readStream(readFromWire(args, logLimits.readCountMax), commitIndex))
          .then((slices) => slices.map(sliceToWire));
      case 'readAll':
        return this.context
          .readIndex()
          .then((commitIndex) => reader.readAll(readAllFromWire(args, logLimits.readCountMax), commitIndex))
          .then((chunk) => [chunk.slices.map(sliceToWire), chunk.next]);
      case 'subscribe':
        return Promise.resolve(this.subscribe(args));
      case 'unsubscribe': {
        const subscriptionId = args;
        const subscription = typeof subscriptionId === 'number' ? this.subscriptions.get(subscriptionId) : undefined;
        if (subscription) {
          this.context.subscriptions.close(subscription);
          this.subscriptions.delete(subscriptionId as number);
        }
        return Promise.resolve(null);
      }
      case 'status':
        return Promise.resolve(this.context.status());
      case 'addMirror':
        return this.context.addMirror(mirrorFromWire(args)).then(viewToWire);
      case 'removeMirror':
        return this.context.removeMirror(mirrorNameFromWire(args)).then(viewToWire);
      case 'logDigest':
        return this.context.logDigest(logDigestThroughFromWire(args)).then((d) => [d.throughLsn, d.digest]);
      case 'diverged':
        return this.context.diverged(divergedIndexFromWire(args)).then((entry) => (entry ? [entry.index, entry.atMs, entry.replacedInTerm, entry.records.map((r) => [r.lsn, r.bytes])] : null));
      case 'ping':
        return Promise.resolve(null);
    }
  }

  private subscribe(args: unknown): null {
    this.context.committer(); // only the active serves subscriptions
    const request = subscribeFromWire(args);
    if (this.subscriptions.has(request.subscriptionId)) throw new InvalidArgumentError('subscriptionId', 'is already in use on this connection');
    if (this.subscriptions.size >= SUBSCRIPTIONS_PER_CONNECTION_MAX) {
      throw new InvalidArgumentError('subscribe', `at most ${SUBSCRIPTIONS_PER_CONNECTION_MAX} subscriptions per connection`);
    }
    const { connection } = this;
    const id = request.subscriptionId;
    const subscription = this.context.subscriptions.open(request.stream, request.from, {
      get writable() {
        return connection.writable;
      },
      send: (slices: EventSlice[]) => this.send(encodeEvents(id, slices.map(sliceToWire))),
      whenWritable: () => connection.whenWritable(),
      fail: (error: unknown) => {
        this.subscriptions.delete(id);
        this.send(encodeSubscriptionEnd(id, errorToWire(error)));
      },
    });
    this.subscriptions.set(id, subscription);
    return null;
  }

  private reply(id: number, error: unknown): void {
    if (!(error instanceof KilnError)) console.error('kiln: internal error while serving a request', error);
    this.send(encodeError(id, errorToWire(error)));
  }

  /** Sends a frame; false when the connection is gone. */
  private send(frame: Uint8Array): boolean {
    try {
      this.connection.send(frame);
      return true;
    } catch {
      return false;
    }
  }

  /** Sends an error about the connection itself, then closes it. */
  private closeWith(id: number | null, error: unknown): void {
    this.send(encodeError(id, errorToWire(error)));
    this.connection.close(error instanceof Error ? error.message : String(error));
  }

  private armIdleTimer(): void {
    const idleMs = this.context.connectionLimits.idleTimeoutMs;
    const remaining = idleMs - (this.context.clock.monotonicMs() - this.lastActivityMs);
    this.idleTimer = this.context.timers.setTimeout(() => {
      if (this.context.clock.monotonicMs() - this.lastActivityMs >= idleMs) this.closeWith(null, new TimeoutError('idle connection', idleMs));
      else this.armIdleTimer();
    }, Math.max(remaining, 1));
  }

  private cleanUp(handshakeTimer: TimerHandle): void {
    handshakeTimer.cancel();
    this.idleTimer?.cancel();
    for (const subscription of this.subscriptions.values()) this.context.subscriptions.close(subscription);
    this.subscriptions.clear();
  }
}
