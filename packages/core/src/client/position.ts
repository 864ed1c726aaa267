/**
 * Positions in a cluster's `$all`: where a consumer stands in each stripe's log, as one opaque
 * string that every event of `readAll` and `subscribeAll` carries. Per stripe it holds the
 * stripe's epoch, the first LSN not wholly consumed, and how many events of that record were; a
 * stripe the position does not name is read from its start. Resuming from an event's position
 * therefore continues strictly after that event, even in the middle of a transaction.
 *
 * Form: `1:` then, per stripe in index order, `index.epoch.nextLsn.skip`, comma-separated.
 */
import { InvalidArgumentError, StripeEpochChangedError } from '../errors.js';
import type { RecordedEvent } from '../log/events.js';
import type { EventSlice } from '../protocol/messages.js';
import { eventsOf } from './events.js';

/** An event of the whole log, with the position to resume strictly after it. */
export interface PositionedEvent extends RecordedEvent {
  /** Pass it back as `readAll({ from })` or `subscribeAll({ from })` to go on after this event. */
  position: string;
}

/** Where a reader stands in one stripe's log. */
export interface StripeCursor {
  /** The stripe's epoch when the position was taken. */
  epoch: number;
  /** Every record before this LSN is consumed. */
  nextLsn: number;
  /** Events of record `nextLsn` already consumed. */
  skip: number;
}

/** One record of a stripe's log as a page or a delivery holds it: its events, oldest first. */
export interface RecordEvents {
  lsn: number;
  timestampMs: number;
  events: RecordedEvent[];
}

const FORMAT = '1';
const ENTRY = /^(\d{1,5})\.(\d{1,15})\.(\d{1,15})\.(\d{1,15})$/;

/** Groups slices into their records: a record's slices come together, and no page or delivery splits one. */
export function recordsOf(slices: readonly EventSlice[]): RecordEvents[] {
  const records: RecordEvents[] = [];
  for (const slice of slices) {
    const last = records[records.length - 1];
    if (last?.lsn === slice.lsn) last.events.push(...eventsOf(slice));
    else records.push({ lsn: slice.lsn, timestampMs: slice.timestampMs, events: eventsOf(slice) });
  }
  return records;
}

/**
 * Reads a position given as `from`.
 * @throws InvalidArgumentError when it is not a position this client wrote
 */
export function decodePosition(position: unknown): Map<number, StripeCursor> {
  const bad = (): InvalidArgumentError => new InvalidArgumentError('from', 'must be the position of an event read from $all');
  if (typeof position !== 'string' || !position.startsWith(`${FORMAT}:`)) throw bad();
  const cursors = new Map<number, StripeCursor>();
  const entries = position.slice(FORMAT.length + 1);
  for (const entry of entries === '' ? [] : entries.split(',')) {
    const match = ENTRY.exec(entry);
    if (!match) throw bad();
    const [stripe, epoch, nextLsn, skip] = match.slice(1).map(Number) as [number, number, number, number];
    if (cursors.has(stripe) || epoch < 1 || nextLsn < 1) throw bad();
    cursors.set(stripe, { epoch, nextLsn, skip });
  }
  return cursors;
}

/** What the reader of a cluster knows of its stripes. */
export interface StripeFacts {
  stripeCount: number;
  stripeName(stripe: number): string;
  epochOf(stripe: number): number;
}

/**
 * The cursors of a read: those of `from` (checked against the stripes' epochs now), and the
 * start of every stripe it does not name.
 * @throws InvalidArgumentError when `from` names a stripe the cluster does not have
 * @throws StripeEpochChangedError when a stripe restarted empty after `from` was taken
 */
export function startCursors(from: Map<number, StripeCursor>, stripes: StripeFacts): Map<number, StripeCursor> {
  for (const [stripe, cursor] of from) {
    if (stripe >= stripes.stripeCount) throw new InvalidArgumentError('from', `names stripe ${stripe}; the cluster has ${stripes.stripeCount}`);
    const epoch = stripes.epochOf(stripe);
    if (cursor.epoch !== epoch) throw new StripeEpochChangedError(stripes.stripeName(stripe), cursor.epoch, epoch);
  }
  const cursors = new Map<number, StripeCursor>();
  for (let stripe = 0; stripe < stripes.stripeCount; stripe++) cursors.set(stripe, from.get(stripe) ?? { epoch: stripes.epochOf(stripe), nextLsn: 1, skip: 0 });
  return cursors;
}

/** Follows a reader through the stripes' logs and writes the position after each event. */
export class PositionTracker {
  /** `cursors` holds every stripe of the cluster, in index order. */
  constructor(private readonly cursors: Map<number, StripeCursor>) {}

  /** Where the reader stands in a stripe. */
  cursor(stripe: number): StripeCursor {
    return this.cursors.get(stripe)!;
  }

  /** Puts the reader of a stripe at the start of record `nextLsn` (a read by LSN starts anywhere). */
  seek(stripe: number, nextLsn: number): this {
    this.cursors.set(stripe, { epoch: this.cursor(stripe).epoch, nextLsn, skip: 0 });
    return this;
  }

  /** The events of a stripe's record not yet consumed, each with the position after it; the reader moves past them. */
  consume(stripe: number, record: RecordEvents): PositionedEvent[] {
    const cursor = this.cursor(stripe);
    if (record.lsn < cursor.nextLsn) return [];
    const first = record.lsn === cursor.nextLsn ? cursor.skip : 0;
    const out: PositionedEvent[] = [];
    const lastIndex = record.events.length - 1;
    for (let i = first; i <= lastIndex; i++) {
      // Past a record's last event, the cursor moves to the next LSN: a resume need not read it again.
      this.cursors.set(stripe, i === lastIndex ? { epoch: cursor.epoch, nextLsn: record.lsn + 1, skip: 0 } : { epoch: cursor.epoch, nextLsn: record.lsn, skip: i + 1 });
      out.push({ ...record.events[i]!, position: this.encode() });
    }
    return out;
  }

  private encode(): string {
    const entries = [...this.cursors].map(([stripe, c]) => `${stripe}.${c.epoch}.${c.nextLsn}.${c.skip}`);
    return `${FORMAT}:${entries.join(',')}`;
  }
}
