/**
 * The active's sender to one mirror: it ships records in LSN order, pipelined up to a window,
 * from the recent records in memory or else from the store (a mirror catching up), and learns
 * from acknowledgements how far the mirror's log matches. A mismatch walks back to the common
 * prefix, which the mirror then keeps, truncating what follows.
 */
import { StoreClosedError } from '../errors.js';
import { CATCH_UP_BYTES, CATCH_UP_RECORDS, SHIP_WINDOW_RECORDS, type LogLimits } from '../limits.js';
import { recordTerm, type EncodedRecord } from '../log/record.js';
import type { CheckedStore } from '../store/checked-store.js';
import type { AckMessage } from './peer-protocol.js';
import type { PeerSender } from './outbox.js';


/**
 * The records written most recently, kept in memory so live shipping never reads the store: at
 * most `capacity` records and, past the group commit being written, `bytesMax` bytes, the oldest
 * forgotten first (a mirror that needs them is shipped from the store). Without the byte bound,
 * large transactions would make the count alone hold gigabytes.
 */
export class RecentRecords {
  private readonly ring: Array<EncodedRecord | undefined>;
  private bytes = 0;
  /** The lowest LSN the ring may still hold. */
  private oldest = 0;

  constructor(
    private readonly capacity: number,
    private readonly bytesMax: number,
  ) {
    this.ring = new Array<EncodedRecord | undefined>(capacity);
  }

  /** Adds one group commit's records, in LSN order, just before the store writes them. */
  add(records: readonly EncodedRecord[]): void {
    if (records.length === 0) return;
    for (const record of records) {
      const slot = record.lsn % this.capacity;
      this.bytes += record.bytes.length - (this.ring[slot]?.bytes.length ?? 0);
      this.ring[slot] = record;
    }
    // The group commit just added is not in the store yet: only older records may go.
    const first = records[0]!.lsn;
    this.oldest = Math.max(this.oldest, records[records.length - 1]!.lsn - this.capacity + 1);
    while (this.bytes > this.bytesMax && this.oldest < first) this.forget(this.oldest++);
  }

  /**
   * Drops the records through `lsn`: every mirror acknowledged them and the store holds them, so
   * only a walk-back needs them again, and that reads the store. Dropped at once, they die young;
   * kept to the ring's bound, every record lived into the old generation, and each young
   * collection copied it there (a pause a client at one request in flight waits out).
   */
  forgetThrough(lsn: number): void {
    for (let next = Math.max(this.oldest, lsn - this.capacity + 1); next <= lsn; next++) this.forget(next);
    this.oldest = Math.max(this.oldest, lsn + 1);
  }

  get(lsn: number): EncodedRecord | undefined {
    const record = this.ring[lsn % this.capacity];
    return record?.lsn === lsn ? record : undefined;
  }

  private forget(lsn: number): void {
    const slot = lsn % this.capacity;
    const record = this.ring[slot];
    if (record?.lsn !== lsn) return;
    this.bytes -= record.bytes.length;
    this.ring[slot] = undefined;
  }
}

export interface ShipperContext {
  self: string;
  term: number;
  network: PeerSender;
  store: CheckedStore;
  recent: RecentRecords;
  limits: LogLimits;
  /**
   * Bytes the records of one append may take, 5 bytes of header each (frameBytesMax less
   * `APPEND_FRAME_HEADROOM_BYTES`): past them the frame could not be sent, and nothing after it.
   */
  recordsBytesMax: number;
  /** The last LSN that may be shipped: handed to the local store, durable there or about to be. */
  shippableLsn: () => number;
  commitIndex: () => number;
  /** The active's last LSN when it took office: sent with every append as `termStartLsn`. */
  termStartLsn: () => number;
  /** Whether `mirror` is in the in-sync set: a mirror catching up gets one append at a time. */
  inSync: (mirror: string) => boolean;
  now: () => number;
  /** Now, as an append's `askedAtMs`: the mirror echoes it, and the active's lease counts its answer from then. */
  askedAtMs: () => number;
  /** A store read failed while shipping (not a close): the server's disk is in doubt. */
  onReadFailed: (error: unknown) => void;
}

export class Shipper {
  /** Highest LSN known to match the active's log on the mirror. */
  ackedLsn = 0;
  /**
   * When the mirror last kept up, on the monotonic clock: it answered holding everything shipped
   * to it, or acknowledged further than before. A mirror that answers (heartbeats, mismatches)
   * and never takes the records shipped, its disk full say, keeps up no more than a silent one.
   */
  lastProgressMs: number;
  private nextLsn: number;
  /** Term of the record at `nextLsn - 1`. */
  private prevTerm: number;
  private pumping = false;
  /** Bumped on every walk-back, so a pump that started before it drops what it read. */
  private generation = 0;

  constructor(
    readonly mirror: string,
    private readonly context: ShipperContext,
    tip: { lsn: number; term: number },
  ) {
    this.nextLsn = tip.lsn + 1;
    this.prevTerm = tip.term;
    this.lastProgressMs = context.now();
  }

  /** True when the mirror acknowledged everything shipped to it: nothing is in flight. */
  get allAcknowledged(): boolean {
    return this.ackedLsn === this.nextLsn - 1;
  }

  /** Ships what the mirror lacks, as far as the window and the connection allow. */
  async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      const { network } = this.context;
      // Catch-up is paced at one small append in flight: the mirror rests between its writes, so
      // the active's clients keep most of the machine, and catch-up still outruns any live load.
      const catchingUp = !this.context.inSync(this.mirror);
      const window = catchingUp ? 1 : SHIP_WINDOW_RECORDS;
      while (this.nextLsn <= this.context.shippableLsn() && this.nextLsn - this.ackedLsn <= window && network.canSend(this.mirror)) {
        const generation = this.generation;
        // Live shipping finds its records in memory and sends at once, in this turn's write.
        const read = this.readRecent(this.nextLsn, catchingUp) ?? (await this.readStored(this.nextLsn, catchingUp));
        if (generation !== this.generation || read.length === 0) continue;
        const records = fitFrame(read, this.context.recordsBytesMax);
        const first = records[0]!;
        const sent = network.send(this.mirror, {
          kind: 'append',
          term: this.context.term,
          from: this.context.self,
          prevLsn: first.lsn - 1,
          prevTerm: this.prevTerm,
          commitIndex: this.context.commitIndex(),
          termStartLsn: this.context.termStartLsn(),
          records: records.map((r) => r.bytes),
          askedAtMs: this.context.askedAtMs(),
        });
        if (!sent) break;
        const last = records[records.length - 1]!;
        this.nextLsn = last.lsn + 1;
        this.prevTerm = last.term;
      }
    } catch (error) {
      // A store closed under a pump: the server is stopping, and so is shipping.
      if (!(error instanceof StoreClosedError)) this.context.onReadFailed(error);
    } finally {
      this.pumping = false;
    }
  }

  /** Tells the mirror the active lives, and where the log stands, without records. */
  heartbeat(): void {
    this.context.network.send(this.mirror, {
      kind: 'append',
      term: this.context.term,
      from: this.context.self,
      prevLsn: this.nextLsn - 1,
      prevTerm: this.prevTerm,
      commitIndex: this.context.commitIndex(),
      termStartLsn: this.context.termStartLsn(),
      records: [],
      askedAtMs: this.context.askedAtMs(),
    });
  }

  /** Takes in an acknowledgement; a mismatch walks back to where the mirror's log ends or differs. */
  async onAck(ack: AckMessage): Promise<void> {
    if (ack.matched) return this.onMatched(ack);
    this.generation++;
    const back = Math.min(ack.lastLsn, this.nextLsn - 2, this.context.shippableLsn());
    const from = Math.max(back, 0);
    this.ackedLsn = Math.min(this.ackedLsn, from);
    this.nextLsn = from + 1;
    this.prevTerm = await this.termAt(from);
  }

  /** Takes in an acknowledgement that the mirror's log matches through `ack.lastLsn`. */
  onMatched(ack: AckMessage): void {
    const further = ack.lastLsn > this.ackedLsn;
    if (further) this.ackedLsn = ack.lastLsn;
    if (further || this.allAcknowledged) this.lastProgressMs = this.context.now();
  }

  private async termAt(lsn: number): Promise<number> {
    if (lsn === 0) return 0;
    const recent = this.context.recent.get(lsn);
    if (recent) return recent.term;
    const [record] = await this.context.store.readRecords(lsn, { direction: 'forward', maxCount: 1, maxBytes: 1 });
    return record?.term ?? 0;
  }

  /** The most one append may carry: one group commit's records and bytes, and less to a mirror catching up. */
  private appendBounds(catchingUp: boolean): { maxCount: number; maxBytes: number } {
    const { limits } = this.context;
    return {
      maxCount: Math.min(limits.readCountMax, limits.groupCommitRecordsMax, catchingUp ? CATCH_UP_RECORDS : Infinity),
      maxBytes: Math.min(limits.readBytesMax, limits.groupCommitBytesMax, catchingUp ? CATCH_UP_BYTES : Infinity),
    };
  }

  /** Records from `lsn` on while they are in memory; undefined when `lsn` is not. */
  private readRecent(lsn: number, catchingUp: boolean): EncodedRecord[] | undefined {
    const { maxCount, maxBytes } = this.appendBounds(catchingUp);
    const out: EncodedRecord[] = [];
    let bytes = 0;
    const written = this.context.shippableLsn();
    for (let next = lsn; next <= written && bytes < maxBytes && out.length < maxCount; next++) {
      const record = this.context.recent.get(next);
      if (!record) break;
      out.push(record);
      bytes += record.bytes.length;
    }
    return out.length > 0 ? out : undefined;
  }

  /** Records from `lsn` on, from the store (a mirror catching up, or one behind what memory holds). */
  private async readStored(lsn: number, catchingUp: boolean): Promise<Array<{ lsn: number; term: number; bytes: Uint8Array }>> {
    const stored = await this.context.store.read(lsn, { direction: 'forward', ...this.appendBounds(catchingUp) });
    // The store checked each record's CRC as it read it: only the term is needed here.
    return stored.map((r) => ({ lsn: r.lsn, term: recordTerm(r.bytes, r.lsn), bytes: r.bytes }));
  }
}

/**
 * The first records of `records` that one append frame holds: the first always (the committer
 * wrote none larger), then as many as fit `bytesMax`. Reads stop past their byte bound, not
 * before it, so a large record after others would have made a frame over `frameBytesMax`.
 */
function fitFrame<T extends { bytes: Uint8Array }>(records: T[], bytesMax: number): T[] {
  let bytes = 0;
  for (let i = 0; i < records.length; i++) {
    bytes += BIN_HEADER_BYTES + records[i]!.bytes.length;
    if (i > 0 && bytes > bytesMax) return records.slice(0, i);
  }
  return records;
}

/** A record's header in an append frame (msgpack bin 32), at most. */
const BIN_HEADER_BYTES = 5;
