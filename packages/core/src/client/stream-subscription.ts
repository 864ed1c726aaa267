/**
 * A subscription to one stream: every event from a version on, first those already written, then
 * live, with no gap and no duplicate, across reconnects too. It asks the stripe's epoch at its
 * first delivery and again at the first after each reconnect (see {@link EpochGate}): a stream of
 * a memory-mode stripe that came back empty is another stream, and the subscription fails with
 * `StripeEpochChangedError` rather than go on in it at the version it stood at.
 */
import { Observable, type Subscriber } from 'rxjs';
import { StripeEpochChangedError } from '../errors.js';
import type { RecordedEvent } from '../log/events.js';
import { checkStreamNameText } from '../log/stream-name.js';
import type { EventSlice } from '../protocol/messages.js';
import { EpochGate } from './epoch-gate.js';
import { eventsOf } from './events.js';
import type { TopologyRouter } from './topology-router.js';

export function subscribeStream(router: TopologyRouter, stream: string, from: number): Observable<RecordedEvent> {
  return new Observable<RecordedEvent>((subscriber: Subscriber<RecordedEvent>) => {
    // Thrown here, the error reaches the subscriber as the observable's error.
    checkStreamNameText(stream);
    const stripe = router.stripeOfStreams([stream]);
    let next = from;
    /** The epoch of the log delivered from; 0 before the first delivery. */
    let epoch = 0;
    const gate = new EpochGate<EventSlice[]>(router, stripe, {
      take: (slices) => {
        for (const slice of slices) {
          for (const event of eventsOf(slice)) {
            if (event.version < next) continue;
            next = event.version + 1;
            subscriber.next(event);
          }
        }
      },
      // A stripe that delivers has records: an epoch of 0 came from another server, and proves nothing.
      judge: (now) => {
        if (epoch !== 0 && now !== 0 && now !== epoch) throw new StripeEpochChangedError(router.stripeName(stripe), epoch, now);
        if (now !== 0) epoch = now;
      },
      fail: (error) => subscriber.error(error),
    });
    return router.subscribe(stripe, {
      resumeArgs: (subscriptionId) => {
        gate.started();
        return { subscriptionId, stream, from: next };
      },
      deliver: (slices) => gate.pass(slices, epoch === 0),
      fail: (error) => gate.refuse(error),
    });
  });
}
