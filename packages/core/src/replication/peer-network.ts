/**
 * The outgoing connections of a member to the others: one to each, redialled with backoff while it
 * is down (incoming ones go to the process's `PeerInbox`). Sending is best effort: a message to a member that is not connected, or
 * whose connection is backed up, is not sent, and the protocol above recovers (the active
 * re-ships from the last acknowledged LSN; elections and in-sync changes retry on timers).
 *
 * The network serves one stripe: it stamps that stripe on every message it sends.
 */
import { ConnectionClosedError, ConnectionRefusedError } from '../errors.js';
import { REDIAL_DELAY_MAX_MS, REDIAL_DELAY_MIN_MS, type ConnectionLimits } from '../limits.js';
import { openHandshake, type Welcome } from '../protocol/handshake.js';
import type { TimerHandle, Timers } from '../time.js';
import type { Connection, Transport } from '../transport/transport.js';
import { encodePeerMessage, SINGLE_STRIPE, type OutgoingPeerMessage, type PeerMessage } from './peer-protocol.js';

/** Another member, as this one reaches it. */
export interface PeerAddress {
  name: string;
  /** Its peer URL. */
  url: string;
}

export interface PeerNetworkOptions {
  self: string;
  peers: readonly PeerAddress[];
  transports: readonly Transport[];
  timers: Timers;
  limits: Pick<ConnectionLimits, 'frameBytesMax' | 'sendQueueBytesMax'>;
  /** The stripe whose messages this network carries. @default SINGLE_STRIPE */
  stripe?: number;
  /** Called when an outgoing connection opens or closes. */
  onLinkChange: (peer: string, up: boolean) => void;
  /** Each peer must present a certificate carrying its name (mutual TLS). @default false */
  mutualTls?: boolean;
}


interface Link {
  peer: PeerAddress;
  connection: Connection | undefined;
  delayMs: number;
  timer: TimerHandle | undefined;
  /** Set once the member left the group: the link is never redialled. */
  closed: boolean;
  /** The last dial was refused: nothing accepts at the peer's address. */
  refused: boolean;
  /** The peer said in its welcome that it understands pre-vote messages. */
  preVote: boolean;
  /** The peer said in its welcome that it echoes an append's `askedAtMs` (and reads an ack's). */
  leaseEcho: boolean;
}

export class PeerNetwork {
  private readonly links = new Map<string, Link>();
  private closed = false;
  private started = false;
  private readonly stripe: number;

  constructor(private readonly options: PeerNetworkOptions) {
    this.stripe = options.stripe ?? SINGLE_STRIPE;
    this.setPeers(options.peers);
  }

  start(): void {
    this.started = true;
    for (const link of this.links.values()) void this.dial(link);
  }

  /** Follows a change of the group: dials members that joined, hangs up on members that left. */
  setPeers(peers: readonly PeerAddress[]): void {
    const wanted = new Map(peers.filter((p) => p.name !== this.options.self).map((p) => [p.name, p]));
    for (const [name, link] of this.links) {
      if (wanted.get(name)?.url === link.peer.url) continue;
      this.links.delete(name);
      link.closed = true;
      link.timer?.cancel();
      link.connection?.close('no longer a member of the group');
    }
    for (const [name, peer] of wanted) {
      if (this.links.has(name)) continue;
      const link: Link = { peer, connection: undefined, delayMs: REDIAL_DELAY_MIN_MS, timer: undefined, closed: false, refused: false, preVote: false, leaseEcho: false };
      this.links.set(name, link);
      if (this.started) void this.dial(link);
    }
  }

  /** True while the outgoing connection to `peer` is open. */
  isConnected(peer: string): boolean {
    return this.links.get(peer)?.connection !== undefined;
  }

  /**
   * True while `peer` is not connected and the last dial to it was refused: a strong sign its
   * process is gone, unlike a dropped connection, which a redial usually restores.
   */
  isRefused(peer: string): boolean {
    const link = this.links.get(peer);
    return link !== undefined && link.connection === undefined && link.refused;
  }

  /** True while `peer` is connected and said it understands pre-vote messages. */
  speaksPreVote(peer: string): boolean {
    const link = this.links.get(peer);
    return link?.connection !== undefined && link.preVote;
  }

  /** True while a message to `peer` would go out without queueing behind others. */
  canSend(peer: string): boolean {
    return this.links.get(peer)?.connection?.writable ?? false;
  }

  /** Sends a message to one member; false when it could not go out now. */
  send(peer: string, message: OutgoingPeerMessage): boolean {
    const link = this.links.get(peer);
    if (!link?.connection) return false;
    try {
      link.connection.send(this.encode(message, link.leaseEcho));
      return true;
    } catch {
      return false;
    }
  }

  /** Writes what was sent to every member so far at once, instead of at the end of this turn. */
  writeNow(): void {
    for (const link of this.links.values()) link.connection?.writeNow?.();
  }

  /** Sends a message to every other member. */
  broadcast(message: OutgoingPeerMessage): void {
    const frame = this.encode(message, false);
    for (const link of this.links.values()) {
      try {
        link.connection?.send(frame);
      } catch {
        // down or backed up: timers retry what matters
      }
    }
  }

  close(): void {
    this.closed = true;
    for (const link of this.links.values()) {
      link.timer?.cancel();
      link.connection?.close('member shutting down');
    }
  }

  private encode(message: OutgoingPeerMessage, leaseEcho: boolean): Uint8Array {
    const stamped: PeerMessage = { ...message, stripe: this.stripe };
    // A member of an older version refuses a field it does not know: it gets none, and the active
    // counts its answers for the lease as it did before (from its last heartbeat).
    if (!leaseEcho && (stamped.kind === 'append' || stamped.kind === 'ack')) stamped.askedAtMs = undefined;
    return encodePeerMessage(stamped);
  }

  private async dial(link: Link): Promise<void> {
    if (this.closed || link.closed) return;
    try {
      const { connection, preVote, leaseEcho } = await this.open(link.peer);
      if (this.closed || link.closed) {
        connection.close('member shutting down');
        return;
      }
      link.connection = connection;
      link.preVote = preVote;
      link.leaseEcho = leaseEcho;
      link.refused = false;
      link.delayMs = REDIAL_DELAY_MIN_MS;
      this.options.onLinkChange(link.peer.name, true);
      void connection.closed.then(() => {
        link.connection = undefined;
        this.options.onLinkChange(link.peer.name, false);
        this.redial(link);
      });
    } catch (error) {
      link.refused = error instanceof ConnectionRefusedError;
      this.redial(link);
    }
  }

  private redial(link: Link): void {
    if (this.closed || link.closed) return;
    link.timer = this.options.timers.setTimeout(() => void this.dial(link), link.delayMs);
    link.delayMs = Math.min(link.delayMs * 2, REDIAL_DELAY_MAX_MS);
  }

  private async open(peer: PeerAddress): Promise<{ connection: Connection; preVote: boolean; leaseEcho: boolean }> {
    const { url, name } = peer;
    const scheme = url.slice(0, Math.max(url.indexOf(':'), 0));
    const transport = this.options.transports.find((t) => t.schemes.includes(scheme));
    if (!transport) throw new ConnectionClosedError(`no transport for ${url}`);
    const { frameBytesMax, sendQueueBytesMax } = this.options.limits;
    const connection = await transport.dial(url, { frameBytesMax, sendQueueBytesMax, ...(this.options.mutualTls ? { serverName: name } : {}) });
    const frames = connection[Symbol.asyncIterator]();
    let welcome: Welcome;
    try {
      welcome = await openHandshake(connection, frames, { role: 'peer', name: this.options.self });
    } catch (error) {
      connection.close('refused');
      throw error;
    }
    // Nothing else comes back on an outgoing link; drain it so the connection never backs up.
    void (async () => {
      for (;;) if ((await frames.next()).done) return;
    })();
    return { connection, preVote: welcome.preVote === true, leaseEcho: welcome.leaseEcho === true };
  }
}
