/**
 * The subscriptions of one client connection: those open, and those whose start waits (for the
 * read barrier of a new active). An unsubscribe read while a start waits cancels that start, so a
 * client that pipelines subscribe then unsubscribe gets no events and holds no slot, whichever
 * of the two finishes first; a connection that closes cancels every start still waiting.
 */
import { errorToWire, FrameTooLargeError, InvalidArgumentError } from '../errors.js';
import { SUBSCRIPTIONS_PER_CONNECTION_MAX } from '../limits.js';
import { encodeEvents, encodeSubscriptionEnd } from '../protocol/frames.js';
import type { EventSlice, SubscribeRequest } from '../protocol/messages.js';
import type { Subscription, SubscriptionHub, SubscriptionSink } from '../read/subscriptions.js';
import type { Connection } from '../transport/transport.js';

/** Where a connection's subscriptions send their frames. */
export interface SubscriptionOutput {
  connection: Pick<Connection, 'writable' | 'whenWritable'>;
  /** Sends a frame; false when the connection is gone. */
  send(frame: Uint8Array): boolean;
  /** The largest frame the client reads: a batch of events over it goes in smaller ones, and an event over it ends its subscription with FrameTooLargeError. */
  sendBytesMax(): number;
}

export class SessionSubscriptions {
  private readonly open = new Map<number, Subscription>();
  /** The ids of subscriptions whose start waits; an id taken out by {@link end} is not started. */
  private readonly starting = new Set<number>();

  constructor(
    private readonly hub: SubscriptionHub,
    private readonly output: SubscriptionOutput,
  ) {}

  /**
   * Starts `request` once `ready` resolves, unless it was ended meanwhile; `ready` rejecting
   * fails it. @throws InvalidArgumentError when its id is in use on this connection
   */
  startWhen(request: SubscribeRequest, ready: Promise<unknown>, start: () => null): Promise<null> {
    const id = request.subscriptionId;
    this.checkFree(id);
    this.starting.add(id);
    return ready.then(
      () => (this.starting.delete(id) ? start() : null),
      (error: unknown) => {
        this.starting.delete(id);
        throw error;
      },
    );
  }

  /** Opens subscription `request` on the hub, its events going to the connection. @throws InvalidArgumentError when its id is in use or the connection holds the most it may */
  add(request: SubscribeRequest): void {
    this.checkFree(request.subscriptionId);
    if (this.open.size >= SUBSCRIPTIONS_PER_CONNECTION_MAX) {
      throw new InvalidArgumentError('subscribe', `at most ${SUBSCRIPTIONS_PER_CONNECTION_MAX} subscriptions per connection`);
    }
    this.open.set(request.subscriptionId, this.hub.open(request.stream, request.from, this.sinkOf(request.subscriptionId), request.filter));
  }

  /** Subscription `id`'s events as frames on the connection. */
  private sinkOf(id: number): SubscriptionSink {
    const { connection } = this.output;
    return {
      get writable() {
        return connection.writable;
      },
      send: (slices: EventSlice[], passedTo?: number) => this.sendSplit(id, slices, passedTo),
      whenWritable: () => connection.whenWritable(),
      fail: (error: unknown) => this.fail(id, error),
    };
  }

  /**
   * Sends `slices` in frames the client reads, halving a batch over its limit (a client's limit may
   * be under the server's); one slice alone over it ends the subscription, which the client could
   * not read (it would drop the connection, and subscribe again). False when the connection is gone.
   */
  private sendSplit(id: number, slices: EventSlice[], passedTo?: number): boolean {
    const frame = encodeEvents(id, slices, passedTo);
    const max = this.output.sendBytesMax();
    if (frame.byteLength <= max) return this.output.send(frame);
    if (slices.length === 1) {
      this.fail(id, new FrameTooLargeError(frame.byteLength, max));
      return false;
    }
    const half = slices.length >> 1;
    return this.sendSplit(id, slices.slice(0, half)) && this.sendSplit(id, slices.slice(half), passedTo);
  }

  /** Ends subscription `id`, which the hub ends itself, telling the client why. */
  private fail(id: number, error: unknown): void {
    this.open.delete(id);
    this.output.send(encodeSubscriptionEnd(id, errorToWire(error)));
  }

  /** Ends subscription `id`, open or starting; nothing when there is none. */
  end(id: number): void {
    this.starting.delete(id);
    const subscription = this.open.get(id);
    if (subscription) {
      this.hub.close(subscription);
      this.open.delete(id);
    }
  }

  /** Ends every subscription, and every start still waiting: the connection closed. */
  endAll(): void {
    this.starting.clear();
    for (const subscription of this.open.values()) this.hub.close(subscription);
    this.open.clear();
  }

  private checkFree(id: number): void {
    if (this.open.has(id) || this.starting.has(id)) throw new InvalidArgumentError('subscriptionId', 'is already in use on this connection');
  }
}
