/**
 * Subscriptions: catch up from a position by reading the store, then go live on commit
 * notifications, with no gap and no duplicate at the seam. The switch to live happens in the
 * same synchronous step that sees the reads reach the commit index, so no commit falls between.
 * A subscriber whose connection stops draining drops back to catching up from the store, so a
 * slow reader costs no server memory beyond its connection's capped send queue. Each catch-up
 * read is charged to the server's read budget, as a client's read is, so many subscriptions
 * catching up at once hold at most `readBytesInFlightMax` between them.
 */
import type { LogLimits } from '../limits.js';
import type { LogRecord } from '../log/record.js';
import type { EventFilter, EventSlice } from '../protocol/messages.js';
import { sliceFilter, type SliceFilter } from './filter.js';
import type { ReadBudget } from './read-budget.js';
import { Reader, sliceOf, slicesOf } from './reader.js';

/** Where a subscription's events go: one client connection. */
export interface SubscriptionSink {
  /** False once the connection cannot take more without queueing past its high-water mark. */
  readonly writable: boolean;
  /**
   * Sends slices, with the LSN a filtered subscription passed to (its position moves on over
   * records that did not match); returns false if the connection is gone.
   */
  send(slices: EventSlice[], passedTo?: number): boolean;
  /** Resolves when the connection drains; rejects if it closes. */
  whenWritable(): Promise<void>;
  /** Ends the subscription with an error. */
  fail(error: unknown): void;
}

/** One subscription's state. */
export interface Subscription {
  /** The stream, or null for the whole log. */
  readonly stream: string | null;
  /** The next version (stream) or LSN (whole log) to deliver. */
  next: number;
  readonly sink: SubscriptionSink;
  live: boolean;
  closed: boolean;
  /** Set on a filtered subscription to the whole log: the filter as sent, and ready for matching. */
  readonly filter?: EventFilter;
  readonly matcher?: SliceFilter;
}

export class SubscriptionHub {
  private readonly live = new Set<Subscription>();
  private count = 0;

  constructor(
    private readonly reader: Reader,
    private readonly limits: LogLimits,
    private readonly commitIndex: () => number,
    private readonly budget: ReadBudget,
  ) {}

  /** The commit index now: what subscriptions deliver up to. */
  get committedLsn(): number {
    return this.commitIndex();
  }

  /** Subscriptions open now. */
  get size(): number {
    return this.count;
  }

  /** Subscriptions still reading from the store, not yet live. */
  get catchingUp(): number {
    return this.count - this.live.size;
  }

  /** Starts a subscription: it catches up from `next`, then goes live. */
  open(stream: string | null, next: number, sink: SubscriptionSink, filter?: EventFilter): Subscription {
    const subscription: Subscription = { stream, next, sink, live: false, closed: false, ...(filter ? { filter, matcher: sliceFilter(filter) } : {}) };
    this.count++;
    void this.catchUp(subscription);
    return subscription;
  }

  close(subscription: Subscription): void {
    if (subscription.closed) return;
    subscription.closed = true;
    this.live.delete(subscription);
    this.count--;
  }

  /** Delivers a group commit's records to every live subscription. */
  dispatch(records: readonly LogRecord[]): void {
    for (const subscription of this.live) {
      if (!subscription.sink.writable) {
        // Stop pushing; read the rest from the store once the connection drains.
        this.live.delete(subscription);
        subscription.live = false;
        void this.catchUp(subscription);
        continue;
      }
      const passedFrom = subscription.next;
      const slices = this.matching(subscription, records);
      if (slices === undefined) {
        // The records skip past what this subscription has seen (the commit index jumped over
        // records it never got pushed): read the gap from the store.
        this.live.delete(subscription);
        subscription.live = false;
        void this.catchUp(subscription);
        continue;
      }
      if (subscription.filter) {
        if (subscription.next > passedFrom && !subscription.sink.send(slices, subscription.next)) this.close(subscription);
      } else if (slices.length > 0 && !subscription.sink.send(slices)) this.close(subscription);
    }
  }

  /** The slices of `records` this subscription has not seen, or undefined when they leave a gap. */
  private matching(subscription: Subscription, records: readonly LogRecord[]): EventSlice[] | undefined {
    const slices: EventSlice[] = [];
    for (const record of records) {
      if (subscription.stream === null) {
        if (record.lsn < subscription.next) continue;
        if (record.lsn > subscription.next) return undefined;
        const { matcher } = subscription;
        slices.push(...(matcher ? matcher.record(slicesOf(record)) : slicesOf(record)));
        subscription.next = record.lsn + 1;
      } else {
        const slice = sliceOf(record, subscription.stream);
        if (!slice || slice.firstVersion + slice.eventCount <= subscription.next) continue;
        if (slice.firstVersion > subscription.next) return undefined;
        slices.push(slice);
        subscription.next = slice.firstVersion + slice.eventCount;
      }
    }
    return slices;
  }

  private async catchUp(subscription: Subscription): Promise<void> {
    try {
      while (!subscription.closed) {
        if (!subscription.sink.writable) await subscription.sink.whenWritable();
        const chargeBytes = this.limits.readBytesMax;
        await this.budget.charge(chargeBytes);
        try {
          if (subscription.closed) return;
          const commitIndex = this.commitIndex();
          const { slices, next } = await this.readFrom(subscription, commitIndex);
          if (subscription.closed) return;
          if (next === subscription.next && this.commitIndex() === commitIndex) {
            subscription.live = true;
            this.live.add(subscription);
            return;
          }
          if (next !== subscription.next) {
            subscription.next = next;
            if (!subscription.sink.send(slices, subscription.filter ? next : undefined)) this.close(subscription);
          }
        } finally {
          // Once its answer is handed to the connection, a read holds no memory of its own.
          this.budget.refund(chargeBytes);
        }
      }
    } catch (error) {
      if (subscription.closed) return;
      this.close(subscription);
      subscription.sink.fail(error);
    }
  }

  /** The next slices from the store, and where the subscription stands after them. */
  private async readFrom(subscription: Subscription, commitIndex: number): Promise<{ slices: EventSlice[]; next: number }> {
    const maxCount = this.limits.readCountMax;
    if (subscription.stream === null) {
      const { filter } = subscription;
      const chunk = await this.reader.readAll({ fromLsn: subscription.next, direction: 'forward', maxCount, ...(filter ? { filter } : {}) }, commitIndex);
      if (filter) return chunk;
      const last = chunk.slices[chunk.slices.length - 1];
      return { slices: chunk.slices, next: last ? last.lsn + 1 : subscription.next };
    }
    const page = await this.reader.readStream({ stream: subscription.stream, fromVersion: subscription.next, direction: 'forward', maxCount }, commitIndex);
    const last = page.slices[page.slices.length - 1];
    return { slices: page.slices, next: last ? last.firstVersion + last.eventCount : subscription.next };
  }
}
