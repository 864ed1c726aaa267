/**
 * One stripe's part of a subscription to `$all`: the stripe's deliveries turned into positioned
 * events, resumed after a reconnect from where the tracker stands in that stripe.
 *
 * Deliveries wait, in order, while the stripe's epoch is asked of its server, in two cases. One:
 * they would move the reader past the log's first record without reading it (see
 * {@link PositionTracker.canPassTo}). Two: they are the first since a reconnect, which may have
 * reached a log that started over (a memory-mode stripe that lost every server and came back
 * within the client's `reconnectWindowMs`). Resumed by LSN, such a subscription went on in the new
 * log at the old LSN, skipping the new log's first records, or failed with `PositionAheadError`;
 * it fails with `StripeEpochChangedError` instead, as a resume from a position does.
 */
import type { Subscriber } from 'rxjs';
import { PositionAheadError, StripeEpochChangedError, type KilnError } from '../errors.js';
import type { EventFilter, EventSlice } from '../protocol/messages.js';
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
  let waiting: Delivery[] | undefined;
  /** Subscribe requests sent: the first starts the subscription, each later one resumes it after a reconnect. */
  let starts = 0;
  /** The start whose connection the epoch was last checked on. */
  let checkedStart = 1;

  const take = ({ records, passedTo }: Delivery): void => {
    for (const record of records) for (const event of tracker.consume(stripe, record)) subscriber.next(event);
    if (passedTo !== undefined && tracker.advance(stripe, passedTo)) onCheckpoint?.(tracker.position());
  };

  /** The stripe's epoch as its server gives it, asked again when the subscription resumed meanwhile, and the start it holds for. */
  const askEpoch = async (): Promise<{ epoch: number; start: number }> => {
    for (;;) {
      const start = starts;
      const epoch = await router.ownEpoch(stripe);
      if (start === starts) return { epoch, start };
    }
  };

  /**
   * Takes the stripe's epoch from its server. An answer of 0 (an empty log) proves a new log only
   * when the stripe refused the resume: one that delivers has records, and the answer came from
   * another server (a mirror restarted empty, reached by yet another reconnect).
   * @throws StripeEpochChangedError when the log started over since the reader consumed from it
   */
  const learnEpoch = async (refused: boolean): Promise<void> => {
    const { epoch, start } = await askEpoch();
    const cursor = tracker.cursor(stripe);
    if (hasConsumed(cursor) && epoch !== cursor.epoch && (epoch !== 0 || refused)) throw new StripeEpochChangedError(router.stripeName(stripe), cursor.epoch, epoch);
    if (epoch !== 0) tracker.settle(stripe, epoch);
    checkedStart = start;
  };

  return {
    resumeArgs: (subscriptionId) => {
      starts++;
      return { subscriptionId, stream: null, from: tracker.cursor(stripe).nextLsn, ...(filter ? { filter } : {}) };
    },
    deliver: (slices: EventSlice[], passedTo?: number) => {
      const delivery = { records: recordsOf(slices), passedTo };
      if (waiting) return void waiting.push(delivery);
      if (checkedStart === starts && tracker.canPassTo(stripe, delivery.records[0]?.lsn ?? passedTo ?? 0)) return take(delivery);
      waiting = [delivery];
      learnEpoch(false).then(
        () => {
          const held = waiting!;
          waiting = undefined;
          held.forEach(take);
        },
        (error: unknown) => subscriber.error(error),
      );
    },
    fail: (error: KilnError) => {
      // A resume past the end of a log that started over: say that it started over.
      if (!(error instanceof PositionAheadError) || checkedStart === starts) return subscriber.error(explainFilterRefusal(error));
      learnEpoch(true).then(
        () => subscriber.error(error),
        (changed: unknown) => subscriber.error(changed),
      );
    },
  };
}
