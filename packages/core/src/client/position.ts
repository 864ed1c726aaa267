/**
 * Positions in a cluster's `$all`: where a consumer stands in each stripe's log, as one opaque
 * string that every event of `readAll` and `subscribeAll` carries. Per stripe it holds the
 * stripe's epoch, the first LSN not wholly consumed, and how many events of that record were. It
 * names every stripe of the cluster, so one cut short at a comma (which would read the stripes it
 * lost from their start again) is refused. Resuming from an event's position therefore continues
 * strictly after that event, even in the middle of a transaction, and with any filter or none: a
 * record's events are counted over the whole record, those a filter left out included.
 *
 * Form: `1:` then, per stripe in index order, `index.epoch.nextLsn.skip`, comma-separated.
 */
import { epochOfFirstRecord } from '../cluster/stripe-epoch.js';
import { InvalidArgumentError, StripeEpochChangedError } from '../errors.js';
import type { RecordedEvent } from '../log/events.js';
import type { EventSlice } from '../protocol/messages.js';
import { eventsOf } from './events.js';

/** An event of the whole log, with the position to resume strictly after it. */
export interface PositionedEvent<Data = unknown> extends RecordedEvent<Data> {
  /** Pass it back as `readAll({ from })` or `subscribeAll({ from })` to go on after this event. */
  position: string;
}

/** Where a reader stands in one stripe's log. */
export interface StripeCursor {
  /**
   * The epoch of the log the reader consumed from: the commit time of its first record (see
   * `cluster/stripe-epoch.ts`), learnt from that record when the reader passes it, else from the
   * stripe's own server; 0 while unknown.
   */
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
  /** Where each event stands among all of the record's events (a filter leaves some out). */
  indexes: number[];
  /** Whether `events` is the whole record: its last is the record's last. Not known of a filtered read's. */
  whole: boolean;
}

const FORMAT = '1';
const ENTRY = /^(\d{1,5})\.(\d{1,15})\.(\d{1,15})\.(\d{1,15})$/;

/**
 * Groups slices into their records: a record's slices come together, and no page or delivery
 * splits one. `filtered`: the slices came from a filtered read, so records may not be whole.
 */
export function recordsOf(slices: readonly EventSlice[], filtered: boolean): RecordEvents[] {
  const records: RecordEvents[] = [];
  for (const slice of slices) {
    let record = records[records.length - 1];
    if (record?.lsn !== slice.lsn) {
      record = { lsn: slice.lsn, timestampMs: slice.timestampMs, events: [], indexes: [], whole: !filtered };
      records.push(record);
    }
    // A slice follows the one before it in the record unless it says where it starts.
    const first = slice.recordOffset ?? (record.indexes.length === 0 ? 0 : record.indexes[record.indexes.length - 1]! + 1);
    eventsOf(slice).forEach((event, i) => {
      record.events.push(event);
      record.indexes.push(first + i);
    });
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
    if (cursors.has(stripe) || nextLsn < 1) throw bad();
    cursors.set(stripe, { epoch, nextLsn, skip });
  }
  return cursors;
}

/** What the reader of a cluster knows of its stripes. */
export interface StripeFacts {
  stripeCount: number;
  stripeName(stripe: number): string;
  /** The stripe's epoch as the topology has it (another stripe's server may not know it yet: 0). */
  epochOf(stripe: number): number;
}

/** True when the reader consumed something of the stripe's log: only then does its epoch matter. */
export const hasConsumed = (cursor: StripeCursor): boolean => cursor.nextLsn > 1 || cursor.skip > 0;

/** The cursors of a read from the start of every stripe, each with the epoch the topology gives it. */
export function freshCursors(stripes: StripeFacts): Map<number, StripeCursor> {
  const cursors = new Map<number, StripeCursor>();
  for (let stripe = 0; stripe < stripes.stripeCount; stripe++) cursors.set(stripe, { epoch: stripes.epochOf(stripe), nextLsn: 1, skip: 0 });
  return cursors;
}

/**
 * The cursors of a read from `from`: its own for the stripes it consumed from, checked against
 * each stripe's epoch now (`epochNow` asks the stripe's own server), and the start of every other.
 * @throws InvalidArgumentError when `from` names a stripe the cluster does not have, or not every one
 * @throws StripeEpochChangedError when a stripe restarted empty after `from` was taken (or `from` is another cluster's)
 */
export async function resumeCursors(from: Map<number, StripeCursor>, stripes: StripeFacts, epochNow: (stripe: number) => Promise<number>): Promise<Map<number, StripeCursor>> {
  for (const stripe of from.keys()) {
    if (stripe >= stripes.stripeCount) throw new InvalidArgumentError('from', `names stripe ${stripe}; the cluster has ${stripes.stripeCount}`);
  }
  const consumed = [...from].filter(([, cursor]) => hasConsumed(cursor));
  const epochs = await Promise.all(consumed.map(([stripe]) => epochNow(stripe)));
  consumed.forEach(([stripe, cursor], i) => {
    // Epoch 0 past a log's start comes from an older client, which left it unknown when it passed the
    // log's first record unread (a prepare, a record a filter passed over): taken as it stands.
    if (cursor.epoch === 0) cursor.epoch = epochs[i]!;
    if (cursor.epoch !== epochs[i]) throw new StripeEpochChangedError(stripes.stripeName(stripe), cursor.epoch, epochs[i]!);
  });
  // After the epochs: another cluster's position (of another number of stripes) is told apart by them.
  if (from.size !== stripes.stripeCount) {
    throw new InvalidArgumentError('from', `names ${from.size} of the cluster's ${stripes.stripeCount} stripes: a position names every stripe (was it cut short?)`);
  }
  const cursors = freshCursors(stripes);
  for (const [stripe, cursor] of consumed) cursors.set(stripe, cursor);
  return cursors;
}

/** Follows a reader through the stripes' logs and writes the position after each event. */
export class PositionTracker {
  /**
   * The stripes whose epoch the reader has from the log itself: read off its first record, given
   * by the stripe's own server, or checked against it on resume. The topology's may be another
   * server's stale word, or 0 from before the first record.
   */
  private readonly sure = new Set<number>();

  /** `cursors` holds every stripe of the cluster, in index order; those that consumed something were checked (see {@link resumeCursors}). */
  constructor(private readonly cursors: Map<number, StripeCursor>) {
    for (const [stripe, cursor] of cursors) if (hasConsumed(cursor)) this.sure.add(stripe);
  }

  /** Where the reader stands in a stripe. */
  cursor(stripe: number): StripeCursor {
    return this.cursors.get(stripe)!;
  }

  /**
   * True when the reader may move past a stripe's records before `lsn` without knowing its epoch:
   * it knows it, or `lsn` is the log's first record, which names it. Otherwise ask the stripe
   * ({@link settle}): a log whose first record shows no event (a participant's prepare, an aborted
   * transaction) or that a filter passes over would leave the position with an epoch of 0 or of an
   * earlier life, and a resume from it would fail with `StripeEpochChangedError`.
   */
  canPassTo(stripe: number, lsn: number): boolean {
    return lsn <= 1 || this.sure.has(stripe);
  }

  /** Takes a stripe's epoch as its own server gave it (a read by LSN may never pass the log's first record). */
  settle(stripe: number, epoch: number): this {
    this.cursors.set(stripe, { ...this.cursor(stripe), epoch });
    if (epoch !== 0) this.sure.add(stripe);
    return this;
  }

  /** Puts the reader of a stripe at the start of record `nextLsn` (a read by LSN starts anywhere). */
  seek(stripe: number, nextLsn: number): this {
    this.cursors.set(stripe, { epoch: this.cursor(stripe).epoch, nextLsn, skip: 0 });
    return this;
  }

  /** The events of a stripe's record not yet consumed, each with the position after it; the reader moves past them. */
  consume(stripe: number, record: RecordEvents): PositionedEvent[] {
    const known = this.cursor(stripe);
    if (record.lsn < known.nextLsn) return [];
    // The log's first record names its epoch exactly: its commit time.
    const cursor = record.lsn === 1 ? { ...known, epoch: epochOfFirstRecord(record.timestampMs) } : known;
    if (record.lsn === 1) this.sure.add(stripe);
    const consumed = record.lsn === cursor.nextLsn ? cursor.skip : 0;
    const out: PositionedEvent[] = [];
    const lastIndex = record.events.length - 1;
    for (let i = 0; i <= lastIndex; i++) {
      const index = record.indexes[i]!;
      if (index < consumed) continue;
      // Past a whole record's last event, the cursor moves to the next LSN: a resume need not read it again.
      this.cursors.set(stripe, i === lastIndex && record.whole ? { epoch: cursor.epoch, nextLsn: record.lsn + 1, skip: 0 } : { epoch: cursor.epoch, nextLsn: record.lsn, skip: index + 1 });
      out.push({ ...record.events[i]!, position: this.encode() });
    }
    return out;
  }

  /**
   * Moves the reader of a stripe on to `nextLsn` past records a filter left out; true when it
   * passed a record it delivered nothing of (past the end of one it delivered from is no news).
   * The stripe's epoch must be settled first: a position that passed the log's first record
   * without reading it could not learn it.
   */
  advance(stripe: number, nextLsn: number): boolean {
    const cursor = this.cursor(stripe);
    if (nextLsn <= cursor.nextLsn) return false;
    this.cursors.set(stripe, { epoch: cursor.epoch, nextLsn, skip: 0 });
    return nextLsn > cursor.nextLsn + (cursor.skip > 0 ? 1 : 0);
  }

  /** The position after everything consumed so far. */
  position(): string {
    return this.encode();
  }

  private encode(): string {
    const entries = [...this.cursors].map(([stripe, c]) => `${stripe}.${c.epoch}.${c.nextLsn}.${c.skip}`);
    return `${FORMAT}:${entries.join(',')}`;
  }
}
