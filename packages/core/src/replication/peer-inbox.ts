/**
 * Incoming peer connections of one process, and where their messages go: each message names its
 * stripe, and goes to the member of that stripe this process runs (a server runs one, a voter one
 * per stripe); an active's announcement of another stripe goes to the cluster directory. A message
 * for a stripe this process does not serve is dropped, and logged once per connection and stripe.
 */
import type { Connection } from '../transport/transport.js';
import { decodePeerMessage, type AnnounceMessage, type GroupMessage, type PeerMessage } from './peer-protocol.js';

export interface PeerInboxOptions {
  self: string;
  log: (line: string) => void;
  /** Called with a message that could not be decoded or handled; its connection then closes. */
  onError: (error: unknown) => void;
  /** Receives an active's announcement of itself. @default dropped */
  onAnnounce?: (message: AnnounceMessage) => void;
  /**
   * Mutual TLS: a connection is taken only when its transport verified a member's certificate,
   * and each message only when it comes from the member that certificate names. A member's hello
   * on a client address, which asks for no certificate, is refused.
   * @default false
   */
  mutualTls?: boolean;
}

export class PeerInbox {
  private readonly members = new Map<number, (message: GroupMessage) => void>();
  private readonly incoming = new Set<Connection>();
  private closed = false;

  constructor(private readonly options: PeerInboxOptions) {}

  /** Hands the messages of `stripe` to `deliver`, the member of that stripe. */
  register(stripe: number, deliver: (message: GroupMessage) => void): void {
    this.members.set(stripe, deliver);
  }

  /** Takes over an incoming connection whose hello said it is a peer; reads its messages until it closes. */
  async accept(connection: Connection, frames: AsyncIterator<Uint8Array>): Promise<void> {
    const certified = connection.certificateName;
    if (this.options.mutualTls && certified === undefined) {
      this.refuse(connection, 'it presented no certificate: members connect to the peer address, over mutual TLS');
      return;
    }
    this.incoming.add(connection);
    const reported = new Set<number>();
    try {
      for (;;) {
        const next = await frames.next();
        if (next.done || this.closed) break;
        // This frame, then those that arrived with it, in one go: a member sees a whole read before
        // it applies any of it, so a mirror stores and acknowledges them together.
        for (let frame: Uint8Array | undefined = next.value; frame !== undefined && !this.closed; frame = connection.takeReceived?.()) {
          const message = decodePeerMessage(frame);
          if (this.options.mutualTls && message.from !== certified) {
            this.refuse(connection, `a message from '${message.from}' came over the connection of '${certified}'`);
            return;
          }
          this.dispatch(message, reported);
        }
      }
    } catch (error) {
      this.options.onError(error);
      connection.close(error instanceof Error ? error.message : String(error));
    } finally {
      this.incoming.delete(connection);
    }
  }

  private dispatch(message: PeerMessage, reported: Set<number>): void {
    if (message.kind === 'announce') {
      this.options.onAnnounce?.(message);
      return;
    }
    const deliver = this.members.get(message.stripe);
    if (deliver !== undefined) deliver(message);
    else if (!reported.has(message.stripe)) {
      reported.add(message.stripe);
      const serves = [...this.members.keys()].join(', ');
      this.options.log(`${this.options.self}: dropped a '${message.kind}' message from ${message.from} for stripe ${message.stripe}, which this process does not serve (it serves ${serves}); later ones on this connection are dropped silently`);
    }
  }

  private refuse(connection: Connection, reason: string): void {
    this.options.log(`${this.options.self}: refused a peer connection from ${connection.remoteAddress}: ${reason}`);
    connection.close(`refused: ${reason}`);
  }

  close(): void {
    this.closed = true;
    for (const connection of this.incoming) connection.close('member shutting down');
  }
}
