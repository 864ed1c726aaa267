/**
 * The `diverged` report (availability mode): records a member gave up to follow an active of a
 * higher term. Under a partition both sides may have acknowledged transactions; the side that
 * loses keeps its divergent tail here, in the store's metadata, before truncating it, so nothing
 * acknowledged is dropped silently. Each truncation adds entries of at most
 * {@link ENTRY_RECORDS_MAX} records and one read's bytes; nothing is ever removed by Kiln.
 *
 * An operator's forced decision for a transaction in doubt (`kiln txn resolve`) is kept here too,
 * one entry each, with the prepare record it ended: it may disagree with a decision its lost
 * coordinator took, so it is never made silently.
 */
import { decode, encode } from '@msgpack/msgpack';
import type { CheckedStore } from '../store/checked-store.js';
import { ENTRY_RECORDS_MAX } from '../limits.js';

/** A decision an operator forced on a prepared part whose coordinator could not be reached. */
export interface ForcedDecision {
  txnId: string;
  decision: 'commit' | 'abort';
}

/** One entry: records truncated together, in LSN order; or a part ended by an operator's decision. */
export interface DivergedEntry {
  /** The entry's index, from 0. */
  index: number;
  /** Wall-clock time of the truncation (or of the forced decision), ms since the epoch. */
  atMs: number;
  /** The term of the active whose log replaced these records (for a forced decision: that ended the part). */
  replacedInTerm: number;
  /** The whole encoded records (see `decodeRecord`), with their LSNs: for a forced decision, the part's prepare. */
  records: Array<{ lsn: number; bytes: Uint8Array }>;
  /** Present when an operator forced this decision (`kiln txn resolve`) rather than a truncation. */
  forcedByOperator?: ForcedDecision;
}

const META_COUNT = 'diverged-count';
const META_RECORDS = 'diverged-records';
const entryKey = (index: number): string => `diverged/${index}`;

export class DivergedReport {
  private entries = 0;
  private records = 0;
  private adding: Promise<void> = Promise.resolve();

  /** @param entryBytesMax bytes of records an entry holds, about (at least one record): one read's worth, so an entry fits a frame */
  constructor(
    private readonly store: CheckedStore,
    private readonly entryBytesMax: number,
  ) {}

  async load(): Promise<void> {
    this.entries = Number(await this.metaValue(META_COUNT)) || 0;
    this.records = Number(await this.metaValue(META_RECORDS)) || 0;
  }

  /** Entries and records kept so far. */
  get summary(): { entries: number; records: number } {
    return { entries: this.entries, records: this.records };
  }

  /** Keeps every record after `lsn` (they are about to be truncated), before the truncation. */
  async keepAfter(lsn: number, replacedInTerm: number, atMs: number): Promise<number> {
    let kept = 0;
    for (let from = lsn + 1; ; ) {
      const batch = await this.store.read(from, { direction: 'forward', maxCount: ENTRY_RECORDS_MAX, maxBytes: this.entryBytesMax });
      if (batch.length === 0) return kept;
      await this.add([atMs, replacedInTerm, batch.map((r) => [r.lsn, r.bytes])], batch.length);
      kept += batch.length;
      from = batch[batch.length - 1]!.lsn + 1;
    }
  }

  /** Keeps an operator's forced decision on the part prepared at `prepareLsn`, before the outcome is written. */
  async keepForced(forced: ForcedDecision, prepareLsn: number, term: number, atMs: number): Promise<void> {
    const prepare = await this.store.read(prepareLsn, { direction: 'forward', maxCount: 1, maxBytes: this.entryBytesMax });
    await this.add([atMs, term, prepare.map((r) => [r.lsn, r.bytes]), [forced.txnId, forced.decision]], prepare.length);
  }

  /** Adds one entry after those being added (two operators' decisions may come at once). */
  private add(entry: unknown[], records: number): Promise<void> {
    const adding = this.adding.then(() => this.write(entry, records));
    this.adding = adding.catch(() => undefined);
    return adding;
  }

  private async write(entry: unknown[], records: number): Promise<void> {
    await this.store.putMeta(entryKey(this.entries), encode(entry));
    this.entries++;
    this.records += records;
    // The count goes last: a crash in between leaves an entry that the next one overwrites.
    await this.store.putMeta(META_RECORDS, encode(this.records));
    await this.store.putMeta(META_COUNT, encode(this.entries));
  }

  /** Entry `index`; undefined past the last. */
  async read(index: number): Promise<DivergedEntry | undefined> {
    if (index >= this.entries) return undefined;
    const [atMs, replacedInTerm, records, forced] = (await this.metaValue(entryKey(index))) as [number, number, Array<[number, Uint8Array]>, [string, ForcedDecision['decision']]?];
    const entry: DivergedEntry = { index, atMs, replacedInTerm, records: records.map(([lsn, bytes]) => ({ lsn, bytes })) };
    if (forced) entry.forcedByOperator = { txnId: forced[0], decision: forced[1] };
    return entry;
  }

  private async metaValue(key: string): Promise<unknown> {
    const bytes = await this.store.getMeta(key);
    return bytes === undefined ? undefined : decode(bytes);
  }
}
