/**
 * Reads of one stream: a page as `read` returns it, a page that says whether it reached the
 * stream's end, and the whole stream page by page.
 */
import { DEFAULT_READ_COUNT } from '../limits.js';
import type { RecordedEvent } from '../log/events.js';
import { checkStreamNameText } from '../log/stream-name.js';
import type { EventSlice } from '../protocol/messages.js';
import type { Direction } from '../store/store.js';
import { eventsOf } from './events.js';
import type { ReadOptions, ReadStreamOptions, StreamPage } from './options.js';
import type { TopologyRouter } from './topology-router.js';

const END = Number.MAX_SAFE_INTEGER;

/** The events of a page's slices that lie in the range read, in read order. */
function inRange(slices: readonly EventSlice[], direction: Direction, fromVersion: number): RecordedEvent[] {
  // Slices come in read order; a backward read also reverses the events inside each slice.
  return direction === 'forward'
    ? slices.flatMap((s) => eventsOf(s)).filter((e) => e.version >= fromVersion)
    : slices.flatMap((s) => eventsOf(s).reverse()).filter((e) => e.version <= fromVersion);
}

/** A page of a stream that says whether it reached the end: see {@link StreamPage}. */
export async function readStreamPage(router: TopologyRouter, stream: string, options: ReadOptions): Promise<StreamPage> {
  const direction = options.direction ?? 'forward';
  const { events, nextVersion, more } = await readEvents(router, stream, options);
  let endOfStream = !more;
  // A page that came out exactly full cannot tell: ask for one event past it.
  if (more === undefined) endOfStream = nextVersion < 0 || (await readEvents(router, stream, { direction, fromVersion: nextVersion, maxCount: 1 })).events.length === 0;
  return { events, endOfStream, nextVersion };
}

/** The whole stream, a page of `pageSize` events per request, to its end as the last page found it. */
export async function* readStreamPages(router: TopologyRouter, stream: string, options: ReadStreamOptions): AsyncGenerator<RecordedEvent> {
  const { pageSize, ...read } = options;
  let fromVersion = read.fromVersion;
  for (;;) {
    const { events, nextVersion, more } = await readEvents(router, stream, { ...read, ...(fromVersion === undefined ? {} : { fromVersion }), maxCount: pageSize ?? DEFAULT_READ_COUNT });
    yield* events;
    if (more === false || events.length === 0 || nextVersion < 0) return;
    fromVersion = nextVersion;
  }
}

  /**
   * A page of a stream: `more` is false when the stream ended before `maxCount` events, true when
   * an event past the page is known, undefined when the page came out exactly full.
   */
export async function readEvents(router: TopologyRouter, stream: string, options: ReadOptions): Promise<{ events: RecordedEvent[]; nextVersion: number; more: boolean | undefined }> {
    checkStreamNameText(stream);
    const direction = options.direction ?? 'forward';
    let fromVersion = options.fromVersion ?? (direction === 'forward' ? 0 : END);
    const maxCount = options.maxCount ?? DEFAULT_READ_COUNT;
    const events: RecordedEvent[] = [];
    // The server ends a page early only at its byte cap, and says so: read on from there.
    for (;;) {
      const args = { stream, fromVersion, direction, maxCount: maxCount - events.length };
      const { slices, truncated } = await router.routed([stream], (stripe) => router.request(stripe, 'read', args));
      const page = inRange(slices, direction, fromVersion);
      const room = maxCount - events.length;
      events.push(...page.slice(0, room));
      const last = events[events.length - 1];
      const next = last ? (direction === 'forward' ? last.version + 1 : last.version - 1) : fromVersion;
      if (page.length > room) return { events, nextVersion: next, more: true };
      if (events.length >= maxCount) return { events, nextVersion: next, more: undefined };
      if (!truncated || page.length === 0 || !last) return { events, nextVersion: next, more: false };
      fromVersion = next;
      if (fromVersion < 0) return { events, nextVersion: next, more: false };
    }
  }
