/** Turning the slices a server sends into the events an application reads. */
import { decodeEvents, type RecordedEvent } from '../log/events.js';
import type { EventSlice } from '../protocol/messages.js';

/** Expands a slice into its events, oldest first. */
export function eventsOf(slice: EventSlice): RecordedEvent[] {
  const { transaction } = slice;
  return decodeEvents(slice.events).map(([id, type, data, metadata], i) => {
    const event: RecordedEvent = { stream: slice.stream, version: slice.firstVersion + i, lsn: slice.lsn, id, type, data, metadata: metadata ?? null, timestampMs: slice.timestampMs };
    if (transaction !== undefined) event.transaction = { id: transaction.id, stripes: transaction.stripes };
    return event;
  });
}
