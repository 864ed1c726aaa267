/**
 * An active's announcements of itself (and of its stripe's epoch) to the servers of the other
 * stripes, so that any server can tell a client where each stripe's active is (the seed's "active
 * servers automatically coordinate"). It speaks only on change: once when the active takes
 * office, once when the epoch becomes known, and again to each server whose link comes up (a server that restarts hears it within a redial). At idle it sends
 * nothing, so a cluster's idle traffic per stripe does not grow with the number of stripes.
 */
import type { ConnectionLimits } from '../limits.js';
import { PeerNetwork, type PeerAddress } from '../replication/peer-network.js';
import type { Timers } from '../time.js';
import type { Transport } from '../transport/transport.js';

export interface AnnouncerOptions {
  self: string;
  /** This server's stripe. */
  stripe: number;
  /** Every server of the other stripes. */
  others: readonly PeerAddress[];
  transports: readonly Transport[];
  timers: Timers;
  limits: Pick<ConnectionLimits, 'frameBytesMax' | 'sendQueueBytesMax'>;
  /** Each server must present a certificate carrying its name (mutual TLS). */
  mutualTls: boolean;
}

export class ActiveAnnouncer {
  private network: PeerNetwork | undefined;
  private term = 0;

  constructor(
    private readonly options: AnnouncerOptions,
    /** The epoch of this server's stripe as known now. */
    private readonly epoch: () => number,
  ) {}

  /** This server took office in `term`: tell every other stripe, now and whenever a link comes up. */
  tookOffice(term: number): void {
    this.term = term;
    if (this.options.others.length === 0) return;
    if (this.network === undefined) {
      const { self, stripe, others, transports, timers, limits, mutualTls } = this.options;
      const network = new PeerNetwork({ self, peers: others, transports, timers, limits, stripe, mutualTls, onLinkChange: (peer, up) => up && this.announceTo(peer) });
      this.network = network;
      network.start();
    }
    this.network.broadcast(this.message());
  }

  /** The stripe's epoch became known (its first record committed): tell the other stripes again. */
  epochKnown(): void {
    this.network?.broadcast(this.message());
  }

  /** This server is the active no more: stop announcing (the next active announces itself). */
  steppedDown(): void {
    this.network?.close();
    this.network = undefined;
  }

  close(): void {
    this.steppedDown();
  }

  private announceTo(peer: string): void {
    this.network?.send(peer, this.message());
  }

  private message(): { kind: 'announce'; term: number; from: string; epoch: number } {
    return { kind: 'announce', term: this.term, from: this.options.self, epoch: this.epoch() };
  }
}
