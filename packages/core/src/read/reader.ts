/**
 * Reads for clients: one stream by version range, and the whole log by LSN. Only records at or
 * below the commit index are ever returned, so nothing uncommitted is read. Each answer is bounded
 * by a count and by `readBytesMax`.
 */
import { PositionAheadError } from '../errors.js';
import type { LogLimits } from '../limits.js';
import { visibleAppends, type LogRecord, type RecordAppend } from '../log/record.js';
import { checkStreamName } from '../log/stream-name.js';
import type { EventSlice, ReadAllRequest, ReadRequest } from '../protocol/messages.js';
import type { ReadAllChunk, ReadPage } from '../protocol/replies.js';
import type { CheckedStore } from '../store/checked-store.js';
import type { StreamIndexEntry } from '../store/store.js';
import { sliceFilter } from './filter.js';

export class Reader {
  constructor(
    private readonly store: CheckedStore,
    private readonly limits: LogLimits,
  ) {}

  /**
   * Reads a stream's committed events from `fromVersion`, in whole slices holding `maxCount` events
   * of the requested range (a slice may also carry events outside it, which the client drops), or
   * fewer when the stream ends first or the page reaches `bytesMax` (`readBytesMax`, or less for a
   * client that reads smaller frames), which `truncated` tells.
   */
  async readStream(request: ReadRequest, commitIndex: number, bytesMax = this.limits.readBytesMax): Promise<ReadPage> {
    checkStreamName(request.stream, this.limits.streamNameBytesMax);
    const forward = request.direction === 'forward';
    const slices: EventSlice[] = [];
    let events = 0;
    let bytes = 0;
    let from = request.fromVersion;
    // Each entry holds at least one event of the range, so `maxCount` entries are enough, unless a
    // backward read skips entries above the commit index: then the index is read again past them.
    for (;;) {
      const wanted = request.maxCount - events;
      const entries = await this.store.readStreamIndex(request.stream, from, { direction: request.direction, maxCount: wanted });
      for (const entry of entries) {
        if (entry.lsn > commitIndex) {
          if (forward) return { slices, truncated: false };
          continue;
        }
        const [record] = await this.store.readRecords(entry.lsn, { direction: 'forward', maxCount: 1, maxBytes: 1 });
        const slice = record && sliceOf(record, request.stream);
        if (!slice) continue;
        slices.push(slice);
        events += eventsInRange(entry, request);
        bytes += slice.events.length;
        if (events >= request.maxCount) return { slices, truncated: false };
        if (bytes >= bytesMax) return { slices, truncated: true };
      }
      const last = entries[entries.length - 1];
      if (!last || entries.length < wanted) return { slices, truncated: false };
      from = forward ? last.firstVersion + last.eventCount : last.firstVersion - 1;
      if (from < 0) return { slices, truncated: false };
    }
  }

  /** Reads the whole log from `fromLsn`, at most `maxCount` records and about `bytesMax` bytes of them. */
  async readAll(request: ReadAllRequest, commitIndex: number, bytesMax = this.limits.readBytesMax): Promise<ReadAllChunk> {
    const forward = request.direction === 'forward';
    const from = forward ? request.fromLsn : Math.min(request.fromLsn, commitIndex);
    if ((forward && from > commitIndex) || (!forward && from < 1)) return { slices: [], next: from };
    const maxCount = forward ? Math.min(request.maxCount, commitIndex - Math.max(from, 1) + 1) : request.maxCount;
    if (request.filter) return this.readAllFiltered(request, from, commitIndex, bytesMax);
    const records = await this.store.readRecords(from, { direction: request.direction, maxCount, maxBytes: bytesMax });
    const slices = records.flatMap(slicesOf);
    const last = records[records.length - 1];
    const next = last ? (forward ? last.lsn + 1 : last.lsn - 1) : from;
    return { slices, next };
  }

  /**
   * A filtered read: passes records until `maxCount` matching events (in whole records), the
   * commit index, or `bytesMax` of records passed, so a filter that matches little still
   * answers within one load; `next` is the LSN after the last record passed.
   */
  private async readAllFiltered(request: ReadAllRequest, from: number, commitIndex: number, bytesMax: number): Promise<ReadAllChunk> {
    const forward = request.direction === 'forward';
    const filter = sliceFilter(request.filter!);
    const maxCount = forward ? Math.min(this.limits.readCountMax, commitIndex - Math.max(from, 1) + 1) : this.limits.readCountMax;
    const records = await this.store.readRecords(from, { direction: request.direction, maxCount, maxBytes: bytesMax });
    const slices: EventSlice[] = [];
    let events = 0;
    let next = from;
    for (const record of records) {
      const matching = filter.record(slicesOf(record));
      const count = matching.reduce((sum, slice) => sum + slice.eventCount, 0);
      if (events > 0 && events + count > request.maxCount) break;
      slices.push(...matching);
      events += count;
      next = forward ? record.lsn + 1 : record.lsn - 1;
      if (events >= request.maxCount) break;
    }
    return { slices, next };
  }
}

/** A record's slices, one per stream it shows events of, in the record's order. */
export const slicesOf = (record: LogRecord): EventSlice[] => visibleAppends(record).map((append) => toSlice(record, append));

/** The slice of a record that belongs to one stream, if the record wrote to it. */
export function sliceOf(record: LogRecord, stream: string): EventSlice | undefined {
  const append = visibleAppends(record).find((a) => a.stream === stream);
  return append && toSlice(record, append);
}

/** How many of an index entry's events lie in the requested range. */
function eventsInRange(entry: StreamIndexEntry, request: ReadRequest): number {
  const last = entry.firstVersion + entry.eventCount - 1;
  if (request.direction === 'forward') return last - Math.max(entry.firstVersion, request.fromVersion) + 1;
  return Math.min(last, request.fromVersion) - entry.firstVersion + 1;
}

function toSlice(record: LogRecord, append: RecordAppend): EventSlice {
  const slice: EventSlice = { lsn: record.lsn, stream: append.stream, firstVersion: append.firstVersion, eventCount: append.eventCount, timestampMs: record.timestampMs, events: append.events };
  if (record.txn !== undefined) slice.transaction = { id: record.txn.id, stripes: record.txn.participants.length };
  return slice;
}

/**
 * The commit index a forward read of the log from `fromLsn` reads under, once it starts at most
 * one past it. Under one epoch the active's read barrier covers every record any server
 * acknowledged (a new active commits its inherited log first), so a start beyond was never
 * reached; waiting for it would hand over other events than the reader meant.
 * @throws PositionAheadError naming the stripe, `fromLsn` and the committed end
 */
export function checkReached(stripe: string, fromLsn: number, commitIndex: number): number {
  if (fromLsn > commitIndex + 1) throw new PositionAheadError(stripe, fromLsn, commitIndex);
  return commitIndex;
}
