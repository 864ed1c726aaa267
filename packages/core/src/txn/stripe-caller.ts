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

  /** Asks the active of `stripe` to prepare its part (frames written and read by hand); resolves with its vote, the part's ranges. */
  prepare(stripe: number, request: PrepareRequest): Promise<StreamEntry[]> {
    return new Promise((resolve, reject) => this.link(stripe).send('prepare', (id) => writePrepareFrame(id, request), readVote, resolve, reject));
  }

  /** Tells the active of `stripe` a decision (frames written and read by hand); resolves once it took it. */
  decide(stripe: number, request: DecideRequest): Promise<null> {
    return new Promise((resolve, reject) => this.link(stripe).send('decide', (id) => writeDecideFrame(id, request), readDecided, resolve, reject));
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.links.values()].map((l) => l.close()));
    this.links.clear();
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
