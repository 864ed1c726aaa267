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
import { Observable } from 'rxjs';
import { InvalidArgumentError } from '../errors.js';
import { DEFAULT_READ_COUNT } from '../limits.js';
import type { EventFilter, ReadAllRequest } from '../protocol/messages.js';
import type { ReadAllChunk } from '../protocol/replies.js';
import { explainFilterRefusal, filterOf } from './filter.js';
import type { AllPage, ReadAllOptions, ReadAllStreamOptions, SubscribeAllOptions } from './options.js';
import { decodePosition, freshCursors, PositionTracker, recordsOf, resumeCursors, type PositionedEvent, type RecordEvents } from './position.js';
import { stripeFeed } from './stripe-feed.js';
import type { TopologyRouter } from './topology-router.js';

const END = Number.MAX_SAFE_INTEGER;

/** Reads `$all`: see {@link ReadAllOptions}. */
export async function readAllLog(router: TopologyRouter, options: ReadAllOptions): Promise<PositionedEvent[]> {
  return (await readAllPage(router, options)).page.events;
}

/** Reads a page of `$all` with the position to read on from: see {@link AllPage}. */
export async function readAllLogPage(router: TopologyRouter, options: ReadAllOptions): Promise<AllPage> {
  return (await readAllPage(router, options)).page;
}

/** Reads `$all` to its end, a page at a time: see {@link ReadAllStreamOptions}. */
export async function* readAllPages(router: TopologyRouter, options: ReadAllStreamOptions): AsyncGenerator<PositionedEvent> {
  const { pageSize, ...rest } = options;
  let read: ReadAllOptions = { ...rest, maxCount: pageSize ?? DEFAULT_READ_COUNT };
  for (;;) {
    const { page, nextLsn } = await readAllPage(router, read);
    yield* page.events;
    // A forward read goes on from its position; a backward one (one stripe's log) by LSN.
    if (read.direction === 'backward') {
      if (page.events.length === 0 || nextLsn < 1) return;
      read = { ...read, fromLsn: nextLsn };
    } else {
      if (page.events.length === 0 && page.position === read.from) return;
      const { fromLsn: _started, ...onward } = read;
      read = { ...onward, from: page.position };
    }
  }
}

/** One page of `$all`, and (for a read of one stripe's log by LSN) the LSN the next page starts at. */
async function readAllPage(router: TopologyRouter, options: ReadAllOptions): Promise<{ page: AllPage; nextLsn: number }> {
  const direction = options.direction ?? 'forward';
  const maxCount = options.maxCount ?? DEFAULT_READ_COUNT;
  const stripes = scopeOf(router, options);
  const filter = filterOf(options);
  if (options.from === undefined && stripes.length === 1) {
    // One stripe's log by LSN: the one request a client of a single server always sent.
    const [stripe] = stripes as [number];
    const fromLsn = options.fromLsn ?? (direction === 'forward' ? 1 : END);
    const request = { fromLsn, direction, maxCount, ...(filter ? { filter } : {}) };
    const [{ slices, next }, epoch] = await Promise.all([readShowingEvents(router, stripe, request), router.ownEpoch(stripe)]);
    const tracker = new PositionTracker(freshCursors(router)).settle(stripe, epoch);
    if (direction === 'forward') tracker.seek(stripe, fromLsn);
    const records = recordsOf(slices, filter !== undefined);
    // The epoch was asked beside the read: of a log empty then, whose first record came meanwhile.
    await learnEpochBefore(router, tracker, stripe, Math.max(records[0]?.lsn ?? 0, filter && direction === 'forward' ? next : 0));
    const taken = wholeRecords(records, maxCount);
    const events = taken.flatMap((record) => tracker.seek(stripe, record.lsn).consume(stripe, record));
    const last = taken[taken.length - 1];
    const nextLsn = taken.length < records.length && last ? (direction === 'forward' ? last.lsn + 1 : last.lsn - 1) : next;
    if (filter && direction === 'forward') tracker.advance(stripe, nextLsn);
    return { page: { events, position: tracker.position() }, nextLsn };
  }
  if (direction !== 'forward') throw new InvalidArgumentError('direction', "a merged read or a read from a position goes forward; read one stripe's log backward with `stripe`");
  if (!Number.isSafeInteger(maxCount) || maxCount < 1) throw new InvalidArgumentError('maxCount', `must be a positive integer, got ${maxCount}`);
  const tracker = await trackerFrom(router, options.from);
  return { page: await readMerged(router, stripes, tracker, maxCount, filter), nextLsn: 0 };
}

/**
 * Reads one stripe's log by LSN, passing records that show no event (a participant's prepare, an
 * aborted transaction) until some show events or the log ends, so that an empty page is the end, as
 * a reader's loop takes it. A filtered read answers within one load, empty or not (see
 * {@link ReadAllOptions.filter}).
 */
async function readShowingEvents(router: TopologyRouter, stripe: number, request: ReadAllRequest): Promise<ReadAllChunk> {
  for (;;) {
    const chunk = await router.request(stripe, 'readAll', request).catch(rethrowExplained);
    if (chunk.slices.length > 0 || chunk.next === request.fromLsn || request.filter) return chunk;
    request = { ...request, fromLsn: chunk.next };
  }
}

/** The first records of a page that hold `maxCount` events together, the first one whole in any case. */
function wholeRecords(records: RecordEvents[], maxCount: number): RecordEvents[] {
  let events = 0;
  for (let i = 0; i < records.length; i++) {
    events += records[i]!.events.length;
    if (events > maxCount) return records.slice(0, Math.max(i, 1));
  }
  return records;
}

const rethrowExplained = (error: unknown): never => {
  throw explainFilterRefusal(error);
};

/** Subscribes to `$all`: see {@link SubscribeAllOptions}. */
export function subscribeAllLog(router: TopologyRouter, options: SubscribeAllOptions): Observable<PositionedEvent> {
  return new Observable<PositionedEvent>((subscriber) => {
    // Thrown here, an error reaches the subscriber as the observable's error.
    const stripes = scopeOf(router, options);
    const filter = filterOf(options);
    const ends: Array<() => void> = [];
    let ended = false;
    const begin = (tracker: PositionTracker): void => {
      if (ended) return;
      const target = { router, tracker, subscriber, filter, onCheckpoint: options.onCheckpoint };
      for (const stripe of stripes) ends.push(router.subscribe(stripe, stripeFeed(stripe, target)));
    };
    const fail = (error: unknown): void => subscriber.error(error);
    if (options.from === undefined) {
      const tracker = new PositionTracker(freshCursors(router));
      if (options.fromLsn === undefined) {
        begin(tracker);
      } else {
        const stripe = stripes[0]!;
        router.ownEpoch(stripe).then((epoch) => begin(tracker.settle(stripe, epoch).seek(stripe, options.fromLsn!)), fail);
      }
    } else {
      trackerFrom(router, options.from).then(begin, fail);
    }
    return () => {
      ended = true;
      for (const end of ends) end();
    };
  });
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
  return new PositionTracker(from === undefined ? freshCursors(router) : await resumeCursors(decodePosition(from), router, (stripe) => router.ownEpoch(stripe)));
}

/** Asks a stripe's server for its epoch before the reader moves to `lsn` in its log, unless it may already (see {@link PositionTracker.canPassTo}). */
async function learnEpochBefore(router: TopologyRouter, tracker: PositionTracker, stripe: number, lsn: number): Promise<void> {
  if (!tracker.canPassTo(stripe, lsn)) tracker.settle(stripe, await router.ownEpoch(stripe));
}

/** One stripe's log as a merged read walks it: a page of records, and where the next page starts. */
interface Source {
  stripe: number;
  records: RecordEvents[];
  head: number;
  fromLsn: number;
  ended: boolean;
}

async function readMerged(router: TopologyRouter, stripes: readonly number[], tracker: PositionTracker, maxCount: number, filter: EventFilter | undefined): Promise<AllPage> {
  const sources: Source[] = stripes.map((stripe) => ({ stripe, records: [], head: 0, fromLsn: tracker.cursor(stripe).nextLsn, ended: false }));
  const events: PositionedEvent[] = [];
  while (events.length < maxCount) {
    // Every stripe's next record must be known before the earliest is chosen.
    for (let hungry = sources.filter(isHungry); hungry.length > 0; hungry = sources.filter(isHungry)) {
      await Promise.all(hungry.map((source) => fill(router, source, tracker, maxCount - events.length, filter)));
    }
    const source = earliest(sources);
    if (!source) break;
    // A page never splits a transaction; its first comes whole.
    const record = source.records[source.head]!;
    if (events.length > 0 && events.length + record.events.length > maxCount) break;
    source.head++;
    events.push(...tracker.consume(source.stripe, record));
  }
  // Past records a filter left out: a stripe whose page is all consumed stands where its page ended.
  if (filter) for (const source of sources) if (source.head === source.records.length) tracker.advance(source.stripe, source.fromLsn);
  return { events, position: tracker.position() };
}

const isHungry = (source: Source): boolean => !source.ended && source.head === source.records.length;

async function fill(router: TopologyRouter, source: Source, tracker: PositionTracker, maxCount: number, filter: EventFilter | undefined): Promise<void> {
  const request = { fromLsn: source.fromLsn, direction: 'forward' as const, maxCount, ...(filter ? { filter } : {}) };
  const { slices, next } = await router.request(source.stripe, 'readAll', request).catch(rethrowExplained);
  const records = recordsOf(slices, filter !== undefined);
  // The reader moves to the first record, or with a filter past every record read.
  await learnEpochBefore(router, tracker, source.stripe, records[0]?.lsn ?? (filter ? next : 0));
  source.records = records;
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
