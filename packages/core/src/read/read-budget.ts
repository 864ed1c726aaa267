/**
 * Bounds the bytes that client reads in flight hold, per connection and per server. Each read is
 * charged `readBytesMax` (about the most it loads) before it touches the store, and the charge
 * comes back once its answer is handed to the connection. A connection's next read starts only
 * when its connection can take a reply, its own budget has room and the server's budget has room;
 * one connection's reads start in the order they came.
 *
 * Without it, a client that pipelines a thousand reads and never reads the answers starts them all
 * at once: each loads about `readBytesMax` before the first answer can fill its send queue.
 */
import { ConnectionClosedError } from '../errors.js';
import type { Connection } from '../transport/transport.js';

/** The server's budget: bytes every connection's reads in flight hold together, granted first come, first served. */
export class ReadBudget {
  private availableBytes: number;
  private readonly waiting: Array<{ bytes: number; grant: () => void }> = [];

  constructor(capacityBytes: number) {
    this.availableBytes = capacityBytes;
  }

  /** Resolves once `bytes` are charged. */
  charge(bytes: number): Promise<void> {
    if (this.waiting.length === 0 && this.availableBytes >= bytes) {
      this.availableBytes -= bytes;
      return Promise.resolve();
    }
    return new Promise((grant) => this.waiting.push({ bytes, grant }));
  }

  refund(bytes: number): void {
    this.availableBytes += bytes;
    while (this.waiting.length > 0 && this.availableBytes >= this.waiting[0]!.bytes) {
      const next = this.waiting.shift()!;
      this.availableBytes -= next.bytes;
      next.grant();
    }
  }
}

/** One connection's reads: started one at a time, in order, within the connection's budget and the server's. */
export class ReadGate {
  private heldBytes = 0;
  private readonly queue: Array<{ admit: () => void; refuse: (error: Error) => void }> = [];
  private pumping = false;
  private closedError: Error | undefined;

  constructor(
    private readonly connection: Pick<Connection, 'writable' | 'whenWritable'>,
    private readonly server: ReadBudget,
    private readonly connectionBudgetBytes: number,
    private readonly chargeBytes: number,
  ) {}

  /**
   * Runs `read` once admitted (`read` answers the client itself); the charge is refunded when it settles.
   * @throws ConnectionClosedError when the connection closes before the read is admitted
   */
  async run(read: () => Promise<void>): Promise<void> {
    await this.admission();
    try {
      await read();
    } finally {
      this.heldBytes -= this.chargeBytes;
      this.server.refund(this.chargeBytes);
      void this.pump();
    }
  }

  /** Refuses the reads still waiting: their connection closed. */
  close(reason: string): void {
    this.closedError ??= new ConnectionClosedError(reason);
    for (const waiter of this.queue.splice(0)) waiter.refuse(this.closedError);
  }

  private admission(): Promise<void> {
    if (this.closedError) return Promise.reject(this.closedError);
    const admitted = new Promise<void>((admit, refuse) => this.queue.push({ admit, refuse }));
    void this.pump();
    return admitted;
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.queue.length > 0 && this.heldBytes + this.chargeBytes <= this.connectionBudgetBytes) {
        // A reply the connection cannot take would only wait in memory.
        if (!this.connection.writable) await this.connection.whenWritable();
        await this.server.charge(this.chargeBytes);
        const next = this.queue.shift();
        if (!next) {
          this.server.refund(this.chargeBytes); // the connection closed meanwhile
          return;
        }
        this.heldBytes += this.chargeBytes;
        next.admit();
      }
    } catch (error) {
      // whenWritable rejects once the connection is closed.
      this.close(error instanceof Error ? error.message : String(error));
    } finally {
      this.pumping = false;
    }
  }
}
