/**
 * The check at open that the newest records join up. LevelDB replays its log file at open, and
 * where a block of it is damaged (a flipped bit, a sector a power cut left half written) it skips
 * that block and keeps what follows: its paranoid checks, which would refuse instead, are off, and
 * `level` offers no way to turn them on. A whole group commit then vanishes from the middle of the
 * log, and the store would serve a log with a hole. Only batches still in a log file can vanish so:
 * the newest ones, at most two write buffers' worth (the memtable and the one being written out),
 * each overrun by at most one batch. Walking back over that many bytes of records finds the hole.
 */
import { CorruptRecordError, defaultLogLimits, STORE_WRITE_BUFFER_BYTES } from '@kiln/core';
import { chunkKey, lsnOfKey } from './keys.js';
import { LSN_MAX, type Db } from './level-db.js';
import { chunkRecordCount } from './record-chunks.js';

/** Bytes of records from the tail that cover every batch LevelDB may still replay from a log file. */
export const RECENT_RECORD_BYTES = 2 * (STORE_WRITE_BUFFER_BYTES + defaultLogLimits.groupCommitBytesMax);

/**
 * Walks back from the last record over {@link RECENT_RECORD_BYTES}, down to `lowestLsn`, and
 * checks that each chunk ends just before the next one starts.
 * @throws CorruptRecordError at the first LSN missing, naming the directory and what to do; nothing is changed
 */
export async function checkRecentRecordsJoin(db: Db, path: string, lowestLsn: number): Promise<void> {
  const iterator = db.iterator({ gte: chunkKey(lowestLsn), lte: chunkKey(LSN_MAX), reverse: true });
  try {
    let nextFirst: number | undefined;
    let bytes = 0;
    for (let entry = await iterator.next(); entry !== undefined && bytes < RECENT_RECORD_BYTES; entry = await iterator.next()) {
      const [key, value] = entry;
      const first = lsnOfKey(key);
      const last = first + chunkRecordCount(value) - 1;
      if (nextFirst !== undefined && last + 1 !== nextFirst) {
        throw new CorruptRecordError(
          last + 1,
          `the store at ${path} is damaged: its records run through LSN ${last}, then go on at LSN ${nextFirst} (LevelDB skips a damaged block of its log file). ` +
            'Restore the directory from a backup, or rebuild the server as a new mirror of its group: kiln admin remove-mirror, empty the directory, kiln start --join, kiln admin add-mirror',
        );
      }
      nextFirst = first;
      bytes += value.length;
    }
  } finally {
    await iterator.close();
  }
}
