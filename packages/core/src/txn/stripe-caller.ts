/**
 * A server's calls to the actives of other stripes, for transactions over several stripes: one
 * client link per stripe, made on first use with that stripe's client URLs, following its active
 * through failovers as any client does.
 */
import { Link } from '../client/link.js';
import { ClientClosedError, StripeUnavailableError, TimeoutError } from '../errors.js';
import type { ClusterLayout } from '../cluster/layout.js';
import type { ConnectionLimits } from '../limits.js';
import type { StreamEntry } from '../log/record.js';
import type { ArgumentsOf, OperationName, ResultOf } from '../protocol/operations.js';
import { readDecided, readVote, writeDecideFrame, writePrepareFrame } from '../protocol/txn-frames.js';
import type { DecideRequest, PrepareRequest } from '../protocol/txn-messages.js';
import type { Clock, Random, Timers } from '../time.js';
import type { Transport } from '../transport/transport.js';
import type { Credentials } from '../protocol/handshake.js';

export interface StripeCallerOptions {
  self: string;
  layout: ClusterLayout;
  transports: readonly Transport[];
  limits: Pick<ConnectionLimits, 'frameBytesMax' | 'sendQueueBytesMax' | 'inFlightMax' | 'idleTimeoutMs'>;
  /** How long one call may take, resends after a failover included. */
  callTimeoutMs: number;
  clock: Clock;
  timers: Timers;
  /** Spaces the links' reconnect attempts (the simulation's, so that a seed replays). */
  random: Random;
  /** What the links present, when the other stripes check credentials. */
  credentials?: Credentials;
  /**
   * A client URL of a stripe's active as far as this server knows, or null: a new link dials it
   * first. A paused server still takes connections and never answers, and a link that dialled it
   * first, as the first configured, could spend its whole window there.
   */
  activeUrl?: (stripe: number) => string | null;
}

/** A call waiting for room on its stripe's link. */
interface WaitingCall {
  op: OperationName;
  sinceMs: number;
  /** Sends it, with `timeoutMs` of its window left. */
  send: (timeoutMs: number) => void;
  refuse: (error: unknown) => void;
}

export class StripeCaller {
  private readonly links = new Map<number, Link>();
  /** Calls sent and not yet answered, by stripe. */
  private readonly unanswered = new Map<number, number>();
  /** Calls waiting for room, by stripe, in the order they came. */
  private readonly waiting = new Map<number, WaitingCall[]>();
  /** Stripes whose waiting calls are to be sent at this turn's end. */
  private readonly sending = new Set<number>();
  private closed = false;

  constructor(private readonly options: StripeCallerOptions) {}

  /** Sends a request to the active of `stripe`. */
  call<K extends OperationName>(stripe: number, op: K, args: ArgumentsOf<K>): Promise<ResultOf<K>> {
    return new Promise((resolve, reject) => this.whenRoom(stripe, op, (answered, failed, timeoutMs) => this.link(stripe).request(op, args, timeoutMs).then(answered, failed), resolve, reject));
  }

  /**
   * Asks the active of `stripe` to prepare its part, with frames written and read by hand: its
   * vote (the part's ranges) comes to `voted`, a no, a lost link or no answer within
   * `callTimeoutMs` (the link's one sweep times every call out) to `refused`. No promise each.
   */
  prepare(stripe: number, request: PrepareRequest, voted: (entries: StreamEntry[]) => void, refused: (error: unknown) => void): void {
    this.whenRoom(stripe, 'prepare', (answered, failed, timeoutMs) => this.link(stripe).send('prepare', (id) => writePrepareFrame(id, request), readVote, answered, failed, timeoutMs), voted, refused);
  }

  /** Tells the active of `stripe` a decision, with frames written and read by hand; `told` once it took it. */
  decide(stripe: number, request: DecideRequest, told: () => void, failed: (error: unknown) => void): void {
    this.whenRoom(stripe, 'decide', (answered, failed, timeoutMs) => this.link(stripe).send('decide', (id) => writeDecideFrame(id, request), readDecided, answered, failed, timeoutMs), told, failed);
  }

  /**
   * Sends a call now while fewer than `inFlightMax` to `stripe` are unanswered, else once earlier
   * ones are, in order. One link carries every client's transactions to that stripe: past the cap
   * the link (and the other server) refuse with TooManyInFlightError, which failed some client's
   * transaction for the load of others. A waiting call needs no timer: the calls ahead of it end,
   * answered or timed out by the link, within `callTimeoutMs`; one that waited that long fails
   * with TimeoutError unsent, and one sent after a wait has only what is left of its
   * `callTimeoutMs`: a transaction fails within about `txnTimeoutMs`, not twice that.
   */
  private whenRoom<T>(stripe: number, op: OperationName, start: (answered: (value: T) => void, failed: (error: unknown) => void, timeoutMs: number) => void, resolve: (value: T) => void, reject: (error: unknown) => void): void {
    if (this.closed) return reject(new ClientClosedError());
    const send = (timeoutMs: number): void => {
      this.unanswered.set(stripe, (this.unanswered.get(stripe) ?? 0) + 1);
      start(
        (value) => {
          this.answered(stripe);
          resolve(value);
        },
        (error) => {
          this.answered(stripe);
          reject(this.unavailable(stripe, error));
        },
        timeoutMs,
      );
    };
    const waiting = this.waiting.get(stripe);
    if (!waiting && (this.unanswered.get(stripe) ?? 0) < this.options.limits.inFlightMax) return send(this.options.callTimeoutMs);
    const call = { op, sinceMs: this.options.clock.monotonicMs(), send, refuse: reject };
    if (waiting) waiting.push(call);
    else this.waiting.set(stripe, [call]);
  }

  /**
   * A link that gave up fails its calls with `ConnectionClosedError`; a coordinator passes a
   * prepare's failure on to its client, which would take a bare one for the coordinator's own
   * stripe being out of reach. Named, it says which stripe was.
   */
  private unavailable(stripe: number, error: unknown): unknown {
    return StripeUnavailableError.ofClosedLink(this.options.layout.stripes[stripe]!.name, error);
  }

  /**
   * A call to `stripe` was answered: the next waiting ones go, at this turn's end. A link that
   * gives up fails its calls before it says it failed (and is made again): a call sent on it from
   * within that failure would fail with the link's close, as `ClientClosedError`.
   */
  private answered(stripe: number): void {
    this.unanswered.set(stripe, this.unanswered.get(stripe)! - 1);
    if (!this.waiting.has(stripe) || this.sending.has(stripe)) return;
    this.sending.add(stripe);
    this.options.timers.defer(() => {
      this.sending.delete(stripe);
      this.sendWaiting(stripe);
    });
  }

  /** Sends the calls waiting for `stripe` while there is room, in order. */
  private sendWaiting(stripe: number): void {
    const waiting = this.waiting.get(stripe);
    if (!waiting) return;
    const { callTimeoutMs, limits, clock } = this.options;
    while (waiting.length > 0 && this.unanswered.get(stripe)! < limits.inFlightMax) {
      const call = waiting.shift()!;
      const waitedMs = clock.monotonicMs() - call.sinceMs;
      if (this.closed) call.refuse(new ClientClosedError());
      else if (waitedMs >= callTimeoutMs) call.refuse(new TimeoutError(call.op, callTimeoutMs));
      else call.send(callTimeoutMs - waitedMs);
    }
    if (waiting.length === 0) this.waiting.delete(stripe);
  }

  /**
   * Closes every link, failing the calls in flight and those waiting their turn with
   * `ClientClosedError`: a link resends what it still waits for after a redial, up to
   * `callTimeoutMs` later, so an office that ended takes back what it sent this way. The next
   * call makes a link again.
   */
  async withdraw(): Promise<void> {
    for (const call of [...this.waiting.values()].flat()) call.refuse(new ClientClosedError());
    this.waiting.clear();
    const links = [...this.links.values()];
    this.links.clear();
    await Promise.all(links.map((l) => l.close()));
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.withdraw();
  }

  private link(stripe: number): Link {
    const existing = this.links.get(stripe);
    if (existing && !this.closed) return existing;
    const { layout, transports, limits, callTimeoutMs, clock, timers, random, self, credentials } = this.options;
    const configured = layout.stripes[stripe]!.servers.flatMap((s) => [...s.urls]);
    const active = this.options.activeUrl?.(stripe);
    const urls = active && configured.includes(active) ? [active, ...configured.filter((url) => url !== active)] : configured;
    const link = new Link({ urls, transports, limits, hello: { name: `${self}-txn`, ...(credentials ? { credentials } : {}) }, requestTimeoutMs: callTimeoutMs, reconnectWindowMs: callTimeoutMs, serverSilenceMs: Math.min(2_000, callTimeoutMs), clock, timers, random });
    // A link that gave up is made again on the next call.
    link.status$.subscribe((status) => {
      if (status.type === 'failed' && this.links.get(stripe) === link) {
        this.links.delete(stripe);
        void link.close();
      }
    });
    this.links.set(stripe, link);
    link.start();
    return link;
  }
}
