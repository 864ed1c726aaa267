/**
 * A stripe's epoch: which life of its log this is. It is the commit time (ms since the Unix
 * epoch) of the log's first record, and 0 while the log is empty. A memory-mode stripe that lost
 * every server comes back empty, and its new first record is written later: a new epoch. A
 * position carries the epoch of each stripe it names, so a consumer resuming across such a loss
 * gets `StripeEpochChangedError` rather than a silent skip or repeat. It needs no coordination:
 * committed records are never rewritten, so the first one fixes the epoch for the log's life.
 */
import type { LogRecord } from '../log/record.js';
import type { CheckedStore } from '../store/checked-store.js';

/** The epoch a log whose first record was committed at `timestampMs` is in: a whole number of ms, never 0 (which means empty). */
export function epochOfFirstRecord(timestampMs: number): number {
  return Math.max(1, Math.trunc(timestampMs));
}

export class StripeEpoch {
  private epoch = 0;

  constructor(
    private readonly store: CheckedStore,
    /** The highest committed LSN this server knows: an uncommitted first record may still be replaced. */
    private readonly commitIndex: () => number,
  ) {}

  /** The epoch as far as known without reading: 0 until the first record committed and was seen. */
  get known(): number {
    return this.epoch;
  }

  /** The epoch, reading the first record once it is committed. */
  async current(): Promise<number> {
    if (this.epoch === 0 && this.commitIndex() >= 1) {
      const [first] = await this.store.readRecords(1, { direction: 'forward', maxCount: 1, maxBytes: 1 });
      if (first !== undefined && first.lsn === 1) this.epoch = epochOfFirstRecord(first.timestampMs);
    }
    return this.epoch;
  }

  /**
   * Sees newly committed records; true when they fixed the epoch (the first record of the log).
   */
  observe(records: readonly LogRecord[]): boolean {
    const first = records[0];
    if (this.epoch !== 0 || first === undefined || first.lsn !== 1) return false;
    this.epoch = epochOfFirstRecord(first.timestampMs);
    return true;
  }
}
