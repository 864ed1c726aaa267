/**
 * `$all` over a cluster: the stripes' logs merged into one, each stripe's order kept, every event
 * carrying the position after it (see `position.ts`).
 *
 * Merge order. A read takes, record by record, the earliest head of the stripes' logs by commit
 * timestamp, ties going to the lower stripe index: it waits for every stripe's next record before
 * choosing, so the order depends only on the logs, never on page sizes, and a read resumed from any
 * position returns exactly the rest of it. A subscription delivers each stripe's records as they
 * arrive: stripes interleave by arrival, each stripe in its own order.
 */
import { Observable, type Subscriber } from 'rxjs';
import { InvalidArgumentError } from '../errors.js';
import { DEFAULT_READ_COUNT } from '../limits.js';
import type { EventSlice } from '../protocol/messages.js';
import type { ReadAllOptions, SubscribeAllOptions } from './options.js';
import { decodePosition, freshCursors, PositionTracker, recordsOf, resumeCursors, type PositionedEvent, type RecordEvents } from './position.js';
import type { TopologyRouter } from './topology-router.js';

const END = Number.MAX_SAFE_INTEGER;

/** Reads `$all`: see {@link ReadAllOptions}. */
export async function readAllLog(router: TopologyRouter, options: ReadAllOptions): Promise<PositionedEvent[]> {
  const direction = options.direction ?? 'forward';
  const maxCount = options.maxCount ?? DEFAULT_READ_COUNT;
  const stripes = scopeOf(router, options);
  if (options.from === undefined && stripes.length === 1) {
    // One stripe's log by LSN: the one request a client of a single server always sent.
    const [stripe] = stripes as [number];
    const fromLsn = options.fromLsn ?? (direction === 'forward' ? 1 : END);
    const [{ slices }, epoch] = await Promise.all([router.request(stripe, 'readAll', { fromLsn, direction, maxCount }), router.ownEpoch(stripe)]);
    const tracker = new PositionTracker(freshCursors(router)).settle(stripe, epoch);
    return recordsOf(slices).flatMap((record) => tracker.seek(stripe, record.lsn).consume(stripe, record));
  }
  if (direction !== 'forward') throw new InvalidArgumentError('direction', "a merged read or a read from a position goes forward; read one stripe's log backward with `stripe`");
  if (!Number.isSafeInteger(maxCount) || maxCount < 1) throw new InvalidArgumentError('maxCount', `must be a positive integer, got ${maxCount}`);
  const tracker = await trackerFrom(router, options.from);
  return readMerged(router, stripes, tracker, maxCount);
}

/** Subscribes to `$all`: see {@link SubscribeAllOptions}. */
export function subscribeAllLog(router: TopologyRouter, options: SubscribeAllOptions): Observable<PositionedEvent> {
  return new Observable<PositionedEvent>((subscriber) => {
    // Thrown here, an error reaches the subscriber as the observable's error.
    const stripes = scopeOf(router, options);
    const ends: Array<() => void> = [];
    let ended = false;
    const begin = (tracker: PositionTracker): void => {
      if (ended) return;
      for (const stripe of stripes) ends.push(router.subscribe(stripe, stripeFeed(stripe, tracker, subscriber)));
    };
    if (options.from === undefined) {
      const tracker = new PositionTracker(freshCursors(router));
      if (options.fromLsn === undefined) begin(tracker);
      else {
        const stripe = stripes[0]!;
        router.ownEpoch(stripe).then((epoch) => begin(tracker.settle(stripe, epoch).seek(stripe, options.fromLsn!)), (error: unknown) => subscriber.error(error));
      }
    } else {
      trackerFrom(router, options.from).then(begin, (error: unknown) => subscriber.error(error));
    }
    return () => {
      ended = true;
      for (const end of ends) end();
    };
  });
}

/** A stripe's part of a subscription: it resumes after a reconnect from where the tracker stands in that stripe. */
function stripeFeed(stripe: number, tracker: PositionTracker, subscriber: Subscriber<PositionedEvent>) {
  return {
    resumeArgs: (subscriptionId: number) => ({ subscriptionId, stream: null, from: tracker.cursor(stripe).nextLsn }),
    deliver: (slices: EventSlice[]) => {
      for (const record of recordsOf(slices)) for (const event of tracker.consume(stripe, record)) subscriber.next(event);
    },
    fail: (error: unknown) => subscriber.error(error),
  };
}

/**
 * The stripes a read or subscription covers, after checking its options.
 * @throws InvalidArgumentError for an unknown stripe, `from` with `fromLsn`, or an LSN (or a
 * backward read) over several stripes
 */
function scopeOf(router: TopologyRouter, options: ReadAllOptions | SubscribeAllOptions): number[] {
  if (options.from !== undefined && options.fromLsn !== undefined) throw new InvalidArgumentError('from', 'give `from` or `fromLsn`, not both');
  if (options.stripe !== undefined) {
    const stripe = typeof options.stripe === 'string' ? router.stripeNamed(options.stripe) : undefined;
    if (stripe === undefined) throw new InvalidArgumentError('stripe', `must name a stripe of the cluster (${Array.from({ length: router.stripeCount }, (_, i) => router.stripeName(i)).join(', ')})`);
    return [stripe];
  }
  if (router.stripeCount === 1) return [0];
  const direction = 'direction' in options ? options.direction : undefined;
  if (options.fromLsn !== undefined || direction === 'backward') {
    throw new InvalidArgumentError(options.fromLsn !== undefined ? 'fromLsn' : 'direction', "an LSN or a backward read is one stripe's: name it with `stripe`, or read the merged log with `from`");
  }
  return Array.from({ length: router.stripeCount }, (_, i) => i);
}

/**
 * The tracker of a read from `from`, each stripe it consumed from checked against that stripe's
 * epoch now, as its own server gives it.
 * @throws StripeEpochChangedError when a stripe restarted empty after the position was taken
 */
async function trackerFrom(router: TopologyRouter, from: string | undefined): Promise<PositionTracker> {
  if (from === undefined) return new PositionTracker(freshCursors(router));
  return new PositionTracker(await resumeCursors(decodePosition(from), router, (stripe) => router.ownEpoch(stripe)));
}

/** One stripe's log as a merged read walks it: a page of records, and where the next page starts. */
interface Source {
  stripe: number;
  records: RecordEvents[];
  head: number;
  fromLsn: number;
  ended: boolean;
}

async function readMerged(router: TopologyRouter, stripes: readonly number[], tracker: PositionTracker, maxCount: number): Promise<PositionedEvent[]> {
  const sources: Source[] = stripes.map((stripe) => ({ stripe, records: [], head: 0, fromLsn: tracker.cursor(stripe).nextLsn, ended: false }));
  const events: PositionedEvent[] = [];
  for (let taken = 0; taken < maxCount; taken++) {
    // Every stripe's next record must be known before the earliest is chosen.
    for (let hungry = sources.filter(isHungry); hungry.length > 0; hungry = sources.filter(isHungry)) {
      await Promise.all(hungry.map((source) => fill(router, source, maxCount - taken)));
    }
    const source = earliest(sources);
    if (!source) break;
    events.push(...tracker.consume(source.stripe, source.records[source.head++]!));
  }
  return events;
}

const isHungry = (source: Source): boolean => !source.ended && source.head === source.records.length;

async function fill(router: TopologyRouter, source: Source, maxCount: number): Promise<void> {
  const { slices, next } = await router.request(source.stripe, 'readAll', { fromLsn: source.fromLsn, direction: 'forward', maxCount });
  source.records = recordsOf(slices);
  source.head = 0;
  source.ended = next <= source.fromLsn;
  source.fromLsn = next;
}

/** The source whose next record was committed first (by timestamp, then stripe index), or undefined when all are done. */
function earliest(sources: readonly Source[]): Source | undefined {
  let best: Source | undefined;
  for (const source of sources) {
    const record = source.records[source.head];
    if (!record) continue;
    const bestRecord = best?.records[best.head];
    if (!bestRecord || record.timestampMs < bestRecord.timestampMs) best = source;
  }
  return best;
}
