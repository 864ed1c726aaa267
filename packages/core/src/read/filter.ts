/**
 * Server-side filters on the whole log: the parts of each record a filtered read or subscription
 * sends. A stream prefix is matched on the slice; an event type on each event's type string,
 * compared as UTF-8 bytes inside the events blob, so application data is never decoded. Matching
 * events of one slice go out as slices of consecutive versions, their rows copied as they are. A
 * slice that does not start where the record's matching events before it ended says where it
 * starts in the record (`recordOffset`): a position then counts a record's events alike with any
 * filter or none, and resuming with another filter neither skips nor repeats one.
 */
import { header, skipValue } from '../log/msgpack-shape.js';
import type { EventFilter, EventSlice } from '../protocol/messages.js';

/** A filter made ready for matching many records. */
export interface SliceFilter {
  /** The matching parts of a record's slices, in order, where events before them were left out with their `recordOffset`. */
  record(slices: readonly EventSlice[]): EventSlice[];
}

const utf8 = new TextEncoder();

export function sliceFilter(filter: EventFilter): SliceFilter {
  const prefixes = filter.streamPrefixes;
  const types = filter.eventTypes?.map((type) => utf8.encode(type));
  const apply = (slice: EventSlice): EventSlice[] => {
    if (prefixes && !prefixes.some((prefix) => slice.stream.startsWith(prefix))) return [];
    return types ? byType(slice, types) : [slice];
  };
  return {
    record(slices) {
      const out: EventSlice[] = [];
      // Where the slice stands in the record, and where a reader that counts only what it got would put the next one.
      let sliceOffset = 0;
      let counted = 0;
      for (const slice of slices) {
        for (const part of apply(slice)) {
          const offset = sliceOffset + part.firstVersion - slice.firstVersion;
          out.push(offset === counted ? part : { ...part, recordOffset: offset });
          counted = offset + part.eventCount;
        }
        sliceOffset += slice.eventCount;
      }
      return out;
    },
  };
}

/** Splits a slice into the runs of its events whose type is one of `types`. */
function byType(slice: EventSlice, types: readonly Uint8Array[]): EventSlice[] {
  const blob = slice.events;
  const rows = header(blob, 0);
  const runs: EventSlice[] = [];
  let runStart = -1;
  let runFrom = 0;
  let pos = rows.body;
  const endRun = (index: number, end: number): void => {
    if (runStart < 0) return;
    runs.push({ ...slice, firstVersion: slice.firstVersion + runStart, eventCount: index - runStart, events: rowsBlob(index - runStart, blob.subarray(runFrom, end)) });
    runStart = -1;
  };
  for (let i = 0; i < rows.length; i++) {
    const rowStart = pos;
    // The server validated the blob when it was appended: [id, type, data, metadata?].
    const row = header(blob, pos);
    const id = header(blob, row.body);
    const type = header(blob, id.body + id.length);
    const matches = types.some((t) => sameBytes(t, blob, type.body, type.length));
    const next = skipValue(blob, rowStart);
    pos = typeof next === 'number' ? next : blob.length;
    if (matches && runStart < 0) {
      runStart = i;
      runFrom = rowStart;
    } else if (!matches) endRun(i, rowStart);
  }
  if (runStart === 0) return [slice];
  endRun(rows.length, pos);
  return runs;
}

function sameBytes(expected: Uint8Array, bytes: Uint8Array, at: number, length: number): boolean {
  if (expected.length !== length) return false;
  for (let i = 0; i < length; i++) if (expected[i] !== bytes[at + i]) return false;
  return true;
}

/** A MessagePack array of `count` rows, given their encoded bytes. */
function rowsBlob(count: number, rows: Uint8Array): Uint8Array {
  const head = count < 16 ? [0x90 | count] : count < 0x10000 ? [0xdc, count >> 8, count & 0xff] : [0xdd, count >>> 24, (count >> 16) & 0xff, (count >> 8) & 0xff, count & 0xff];
  const blob = new Uint8Array(head.length + rows.length);
  blob.set(head, 0);
  blob.set(rows, head.length);
  return blob;
}
