/**
 * One stripe's part of a subscription to `$all`: the stripe's deliveries turned into positioned
 * events, resumed after a reconnect from where the tracker stands in that stripe.
 *
 * Its deliveries pass an {@link EpochGate}: at the first after a reconnect, and before any that
 * would move the reader past the log's first record without reading it (see
 * {@link PositionTracker.canPassTo}), the stripe's epoch is asked of its server.
 */
import type { Subscriber } from 'rxjs';
import { StripeEpochChangedError } from '../errors.js';
import type { EventFilter, EventSlice } from '../protocol/messages.js';
import { EpochGate } from './epoch-gate.js';
import { explainFilterRefusal } from './filter.js';
import type { LinkSubscription } from './link-types.js';
import { hasConsumed, recordsOf, type PositionedEvent, type PositionTracker, type RecordEvents } from './position.js';
import type { TopologyRouter } from './topology-router.js';

interface Delivery {
  records: RecordEvents[];
  passedTo: number | undefined;
}

/** What a feed reads and where its events go. */
export interface FeedTarget {
  router: TopologyRouter;
  tracker: PositionTracker;
  subscriber: Subscriber<PositionedEvent>;
  filter: EventFilter | undefined;
  onCheckpoint: ((position: string) => void) | undefined;
}

export function stripeFeed(stripe: number, { router, tracker, subscriber, filter, onCheckpoint }: FeedTarget): LinkSubscription {
  const gate = new EpochGate<Delivery>(router, stripe, {
    take: ({ records, passedTo }) => {
      for (const record of records) for (const event of tracker.consume(stripe, record)) subscriber.next(event);
      if (passedTo !== undefined && tracker.advance(stripe, passedTo)) onCheckpoint?.(tracker.position());
    },
    // An epoch of 0 (an empty log) proves a new log only when the stripe refused the resume: one
    // that delivers has records, and the answer came from another server (a mirror restarted
    // empty, reached by yet another reconnect).
    judge: (epoch, refused) => {
      const cursor = tracker.cursor(stripe);
      if (hasConsumed(cursor) && epoch !== cursor.epoch && (epoch !== 0 || refused)) throw new StripeEpochChangedError(router.stripeName(stripe), cursor.epoch, epoch);
      if (epoch !== 0) tracker.settle(stripe, epoch);
    },
    fail: (error) => subscriber.error(explainFilterRefusal(error)),
  });
  return {
    resumeArgs: (subscriptionId) => {
      gate.started();
      return { subscriptionId, stream: null, from: tracker.cursor(stripe).nextLsn, ...(filter ? { filter } : {}) };
    },
    deliver: (slices: EventSlice[], passedTo?: number) => {
      const records = recordsOf(slices, filter !== undefined);
      gate.pass({ records, passedTo }, !tracker.canPassTo(stripe, records[0]?.lsn ?? passedTo ?? 0));
    },
    fail: (error) => gate.refuse(error),
  };
}
