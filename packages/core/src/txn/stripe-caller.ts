/**
 * A server's calls to the actives of other stripes, for transactions over several stripes: one
 * client link per stripe, made on first use with that stripe's client URLs, following its active
 * through failovers as any client does.
 */
import { Link } from '../client/link.js';
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
}

export class StripeCaller {
  private readonly links = new Map<number, Link>();
  private closed = false;

  constructor(private readonly options: StripeCallerOptions) {}

  /** Sends a request to the active of `stripe`. */
  call<K extends OperationName>(stripe: number, op: K, args: ArgumentsOf<K>): Promise<ResultOf<K>> {
    return this.link(stripe).request(op, args);
  }

  /**
   * Asks the active of `stripe` to prepare its part, with frames written and read by hand: its
   * vote (the part's ranges) comes to `voted`, a no, a lost link or no answer within
   * `callTimeoutMs` (the link's one sweep times every call out) to `refused`. No promise each.
   */
  prepare(stripe: number, request: PrepareRequest, voted: (entries: StreamEntry[]) => void, refused: (error: unknown) => void): void {
    this.link(stripe).send('prepare', (id) => writePrepareFrame(id, request), readVote, voted, refused);
  }

  /** Tells the active of `stripe` a decision, with frames written and read by hand; `told` once it took it. */
  decide(stripe: number, request: DecideRequest, told: () => void, failed: (error: unknown) => void): void {
    this.link(stripe).send('decide', (id) => writeDecideFrame(id, request), readDecided, told, failed);
  }

  /**
   * Closes every link, failing the calls in flight with `ClientClosedError`: a link resends what
   * it still waits for after a redial, up to `callTimeoutMs` later, so an office that ended takes
   * back what it sent this way. The next call makes a link again.
   */
  async withdraw(): Promise<void> {
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
    const urls = layout.stripes[stripe]!.servers.flatMap((s) => [...s.urls]);
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
