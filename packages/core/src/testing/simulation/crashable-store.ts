/**
 * A simulated disk for restartable mode. Appends reach the page cache at once (readable, like a
 * `write(2)`) and become durable only when a simulated fsync completes after a seeded delay. A
 * crash keeps what was synced and, of what was not, a seeded prefix of whole batches (a store's
 * append is one atomic write), optionally with a torn record after it; everything else is gone.
 *
 * Kiln acknowledges a transaction only once `append` resolved, so with a correct disk (append
 * resolves after the fsync) nothing acknowledged is ever lost. The `ackBeforeSync` switch plants
 * exactly that bug, to prove the checker notices.
 */
import type { EncodedRecord } from '../../log/record.js';
import type { IndexReadOptions, LogReadOptions, Store, StoredRecord, StreamIndexEntry } from '../../store/store.js';
import type { Timers } from '../../time.js';
import type { Prng } from './prng.js';

/** Options of {@link crashableStore}. */
export interface CrashableStoreOptions {
  /** The generator for sync delays and for what survives a crash. */
  random: Prng;
  /** Shortest fsync, in virtual ms. @default 0 */
  syncDelayMinMs?: number;
  /** Longest fsync, in virtual ms. @default 5 */
  syncDelayMaxMs?: number;
  /**
   * Chance that each unsynced batch survives a crash, walking from the oldest; the first one lost
   * ends the walk (a disk writes back in order here). RELIABILITY.md §3.3 loses 80–100 %.
   * @default 0.1
   */
  unsyncedSurvivalProbability?: number;
  /**
   * Chance that a crash also leaves a torn copy of the first lost record at the tail, which
   * recovery must find by its length and CRC and drop.
   * @default 0
   */
  tornWriteProbability?: number;
  /**
   * A planted bug for the harness's self-test: `append` resolves as soon as the page cache has the
   * records, before the fsync, so a crash can lose acknowledged transactions.
   * @default false
   */
  ackBeforeSync?: boolean;
}

/** What a crash did to a {@link CrashableStore}. */
export interface CrashReport {
  /** The last LSN that survived. */
  lastLsn: number;
  /** Records that were written but lost. */
  lostRecords: number;
  /** True when a torn record was left at the tail. */
  torn: boolean;
}

const NEVER = new Promise<never>(() => {});

/**
 * A disk over an inner store (its contents are the disk's). Each server incarnation opens its own
 * {@link CrashableStore.view}; a {@link CrashableStore.crash} freezes the old view for good (its
 * calls never settle, as a dead process's do not) and cuts the disk back to what survives.
 */
export class CrashableStore {
  private generation = 0;
  private innerOpen = false;
  private syncedLsn = 0;
  private writtenLsn = 0;
  /** Last LSN of each written, not yet synced batch, oldest first. */
  private unsynced: number[] = [];
  /** Batches by last LSN, kept while unsynced so a crash can leave a torn copy of one. */
  private readonly unsyncedRecords = new Map<number, readonly EncodedRecord[]>();
  private lastSyncAtMs = 0;
  private readonly syncDelayMinMs: number;
  private readonly syncDelayMaxMs: number;
  private readonly survival: number;
  private readonly torn: number;
  private readonly ackBeforeSync: boolean;
  private readonly random: Prng;

  constructor(
    /** Where the bytes rest: the disk's contents, page cache included. */
    readonly inner: Store,
    options: CrashableStoreOptions,
  ) {
    this.random = options.random;
    this.syncDelayMinMs = options.syncDelayMinMs ?? 0;
    this.syncDelayMaxMs = options.syncDelayMaxMs ?? 5;
    this.survival = options.unsyncedSurvivalProbability ?? 0.1;
    this.torn = options.tornWriteProbability ?? 0;
    this.ackBeforeSync = options.ackBeforeSync ?? false;
  }

  /** The last LSN known durable. */
  get lastSyncedLsn(): number {
    return this.syncedLsn;
  }

  /**
   * A `Store` for one server incarnation, whose fsyncs complete on `timers` (the incarnation's,
   * so a paused process's fsync completions wait for it too). It reports itself persistent.
   * Closing it syncs everything and leaves the disk to the next view.
   */
  view(timers: Timers, now: () => number): Store {
    const generation = ++this.generation;
    const live = (): boolean => generation === this.generation;
    const disk = this;
    const inner = this.inner;
    const guard = <T>(run: () => Promise<T>): Promise<T> => (live() ? run() : NEVER);
    return {
      persistent: true,
      open: () =>
        guard(async () => {
          if (!disk.innerOpen) {
            await inner.open();
            disk.innerOpen = true;
          }
        }),
      close: () =>
        guard(async () => {
          disk.syncedLsn = disk.writtenLsn;
          disk.clearUnsynced();
        }),
      append: (records) =>
        guard(async () => {
          await inner.append(records);
          if (!live()) return NEVER;
          const lastLsn = records[records.length - 1]!.lsn;
          disk.writtenLsn = lastLsn;
          disk.unsynced.push(lastLsn);
          disk.unsyncedRecords.set(lastLsn, records);
          const synced = disk.sync(timers, now(), lastLsn, live);
          if (!disk.ackBeforeSync) await synced;
          return undefined;
        }),
      read: (fromLsn: number, options: LogReadOptions): Promise<StoredRecord[]> => guard(() => inner.read(fromLsn, options)),
      readStreamIndex: (stream: string, fromVersion: number, options: IndexReadOptions): Promise<StreamIndexEntry[]> =>
        guard(() => inner.readStreamIndex(stream, fromVersion, options)),
      truncateAfter: (afterLsn) =>
        guard(async () => {
          await inner.truncateAfter(afterLsn);
          disk.writtenLsn = Math.min(disk.writtenLsn, afterLsn);
          disk.syncedLsn = Math.min(disk.syncedLsn, afterLsn);
          disk.unsynced = disk.unsynced.filter((lsn) => lsn <= afterLsn);
        }),
      getMeta: (key) => guard(() => inner.getMeta(key)),
      // Metadata is written through and synced before the promise resolves; a crash keeps it.
      putMeta: (key, value) =>
        guard(async () => {
          await inner.putMeta(key, value);
          await disk.delay(timers, now(), live);
        }),
    };
  }

  /**
   * Crashes the disk's current user: its view freezes, and the disk keeps what was synced plus a
   * seeded prefix of the unsynced batches (and maybe a torn record after them).
   */
  async crash(): Promise<CrashReport> {
    this.generation++;
    let keep = this.syncedLsn;
    let firstLost: number | undefined;
    for (const lsn of this.unsynced) {
      if (this.random.chance(this.survival)) keep = lsn;
      else {
        firstLost = lsn;
        break;
      }
    }
    const lostRecords = this.writtenLsn - keep;
    let torn = false;
    if (this.innerOpen && lostRecords > 0) {
      const lostBatch = firstLost === undefined ? undefined : this.unsyncedRecords.get(firstLost);
      await this.inner.truncateAfter(keep);
      const first = lostBatch?.find((r) => r.lsn === keep + 1);
      if (first && this.random.chance(this.torn) && first.bytes.length > 1) {
        // Half a record reached the platter: recovery must drop it by its length or CRC.
        const cut = this.random.int(1, first.bytes.length - 1);
        await this.inner.append([{ ...first, bytes: first.bytes.slice(0, cut) }]);
        torn = true;
      }
    }
    this.writtenLsn = keep;
    this.syncedLsn = keep;
    this.clearUnsynced();
    return { lastLsn: keep, lostRecords, torn };
  }

  /** Closes the inner store, at the end of a simulation. */
  async dispose(): Promise<void> {
    this.generation++;
    if (this.innerOpen) {
      this.innerOpen = false;
      await this.inner.close();
    }
  }

  private clearUnsynced(): void {
    this.unsynced = [];
    this.unsyncedRecords.clear();
  }

  /** An fsync of everything written up to `lsn`; fsyncs complete in order. */
  private async sync(timers: Timers, nowMs: number, lsn: number, live: () => boolean): Promise<void> {
    await this.delay(timers, nowMs, live);
    if (lsn <= this.syncedLsn) return;
    this.syncedLsn = lsn;
    while (this.unsynced.length > 0 && this.unsynced[0]! <= lsn) this.unsyncedRecords.delete(this.unsynced.shift()!);
  }

  private delay(timers: Timers, nowMs: number, live: () => boolean): Promise<void> {
    const doneAt = Math.max(nowMs + this.random.float(this.syncDelayMinMs, Math.max(this.syncDelayMinMs, this.syncDelayMaxMs)), this.lastSyncAtMs);
    this.lastSyncAtMs = doneAt;
    return new Promise<void>((resolve) => timers.setTimeout(() => (live() ? resolve() : undefined), doneAt - nowMs));
  }
}

/**
 * Wraps `inner` (an empty store: its contents become the disk's) in a simulated disk with seeded
 * fsync delays that loses unsynced writes on a crash.
 */
export function crashableStore(inner: Store, options: CrashableStoreOptions): CrashableStore {
  return new CrashableStore(inner, options);
}
