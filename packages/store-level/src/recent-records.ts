/**
 * The check at open that the newest records are whole and join up. LevelDB replays its log file at
 * open, and where a block of it is damaged (a flipped bit, a sector a power cut left half written)
 * it skips that block and keeps what follows: its paranoid checks, which would refuse instead, are
 * off, and `level` offers no way to turn them on. A whole group commit then vanishes from the
 * middle of the log, and the store would serve a log with a hole. Only batches still in a log file
 * can vanish so: the newest ones, at most two write buffers' worth (the memtable and the one being
 * written out), each overrun by at most one batch. Walking back over that many bytes of records
 * finds the hole, and a record there that fails its CRC below one that passes (damage in a table
 * file, which no torn write explains: the checked layer drops only a failing tail).
 */
import { CorruptRecordError, defaultLogLimits, indexRecord, STORE_WRITE_BUFFER_BYTES } from '@kiln/core';
import { chunkKey, lsnOfKey } from './keys.js';
import { LSN_MAX, type Db, type DbIterator } from './level-db.js';
import { decodeChunk } from './record-chunks.js';

/** Bytes of records from the tail that cover every batch LevelDB may still replay from a log file. */
export const RECENT_RECORD_BYTES = 2 * (STORE_WRITE_BUFFER_BYTES + defaultLogLimits.groupCommitBytesMax);

/** What to do about a damaged store, the end of every error this check raises. */
const REMEDY = 'Restore it from a backup into a new directory (kiln restore --in FULL [INCREMENTAL...] --data-dir NEW; docs/operations.md, Backup and restore), or rebuild the server as a new mirror of its group: kiln admin remove-mirror, empty the directory, kiln start --join, kiln admin add-mirror';

/**
 * Walks back from the last record over {@link RECENT_RECORD_BYTES}, down to `lowestLsn`, and
 * checks that each chunk ends just before the next one starts, and that every record below the
 * first whole one from the tail passes its CRC.
 * @throws CorruptRecordError at the first LSN missing or damaged, naming the directory and what to do; nothing is changed
 */
export async function checkRecentRecords(db: Db, path: string, lowestLsn: number): Promise<void> {
  const iterator = db.iterator({ gte: chunkKey(lowestLsn), lte: chunkKey(LSN_MAX), reverse: true });
  try {
    let nextFirst: number | undefined;
    let wholeAbove = false;
    let bytes = 0;
    for (let entry = await nextOf(iterator, path, nextFirst ?? lowestLsn); entry !== undefined && bytes < RECENT_RECORD_BYTES; entry = await nextOf(iterator, path, nextFirst ?? lowestLsn)) {
      const [key, value] = entry;
      const records = decodeChunk(lsnOfKey(key), value);
      const last = lsnOfKey(key) + records.length - 1;
      if (nextFirst !== undefined && last + 1 !== nextFirst) {
        throw new CorruptRecordError(last + 1, `the store at ${path} is damaged: its records run through LSN ${last}, then go on at LSN ${nextFirst} (LevelDB skips a damaged block of its log file). ${REMEDY}`);
      }
      for (let i = records.length - 1; i >= 0; i--) {
        try {
          indexRecord(records[i]!.bytes, records[i]!.lsn);
          wholeAbove = true;
        } catch (error) {
          if (!(error instanceof CorruptRecordError)) throw error;
          if (wholeAbove) throw new CorruptRecordError(records[i]!.lsn, `the store at ${path} is damaged: record ${records[i]!.lsn} fails its check (${error.detail}) below whole records. ${REMEDY}`);
        }
      }
      nextFirst = lsnOfKey(key);
      bytes += value.length;
    }
  } finally {
    await iterator.close();
  }
}

/** The iterator's next entry; LevelDB's errors reading a damaged table become {@link damagedStoreError}, at the record below the last one read. */
async function nextOf(iterator: DbIterator, path: string, above: number): Promise<[Uint8Array, Uint8Array] | undefined> {
  try {
    return await iterator.next();
  } catch (error) {
    throw damagedStoreError(path, error, Math.max(above - 1, 1));
  }
}

/**
 * LevelDB's own errors reading a damaged table (`LEVEL_CORRUPTION`, `LEVEL_IO_ERROR`) name neither
 * the store nor a way out: they become a CorruptRecordError that does, at `lsn` when known. Other
 * errors are returned as they are.
 */
export function damagedStoreError(path: string, error: unknown, lsn?: number): unknown {
  const code = (error as { code?: unknown }).code;
  if (code !== 'LEVEL_CORRUPTION' && code !== 'LEVEL_IO_ERROR') return error;
  const what = lsn === undefined ? 'its records' : `its records up to LSN ${lsn}`;
  return new CorruptRecordError(lsn ?? 1, `the store at ${path} is damaged: LevelDB cannot read ${what} (${(error as Error).message}). ${REMEDY}`);
}
