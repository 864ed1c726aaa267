/**
 * Reads for clients: one stream by version range, and the whole log by LSN. Only records at or
 * below the commit index are ever returned, so nothing uncommitted is read. Each answer is bounded
 * by a count and by `readBytesMax`.
 */
import type { LogLimits } from '../limits.js';
import type { LogRecord, RecordAppend } from '../log/record.js';
import type { EventSlice, ReadAllRequest, ReadRequest } from '../protocol/messages.js';
import type { CheckedStore } from '../store/checked-store.js';
import { checkStreamName } from '../store/checked-store.js';

/** One chunk of the whole log: slices, and where the next chunk starts. */
export interface LogChunk {
  slices: EventSlice[];
  /** The LSN after the last record read (forward) or before it (backward). */
  next: number;
}

export class Reader {
  constructor(
    private readonly store: CheckedStore,
    private readonly limits: LogLimits,
  ) {}

  /** Reads a stream's events from `fromVersion`, whole slices, at most about `maxCount` events. */
  async readStream(request: ReadRequest, commitIndex: number): Promise<EventSlice[]> {
    checkStreamName(request.stream, this.limits.streamNameBytesMax);
    const entries = await this.store.readStreamIndex(request.stream, request.fromVersion, {
      direction: request.direction,
      maxCount: request.maxCount,
    });
    const slices: EventSlice[] = [];
    let events = 0;
    let bytes = 0;
    for (const entry of entries) {
      if (entry.lsn > commitIndex) {
        if (request.direction === 'forward') break;
        continue;
      }
      const [record] = await this.store.readRecords(entry.lsn, { direction: 'forward', maxCount: 1, maxBytes: 1 });
      const slice = record && sliceOf(record, request.stream);
      if (!slice) continue;
      slices.push(slice);
      events += entry.eventCount;
      bytes += slice.events.length;
      if (events >= request.maxCount || bytes >= this.limits.readBytesMax) break;
    }
    return slices;
  }

  /** Reads the whole log from `fromLsn`, at most `maxCount` records. */
  async readAll(request: ReadAllRequest, commitIndex: number): Promise<LogChunk> {
    const forward = request.direction === 'forward';
    const from = forward ? request.fromLsn : Math.min(request.fromLsn, commitIndex);
    if ((forward && from > commitIndex) || (!forward && from < 1)) return { slices: [], next: from };
    const maxCount = forward ? Math.min(request.maxCount, commitIndex - Math.max(from, 1) + 1) : request.maxCount;
    const records = await this.store.readRecords(from, { direction: request.direction, maxCount, maxBytes: this.limits.readBytesMax });
    const slices = records.flatMap((record) => record.appends.map((append) => toSlice(record, append)));
    const last = records[records.length - 1];
    const next = last ? (forward ? last.lsn + 1 : last.lsn - 1) : from;
    return { slices, next };
  }
}

/** The slice of a record that belongs to one stream, if the record wrote to it. */
export function sliceOf(record: LogRecord, stream: string): EventSlice | undefined {
  const append = record.appends.find((a) => a.stream === stream);
  return append && toSlice(record, append);
}

function toSlice(record: LogRecord, append: RecordAppend): EventSlice {
  return { lsn: record.lsn, stream: append.stream, firstVersion: append.firstVersion, eventCount: append.eventCount, timestampMs: record.timestampMs, events: append.events };
}
