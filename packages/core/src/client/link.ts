/**
 * The client's link to a server: one connection at a time, the handshake, the table of requests
 * in flight, and reconnection. When a connection drops, the link dials the server URLs in turn
 * until `reconnectWindowMs` runs out, then resends every request still in flight with its original
 * arguments (a transaction keeps its `(clientId, seq)`, so the server answers a resend of a
 * committed one with the original result) and resumes every subscription from the position after
 * the last event it delivered. A request refused or given up by a server that is not the active or
 * is shutting down is kept the same way, and goes again to the active the client finds next. Callers see an error when the window runs out, or at once when credentials are refused.
 */
import { BehaviorSubject } from 'rxjs';
import { ClientClosedError, ConnectionClosedError, errorFromWire, FrameTooLargeError, KilnError, ProtocolError, TimeoutError, TooManyInFlightError } from '../errors.js';
import { RECONNECT_DELAY_MAX_MS, SWEEP_INTERVAL_MS } from '../limits.js';
import { decodeServerFrame, encodeRequest, FrameKind, type ServerFrame } from '../protocol/frames.js';
import { finalRefusal } from '../protocol/handshake.js';
import { decodeResult, encodeArguments, type ArgumentsOf, type OperationName, type ResultOf } from '../protocol/operations.js';
import { readResultHead, type FrameReader } from '../protocol/txn-frames.js';
import { systemRandom } from '../time.js';
import type { Connection } from '../transport/transport.js';
import type { ClientStatus, LinkOptions, LinkSubscription, RejectRequest } from './link-types.js';
import { answeredAsActive, Outage } from './outage.js';
import { dialServer } from './dial-server.js';
import { SweepTimer } from './sweep-timer.js';
import { UrlRotation } from './url-rotation.js';

export type { ClientStatus, LinkOptions, LinkSubscription, RejectRequest } from './link-types.js';

interface PendingRequest {
  id: number;
  op: OperationName;
  /** The request as it goes on the wire, encoded once: a resend after a reconnect sends the same bytes. */
  frame: Uint8Array;
  deadlineMs: number;
  /** Written to a connection at least once: a server may have it. One never written was done nowhere. */
  sent: boolean;
  resolve: (value: unknown) => void;
  reject: RejectRequest;
  /** Reads the result by hand, from where it starts in its frame; undefined leaves it to the general decoder. */
  readResult?: (reader: FrameReader) => unknown;
}

export class Link {
  readonly status$: BehaviorSubject<ClientStatus>;
  private connection: Connection | undefined;
  private readonly pending = new Map<number, PendingRequest>();
  private readonly subscriptions = new Map<number, LinkSubscription>();
  private nextId = 1;
  private urlIndex = 0;
  private closed = false;
  private lastSentMs = 0;
  private lastReceivedMs = 0;
  /** When the connection was made: a connection that drops having brought nothing since is a flap. */
  private connectedAtMs = 0;
  private lastProbeMs = 0;
  /** Runs {@link sweep}; a run its own process's stall made late is put off (see SweepTimer). */
  private readonly sweeper: SweepTimer;
  private reconnecting: Promise<void> | undefined;
  /** When requests first met a server that is not the active, while the client looks for it. */
  private failoverSince: number | undefined;
  private redirecting = false;
  private preferredUrl: string | undefined;
  private readonly urls: UrlRotation;
  /** The largest frame the connected server reads, and how long it lets a silent connection live (its welcome says; an older server's are not known). */
  private serverFrameBytesMax = Infinity;
  private serverIdleTimeoutMs = Infinity;
  private readonly outage: Outage;
  /** From a lost connection or a server that is not the active until a server answers as the active. */
  private hunting = false;
  /** The server a reconnect reached while the client looks for the active: told as `reconnected` once it answers as one. */
  private reachedDuringFailover: { url: string; server: string } | undefined;

  constructor(private readonly options: LinkOptions) {
    this.urls = new UrlRotation(options.urls, options.transports);
    this.outage = new Outage(options.random ?? systemRandom);
    this.status$ = new BehaviorSubject<ClientStatus>({ type: 'connecting', url: options.urls[0]! });
    this.sweeper = new SweepTimer(options.clock, options.timers, SWEEP_INTERVAL_MS, options.serverSilenceMs / 2, (now) => this.sweep(now));
  }

  /**
   * Connects in the background instead, first to the first URL, then round the others until
   * `reconnectWindowMs` runs out: requests made meanwhile wait for the connection, and fail as
   * after a lost connection if none is made.
   */
  start(): void {
    this.preferredUrl = this.urls.first;
    this.sweeper.start();
    this.reconnecting ??= this.reconnect('not connected yet').finally(() => (this.reconnecting = undefined));
  }

  /** Reconnects go round these URLs from now on (with those the group names): a stripe's servers. */
  useUrls(urls: readonly string[]): void {
    this.urls.narrowTo(urls);
  }

  /** Connects to the first URL that answers, trying each once. */
  async open(): Promise<void> {
    let lastError: unknown;
    for (let i = 0; i < this.options.urls.length; i++) {
      try {
        await this.dial(this.options.urls[i]!, 'connected');
        this.urlIndex = i;
        this.sweeper.start();
        return;
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError;
  }

  /** Sends a request (encoded once: a resend sends the same bytes) and checks its result; `failure` maps an error, knowing if it was sent. */
  request<K extends OperationName>(op: K, args: ArgumentsOf<K>, timeoutMs?: number, failure?: (error: unknown, sent: boolean) => unknown): Promise<ResultOf<K>> {
    return new Promise<ResultOf<K>>((resolve, reject) => this.send(op, (id) => encodeRequest(id, op, encodeArguments(op, args)), undefined, resolve, failure ? (error, sent) => reject(failure(error, sent)) : reject, timeoutMs));
  }

  /**
   * {@link request} for a request written by hand: `frameOf(id)` gives the bytes the general
   * encoder would, `readResult` reads its result (undefined: not in the form it reads, the general
   * decoder checks it), and the answer comes to callbacks, without a promise. `timeoutMs` (at most
   * `requestTimeoutMs`) bounds a request that already waited elsewhere.
   */
  send<T>(op: OperationName, frameOf: (id: number) => Uint8Array, readResult: ((reader: FrameReader) => T | undefined) | undefined, resolve: (value: T) => void, reject: RejectRequest, timeoutMs = this.options.requestTimeoutMs): void {
    if (this.closed) return reject(new ClientClosedError(), false);
    if (this.pending.size >= this.options.limits.inFlightMax) return reject(new TooManyInFlightError(this.options.limits.inFlightMax), false);
    const id = this.nextId++;
    const request: PendingRequest = { id, op, frame: frameOf(id), deadlineMs: this.options.clock.monotonicMs() + Math.min(timeoutMs, this.options.requestTimeoutMs), sent: false, resolve: resolve as (value: unknown) => void, reject, readResult };
    this.pending.set(id, request);
    this.transmit(request.frame, request);
  }

  /** Registers a subscription and starts it on the server. */
  subscribe(subscription: LinkSubscription): number {
    const id = this.nextId++;
    this.subscriptions.set(id, subscription);
    this.transmit(encodeRequest(id, 'subscribe', encodeArguments('subscribe', subscription.resumeArgs(id))));
    return id;
  }

  unsubscribe(id: number): void {
    if (!this.subscriptions.delete(id)) return;
    if (this.connection) this.transmit(encodeRequest(this.nextId++, 'unsubscribe', encodeArguments('unsubscribe', id)));
  }

  /** Closes the connection; requests in flight fail with `ClientClosedError`. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.sweeper.cancel();
    this.failAll(new ClientClosedError());
    const connection = this.connection;
    this.connection = undefined;
    if (connection) {
      connection.close('client closed');
      await connection.closed;
    }
    this.status$.next({ type: 'closed' });
    this.status$.complete();
  }

  /** Sends a frame now if connected, else on reconnect (begun anew if the link had given up); a send refused otherwise fails `request`, if one waits. */
  private transmit(frame: Uint8Array, request?: PendingRequest): void {
    const connection = this.connection;
    if (!connection) {
      // After the link gave up, new work looks for a server again: it waited out requestTimeoutMs on a link that no longer tried.
      if (!this.closed && this.status$.value.type === 'failed') this.reconnecting ??= this.reconnect('the connection had failed').finally(() => (this.reconnecting = undefined));
      return;
    }
    try {
      // The server would drop the connection, and every reconnect would send the request again.
      if (frame.byteLength > this.serverFrameBytesMax) throw new FrameTooLargeError(frame.byteLength, this.serverFrameBytesMax);
      connection.send(frame);
      this.lastSentMs = this.options.clock.monotonicMs();
    } catch (error) {
      if (error instanceof ConnectionClosedError || request === undefined) return; // the reconnect resends it
      this.take(request.id)?.reject(error, request.sent);
      return;
    }
    if (request) request.sent = true;
  }

  private async dial(url: string, status: 'connected' | 'reconnected'): Promise<void> {
    const { connection, frames, welcome } = await dialServer(url, this.options);
    this.connection = connection;
    this.connectedAtMs = this.lastSentMs = this.lastReceivedMs = this.options.clock.monotonicMs();
    this.urls.learn(welcome.servers);
    this.serverFrameBytesMax = welcome.frameBytesMax ?? Infinity;
    this.serverIdleTimeoutMs = welcome.idleTimeoutMs ?? Infinity;
    // Maybe another server that is not the active: then `reconnected` waits for an answer as the active.
    if (status === 'reconnected' && this.failoverSince !== undefined) this.reachedDuringFailover = { url, server: welcome.server };
    else this.status$.next({ type: status, url, server: welcome.server });
    void this.readLoop(connection, frames, url);
  }

  private async readLoop(connection: Connection, frames: AsyncIterator<Uint8Array>, url: string): Promise<void> {
    let reason = 'connection closed';
    try {
      for (;;) {
        const next = await frames.next();
        if (next.done) break;
        this.lastReceivedMs = this.options.clock.monotonicMs();
        // This frame, then those already received behind it, without a promise each.
        for (let frame: Uint8Array | undefined = next.value; frame !== undefined; frame = connection.takeReceived?.()) {
          if (!this.resolvedByHand(frame)) this.handleFrame(decodeServerFrame(frame));
        }
      }
      reason = (await connection.closed).reason;
    } catch (error) {
      reason = error instanceof Error ? error.message : String(error);
      connection.close(reason);
    }
    if (this.connection !== connection || this.closed) return;
    this.connection = undefined;
    // Leaving a server that is not the active is part of the outage the `reconnecting` statuses tell.
    if (this.failoverSince === undefined) this.status$.next({ type: 'disconnected', url, reason });
    // Dropped soon, with requests waiting and nothing answered: at once again, a server (or a proxy)
    // that drops a connection over a request would take it again, and again, as fast as both go.
    const flapped = this.pending.size > 0 && this.lastReceivedMs === this.connectedAtMs && this.options.clock.monotonicMs() - this.connectedAtMs < RECONNECT_DELAY_MAX_MS;
    this.reconnecting ??= this.reconnect(reason, flapped).finally(() => (this.reconnecting = undefined));
  }

  /** True when `frame` is the result of a request sent with a reader of its own, and that reader read it. */
  private resolvedByHand(frame: Uint8Array): boolean {
    const head = readResultHead(frame);
    const request = head && this.pending.get(head.id);
    const result = head && request?.readResult?.(head.reader);
    if (!head || !request || result === undefined) return false;
    if (this.hunting && answeredAsActive(request.op, false)) this.activeFound();
    this.pending.delete(head.id);
    request.resolve(result);
    return true;
  }

  private handleFrame(frame: ServerFrame): void {
    switch (frame.kind) {
      case FrameKind.Result: {
        if (this.hunting && answeredAsActive(this.pending.get(frame.id)?.op, this.subscriptions.has(frame.id))) this.activeFound();
        const request = this.take(frame.id);
        try {
          request?.resolve(decodeResult(request.op, frame.result));
        } catch (error) {
          request?.reject(error, true);
        }
        return;
      }
      case FrameKind.Error: {
        if (frame.id === null) return; // about the connection; its close follows
        if (frame.error.name === 'NotActiveError' || frame.error.name === 'ServerShuttingDownError') {
          // Keep the request: it goes again to the active once the client finds it. A server shutting
          // down may have shipped a transaction it then gave up on, and a mirror may commit it: the resend
          // carries the same (clientId, seq), so the new active answers it with the original result.
          this.redirect(frame.error.fields.active);
          return;
        }
        const subscription = this.subscriptions.get(frame.id);
        if (subscription) {
          this.subscriptions.delete(frame.id);
          subscription.fail(errorFromWire(frame.error));
        } else {
          this.take(frame.id)?.reject(errorFromWire(frame.error), true);
        }
        return;
      }
      case FrameKind.Events:
        this.subscriptions.get(frame.subscriptionId)?.deliver(frame.slices, frame.passedTo);
        return;
      case FrameKind.SubscriptionEnd: {
        const subscription = this.subscriptions.get(frame.subscriptionId);
        this.subscriptions.delete(frame.subscriptionId);
        subscription?.fail(errorFromWire(frame.error));
        return;
      }
      case FrameKind.Welcome:
        throw new ProtocolError('welcome sent twice');
    }
  }

  /**
   * The server is not the active, or is shutting down: leave it for the one it names (or the next URL), after a short
   * pause, until `reconnectWindowMs` has passed since the first such answer.
   */
  private redirect(hint: unknown): void {
    if (this.redirecting || this.closed) return;
    const { clock, timers, reconnectWindowMs } = this.options;
    const now = clock.monotonicMs();
    this.failoverSince ??= now;
    if (now - this.failoverSince > reconnectWindowMs) {
      const error = new ConnectionClosedError(`no active server found within ${reconnectWindowMs} ms`);
      this.failoverSince = undefined;
      this.hunting = false;
      this.outage.end();
      this.failAll(error);
      this.status$.next({ type: 'failed', error });
      return;
    }
    this.redirecting = true;
    this.hunting = true;
    if (typeof hint === 'string' && hint.length > 0) this.preferredUrl = hint;
    timers.setTimeout(
      () => {
        this.redirecting = false;
        this.connection?.close('not the active');
      },
      this.outage.delayMs(),
      { keepAlive: true },
    );
  }

  /** A server answered as the active: the outage is over. */
  private activeFound(): void {
    this.hunting = false;
    this.failoverSince = undefined;
    this.outage.end();
    const reached = this.reachedDuringFailover;
    this.reachedDuringFailover = undefined;
    if (reached) this.status$.next({ type: 'reconnected', ...reached });
  }

  /** Removes a request from the table and returns it, if it is still there. */
  private take(id: number): PendingRequest | undefined {
    const request = this.pending.get(id);
    if (request !== undefined) this.pending.delete(id);
    return request;
  }

  /** Dials the servers in turn until one answers or `reconnectWindowMs` runs out; `pauseFirst` spaces out a connection that flapped like a failed dial. */
  private async reconnect(reason: string, pauseFirst = false): Promise<void> {
    const { clock, timers, reconnectWindowMs } = this.options;
    const urls = this.urls.all;
    const deadline = clock.monotonicMs() + reconnectWindowMs;
    let refused: KilnError | undefined;
    this.hunting = true;
    if (pauseFirst) await new Promise<void>((resolve) => timers.setTimeout(resolve, Math.min(this.outage.delayMs(), reconnectWindowMs), { keepAlive: true }));
    while (!this.closed) {
      this.status$.next({ type: 'reconnecting', attempt: this.outage.nextAttempt() });
      const preferred = this.preferredUrl;
      this.preferredUrl = undefined;
      // A hint takes one attempt of its own: a stale one must not make the rotation skip a URL.
      if (preferred === undefined) this.urlIndex = (this.urlIndex + 1) % urls.length;
      try {
        await this.dial(preferred ?? urls[this.urlIndex]!, 'reconnected');
        this.resend();
        return;
      } catch (error) {
        refused = finalRefusal(error); // else try the next URL after a pause
      }
      const left = deadline - clock.monotonicMs();
      if (refused || left <= 0) break;
      // The last pause ends at the deadline, for one last attempt there: the window is never cut short.
      const delay = Math.min(this.outage.delayMs(), left);
      await new Promise<void>((resolve) => timers.setTimeout(resolve, delay, { keepAlive: true }));
    }
    if (this.closed) return;
    this.hunting = false;
    this.outage.end();
    const error = refused ?? new ConnectionClosedError(`${reason}; no server answered within ${reconnectWindowMs} ms`);
    this.failAll(error);
    this.status$.next({ type: 'failed', error });
  }

  /** After a reconnect: every request still unanswered goes again, in order, and every subscription resumes. */
  private resend(): void {
    for (const request of this.pending.values()) this.transmit(request.frame, request);
    for (const [id, subscription] of this.subscriptions) this.transmit(encodeRequest(id, 'subscribe', encodeArguments('subscribe', subscription.resumeArgs(id))));
  }

  private failAll(error: KilnError): void {
    const requests = [...this.pending.values()];
    this.pending.clear();
    for (const request of requests) request.reject(error, request.sent);
    const subscriptions = [...this.subscriptions.values()];
    this.subscriptions.clear();
    for (const subscription of subscriptions) subscription.fail(error);
  }

  /**
   * With requests outstanding, a server that says nothing is probed with a ping (answered at once
   * even while a commit waits), and dropped if it still says nothing: the client then finds
   * another server. This is how it leaves a paused or partitioned active.
   */
  private checkServerAlive(now: number): void {
    const { serverSilenceMs } = this.options;
    if (!this.connection || this.pending.size === 0) return;
    const silentMs = now - this.lastReceivedMs;
    if (silentMs > serverSilenceMs) {
      this.connection.close(`server silent for ${Math.round(silentMs)} ms`);
    } else if (silentMs > serverSilenceMs / 2 && now - this.lastProbeMs > serverSilenceMs / 2) {
      this.lastProbeMs = now;
      this.request('ping', null).catch(() => {});
    }
  }

  /** Times out overdue requests and pings an idle connection, on one timer for all requests. */
  private sweep(now: number): void {
    for (const [id, request] of this.pending) {
      if (request.deadlineMs <= now) this.take(id)?.reject(new TimeoutError(request.op, this.options.requestTimeoutMs), request.sent);
    }
    // Within a third of the shorter of the two: a server that closes silent connections sooner would drop a subscriber's.
    if (this.connection && now - this.lastSentMs >= Math.min(this.options.limits.idleTimeoutMs, this.serverIdleTimeoutMs) / 3) this.request('ping', null).catch(() => {});
    this.checkServerAlive(now);
  }
}
