/**
 * Every message a member sends goes through here: a message of a term the member has not yet
 * recorded waits until the record is in the store, and so does everything sent after it, in order.
 * A member that crashes then never has said anything in a term it forgets (Raft's rule: persist
 * before you answer).
 */
import type { PeerNetwork } from './peer-network.js';
import type { OutgoingPeerMessage } from './peer-protocol.js';

/** Sending as the shipper and the roles need it. */
export interface PeerSender {
  /** Sends best effort; false when the message could not go (not connected, or backed up). */
  send(to: string, message: OutgoingPeerMessage): boolean;
  broadcast(message: OutgoingPeerMessage): void;
  /** Whether a message to `to` would go now. */
  canSend(to: string): boolean;
  /** Writes what was sent so far at once, instead of at the end of this event-loop turn. */
  writeNow(): void;
}

type Held = { to: string; message: OutgoingPeerMessage } | { to: undefined; message: OutgoingPeerMessage };

export class Outbox implements PeerSender {
  private readonly held: Held[] = [];

  /** @param durableTerm the highest term recorded in the store */
  constructor(
    private readonly network: Pick<PeerNetwork, 'send' | 'broadcast' | 'canSend' | 'writeNow'>,
    private readonly durableTerm: () => number,
  ) {}

  send(to: string, message: OutgoingPeerMessage): boolean {
    if (this.mustHold(message)) {
      this.held.push({ to, message });
      return true;
    }
    return this.network.send(to, message);
  }

  broadcast(message: OutgoingPeerMessage): void {
    if (this.mustHold(message)) this.held.push({ to: undefined, message });
    else this.network.broadcast(message);
  }

  canSend(to: string): boolean {
    return this.held.length === 0 && this.network.canSend(to);
  }

  writeNow(): void {
    this.network.writeNow();
  }

  /** Sends what waited for a term that is now recorded; call after each write of the term. */
  release(): void {
    while (this.held.length > 0 && this.held[0]!.message.term <= this.durableTerm()) {
      const { to, message } = this.held.shift()!;
      if (to === undefined) this.network.broadcast(message);
      else this.network.send(to, message);
    }
  }

  /** Drops what waits: the member is stopping. */
  clear(): void {
    this.held.length = 0;
  }

  private mustHold(message: OutgoingPeerMessage): boolean {
    return this.held.length > 0 || message.term > this.durableTerm();
  }
}
