/**
 * One client connection on the server: the handshake, then requests until either side closes.
 * A malformed, oversize or unexpected frame gets an error frame and the connection closes; a
 * request with bad arguments gets an error for that request alone. The session stops reading
 * while its connection cannot write, so a client that never reads its replies stalls only itself.
 */
import { errorToWire, ConnectionClosedError, FrameTooLargeError, InvalidArgumentError, KilnError, ProtocolError, ServerShuttingDownError, TimeoutError, TooManyInFlightError } from '../errors.js';
import type { ConnectionLimits, LogLimits } from '../limits.js';
import { decodeClientFrame, encodeError, encodeResult, FrameKind } from '../protocol/frames.js';
import { acceptHello, encodeWelcomeFrame, type Role } from '../protocol/handshake.js';
import type { SubscribeRequest, TransactionRequest, TransactionResult } from '../protocol/messages.js';
import { readTransactFrame, writeTransactResult } from '../protocol/transact-frames.js';
import type { ReadAllChunk } from '../protocol/replies.js';
import { serveOperation, type OperationHandlers, type OperationName } from '../protocol/operations.js';
import type { ServerStatus } from '../protocol/status.js';
import type { ClusterDirectory } from '../cluster/directory.js';
import type { Topology } from '../protocol/topology.js';
import type { Transactions } from '../txn/transactions.js';
import type { Clock, TimerHandle, Timers } from '../time.js';
import type { Connection } from '../transport/transport.js';
import type { Committer } from '../commit/committer.js';
import { TransactAnswer, type TransactAnswers } from './transact-answer.js';
import { readTxnRequest, writtenAlready } from './txn-requests.js';
import type { ServerCounters } from '../observe/counters.js';
import { checkReached, type Reader } from '../read/reader.js';
import type { SubscriptionHub } from '../read/subscriptions.js';
import { SessionSubscriptions } from './session-subscriptions.js';
import { ReadGate, type ReadBudget } from '../read/read-budget.js';
import type { Authenticator } from '../auth/authenticator.js';
import { guardedHandlers } from '../auth/guarded-handlers.js';

/** What a session needs from its server. */
/** The operations a session hands to the server as they come. */
type OperatorOperation = 'addMirror' | 'removeMirror' | 'logDigest' | 'rangeDigest' | 'diverged' | 'backupPage';

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
  /** The server's budget for the bytes client reads in flight hold. */
  readBudget: ReadBudget;
  subscriptions: SubscriptionHub;
  status: () => ServerStatus;
  /** The cluster as this server knows it: it routes streams. */
  directory: ClusterDirectory;
  /** The cluster's topology as this server knows it. */
  topology: () => Promise<Topology>;
  /** Transactions over several stripes, on a server of a cluster of several. */
  transactions?: Transactions;
  /**
   * The operator's operations, served as they are (the guard checks `admin`): membership, the log's
   * digests (`kiln verify`), the `diverged` report, and pages of the stored log (`kiln backup`).
   */
  operator: Pick<OperationHandlers, OperatorOperation>;
  /** True once the server began shutting down. */
  shuttingDown: () => boolean;
  /** Checks clients' credentials, when the server has users and tokens. */
  auth?: Authenticator;
  /** Counts refused frames, when someone watches. */
  counters?: ServerCounters;
}

const CLIENT_ROLES: ReadonlySet<Role> = new Set(['client']);
const GROUP_ROLES: ReadonlySet<Role> = new Set(['client', 'peer']);

export class Session implements TransactAnswers {
  private inFlight = 0;
  private readonly subscriptions: SessionSubscriptions;
  private lastActivityMs: number;
  private idleTimer: TimerHandle | undefined;
  private readonly reads: ReadGate;
  /** Every operation's handler; wrapped in permission checks once an authenticated client is greeted. */
  private handlers: OperationHandlers;
  /** True once {@link handlers} check permissions. */
  private guarded = false;
  /** The largest frame sent: this server's limit, or the client's when smaller (its hello says). */
  private sendBytesMax: number;

  constructor(
    private readonly connection: Connection,
    private readonly context: SessionContext,
  ) {
    this.lastActivityMs = context.clock.monotonicMs();
    this.sendBytesMax = context.connectionLimits.frameBytesMax;
    const { readBytesInFlightPerConnectionMax, readBytesMax } = context.logLimits;
    this.reads = new ReadGate(connection, context.readBudget, readBytesInFlightPerConnectionMax, readBytesMax);
    this.handlers = this.operationHandlers();
    this.subscriptions = new SessionSubscriptions(context.subscriptions, { connection, send: (frame) => this.send(frame), sendBytesMax: () => this.sendBytesMax });
  }

  /** Requests started on this connection and not yet answered. */
  get requestsInFlight(): number {
    return this.inFlight;
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
        if (!greeted) {
          this.lastActivityMs = this.context.clock.monotonicMs();
          const decoded = decodeClientFrame(next.value);
          if (decoded.kind !== FrameKind.Hello) throw new ProtocolError('the first frame must be a hello');
          handshakeTimer.cancel();
          const { role } = await this.greet(decoded.hello);
          if (role === 'peer') {
            // A member of this server's group: the peer network reads the rest.
            await this.context.peers!.accept(this.connection, frames);
            return;
          }
          greeted = true;
          this.armIdleTimer();
          continue;
        }
        // This frame, then those already received behind it, without a promise each; at the
        // in-flight cap, through the iterator again: the requests in flight then move on between
        // frames (and fill the send queue, which stops the reading) instead of a burst of refusals.
        const inFlightMax = this.context.connectionLimits.inFlightMax;
        for (let frame: Uint8Array | undefined = next.value; frame !== undefined; frame = this.inFlight < inFlightMax ? this.connection.takeReceived?.() : undefined) {
          this.serveRequest(frame);
          if (!this.connection.writable) await this.connection.whenWritable();
        }
      }
    } catch (error) {
      if (!(error instanceof ConnectionClosedError)) {
        this.context.counters?.rejectFrame(error instanceof Error ? error.name : 'Error');
        this.closeWith(null, error);
      }
    }
  }

  /** Serves one frame after the handshake. @throws ProtocolError when it is malformed or not a request */
  private serveRequest(frame: Uint8Array): void {
    this.lastActivityMs = this.context.clock.monotonicMs();
    // The hot request in its common form skips the general decode; anything else goes that way.
    const transact = readTransactFrame(frame, this.context.logLimits.streamsPerTransactionMax);
    if (transact) return this.handleTransact(transact.id, transact.request);
    const txn = this.context.transactions && readTxnRequest(frame, this.context.logLimits.streamsPerTransactionMax);
    if (txn) return this.admits(txn.id) ? this.answer(txn.id, txn.answer(this.handlers), writtenAlready) : undefined;
    const decoded = decodeClientFrame(frame);
    if (decoded.kind !== FrameKind.Request) throw new ProtocolError('hello sent twice');
    this.handle(decoded.id, decoded.op, decoded.args);
  }

  private async greet(hello: unknown): Promise<{ role: Role }> {
    const accepted = acceptHello(hello, { clusterId: this.context.clusterId, roles: this.context.peers ? GROUP_ROLES : CLIENT_ROLES });
    this.sendBytesMax = Math.min(this.sendBytesMax, accepted.frameBytesMax ?? Infinity);
    // Peers are members of the group, not users: their links are not authenticated here.
    const { auth } = this.context;
    if (auth && accepted.role === 'client') {
      this.handlers = guardedHandlers(this.handlers, await auth.authenticate(accepted.credentials, this.connection.remoteAddress));
      this.guarded = true;
    }
    if (this.context.shuttingDown()) throw new ServerShuttingDownError();
    const servers = this.context.groupUrls?.();
    const groupFeatures = accepted.role !== 'client' ? { preVote: true, leaseEcho: true } : {};
    const { frameBytesMax, idleTimeoutMs } = this.context.connectionLimits;
    this.connection.send(encodeWelcomeFrame({ server: this.context.serverName, clusterId: this.context.clusterId, frameBytesMax, idleTimeoutMs, ...(servers ? { servers } : {}), ...groupFeatures }));
    return accepted;
  }

  /** Starts one request; its answer is sent when it settles, so requests pipeline. */
  private handle(id: number, op: OperationName, args: unknown): void {
    if (!this.admits(id)) return;
    if (op === 'read' || op === 'readAll' || op === 'backupPage') return this.handleRead(id, op, args);
    this.answer(id, this.start(op, args), encodeResult);
  }

  /** Sends the answer to request `id` once `result` settles, in the frame `write` makes of it. */
  private answer<T>(id: number, result: Promise<T>, write: (id: number, value: T) => Uint8Array): void {
    this.inFlight++;
    result.then(
      (value) => {
        this.inFlight--;
        this.sendAnswer(id, write(id, value));
      },
      (error: unknown) => this.transactFailed(id, error),
    );
  }

  /** False, with the refusal sent, when the connection has too many requests in flight or the server is shutting down. */
  private admits(id: number): boolean {
    if (this.inFlight >= this.context.connectionLimits.inFlightMax) {
      this.context.counters?.rejectFrame(TooManyInFlightError.name);
      this.reply(id, new TooManyInFlightError(this.context.connectionLimits.inFlightMax));
      return false;
    }
    if (this.context.shuttingDown()) {
      this.reply(id, new ServerShuttingDownError());
      return false;
    }
    return true;
  }

  /** {@link handle} for a transaction read by hand: its result is written by hand too. */
  private handleTransact(id: number, request: TransactionRequest): void {
    if (!this.admits(id)) return;
    this.inFlight++;
    const answer = new TransactAnswer(this, id);
    // What the transact handler does without permission checks, without a promise: on a lone stripe, and on
    // this stripe's own streams while no part of a transaction over several stripes is held here.
    const { directory, transactions } = this.context;
    if (!this.guarded && (!directory.striped || (transactions?.holdsAny === false && directory.holdsEveryStreamOf(request.appends)))) {
      try {
        this.context.committer().submit(request, answer);
      } catch (error) {
        answer.reject(error);
      }
      return;
    }
    let result: Promise<TransactionResult>;
    try {
      result = this.handlers.transact(request);
    } catch (error) {
      result = Promise.reject(error);
    }
    result.then(
      (committed) => answer.resolve(committed),
      (error: unknown) => answer.reject(error),
    );
  }

  /** A transaction read by hand committed (see {@link TransactAnswer}). */
  transactCommitted(id: number, result: TransactionResult): void {
    this.inFlight--;
    this.send(writeTransactResult(id, result));
  }

  /** A transaction read by hand failed (see {@link TransactAnswer}), or another request. */
  transactFailed(id: number, error: unknown): void {
    this.inFlight--;
    this.reply(id, error);
  }

  /** Starts a read once the read budgets admit it; its charge comes back once its answer is handed to the connection. */
  private handleRead(id: number, op: 'read' | 'readAll' | 'backupPage', args: unknown): void {
    this.inFlight++;
    // `start` never throws: a refusal (NotActiveError on a mirror, bad arguments) is a rejection, and answered.
    const answer = (): Promise<void> =>
      this.start(op, args).then(
        (result) => this.sendAnswer(id, encodeResult(id, result)),
        (error: unknown) => this.reply(id, error),
      );
    // Refused only when the connection closed first: there is no one to answer.
    void this.reads.run(answer).then(
      () => this.inFlight--,
      () => this.inFlight--,
    );
  }

  private start(op: OperationName, args: unknown): Promise<unknown> {
    return serveOperation(op, args, this.handlers, this.context.logLimits);
  }

  /** This connection's handler of every operation in the protocol's table. */
  private operationHandlers(): OperationHandlers {
    const { context } = this;
    const { directory } = context;
    return {
      transact: (transaction) => {
        if (directory.striped) {
          const streams = transaction.appends.map((a) => a.stream);
          if (directory.spansStripes(streams)) return this.transactions().coordinate(transaction, directory);
          directory.checkStreams(streams);
          // A part holding a stream whose coordinator decided, but has not told this stripe yet, is ended
          // first; one whose coordinator has been out of reach past txnTimeoutMs is in doubt.
          const txns = this.transactions();
          if (txns.holdsAny) {
            txns.refuseInDoubt(streams);
            return txns.settleHeld(streams).then(() => context.committer().transact(transaction));
          }
        }
        return context.committer().transact(transaction);
      },
      read: (request) => {
        if (!directory.striped) return context.readIndex().then((commitIndex) => context.reader.readStream(request, commitIndex, this.readBytesMax()));
        directory.checkStreams([request.stream]);
        // A part of a transaction over several stripes holding the stream is ended first, if decided.
        return this.transactions()
          .resolveHeld([request.stream])
          .then(() => context.readIndex())
          .then((commitIndex) => context.reader.readStream(request, commitIndex, this.readBytesMax()));
      },
      readAll: (request) => {
        const all = (): Promise<ReadAllChunk> => context.readIndex().then((commitIndex) => context.reader.readAll(request, request.direction === 'forward' ? checkReached(directory.ownStripeName, request.fromLsn, commitIndex) : commitIndex, this.readBytesMax()));
        // Parts prepared in the range whose coordinator decided are ended first, so that a reader who
        // saw another stripe's part of a transaction sees this one's too.
        const txns = directory.striped ? this.transactions() : undefined;
        return txns?.holdsAny ? txns.resolvePreparedFrom(request.direction === 'backward' ? 0 : request.fromLsn).then(all) : all();
      },
      // A subscription of the log starts within its committed end, as a read does: within the one known now at once,
      // past it once the read barrier is known (an unsubscribe read meanwhile cancels the start).
      subscribe: (request) =>
        request.stream === null && request.from > context.subscriptions.committedLsn + 1
          ? this.subscriptions.startWhen(request, context.readIndex().then((commitIndex) => checkReached(directory.ownStripeName, request.from, commitIndex)), () => this.subscribe(request))
          : Promise.resolve(this.subscribe(request)),
      unsubscribe: (subscriptionId) => {
        this.subscriptions.end(subscriptionId);
        return Promise.resolve(null);
      },
      status: () => Promise.resolve(context.status()),
      ping: () => Promise.resolve(null),
      topology: () => context.topology(),
      prepare: (request) => {
        // A coordinator names only this stripe's streams in its part; a forged part naming another
        // stripe's would write that stream into this log, where its own stripe's reads never look.
        directory.checkStreams(request.part.appends.map((a) => a.stream));
        return this.transactions().prepare(request);
      },
      decide: (request) => this.transactions().decide(request),
      txnStatus: (txnId) => this.transactions().status(txnId),
      txnList: () => Promise.resolve(this.transactions().list()),
      txnResolve: (request) => this.transactions().resolveByOperator(request),
      ...context.operator,
    };
  }

  /** The server's transactions over several stripes. @throws InvalidArgumentError on a server of a cluster of one stripe */
  private transactions(): Transactions {
    if (this.context.transactions === undefined) throw new InvalidArgumentError('operation', 'this server is in a cluster of one stripe: it has no transactions over several');
    return this.context.transactions;
  }

  private subscribe(request: SubscribeRequest): null {
    if (request.stream !== null && this.context.directory.striped) this.context.directory.checkStreams([request.stream]);
    this.context.committer(); // only the active serves subscriptions
    this.subscriptions.add(request);
    return null;
  }

  /** Bytes of records a read loads: `readBytesMax`, or half the client's frame when that is less (the answer's frame carries more than the events). */
  private readBytesMax(): number {
    return Math.min(this.context.logLimits.readBytesMax, Math.floor(this.sendBytesMax / 2));
  }

  /** Sends the answer to request `id`; one the client could not read (it would drop the connection, and ask again) is FrameTooLargeError. */
  private sendAnswer(id: number, frame: Uint8Array): void {
    if (frame.byteLength > this.sendBytesMax) this.reply(id, new FrameTooLargeError(frame.byteLength, this.sendBytesMax));
    else this.send(frame);
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
    this.reads.close('the connection closed');
    this.subscriptions.endAll();
  }
}
