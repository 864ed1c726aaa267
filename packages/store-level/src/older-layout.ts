/**
 * Stores written before chunks keep each record under its own `L` key and the streams it wrote
 * as JSON under its own `E` key (see `keys.ts`). Their records lie below every chunk; these read
 * them and remove them, and new records never take this layout.
 */
import { decodeRecordStreams, indexKey, lsnOfKey, recordKey, recordStreamsKey } from './keys.js';
import { LSN_MAX, type Db, type Op } from './level-db.js';
import type { ReadPage } from './read-page.js';

/** Reads records of a store written before chunks, one value a record, into `page`. */
export async function readOlderRecords(db: Db, fromLsn: number, page: ReadPage): Promise<void> {
  const forward = page.direction === 'forward';
  const range = forward ? { gte: recordKey(fromLsn), lte: recordKey(LSN_MAX) } : { gte: recordKey(0), lte: recordKey(Math.min(fromLsn, LSN_MAX)) };
  const iterator = db.iterator({ ...range, reverse: !forward, limit: page.countLeft, highWaterMarkBytes: page.highWaterMarkBytes });
  try {
    while (!page.full) {
      const entries = await iterator.nextv(page.countLeft);
      if (entries.length === 0) break;
      for (const [key, value] of entries) if (!page.full) page.add({ lsn: lsnOfKey(key), bytes: value });
    }
  } finally {
    await iterator.close();
  }
}

/**
 * Removes up to `batchRecordsMax` of the older records after `afterLsn`, the last first, with
 * their index entries, in one batch.
 * @returns whether more may remain
 */
export async function truncateOlderRecordsOnce(db: Db, afterLsn: number, batchRecordsMax: number, write: (ops: Op[]) => Promise<void>): Promise<boolean> {
  const tail = await db.iterator({ gt: recordStreamsKey(afterLsn), lte: recordStreamsKey(LSN_MAX), reverse: true, limit: batchRecordsMax }).all();
  if (tail.length === 0) return false;
  const ops: Op[] = [];
  for (const [key, value] of tail) {
    const lsn = lsnOfKey(key);
    ops.push({ type: 'del', key: recordKey(lsn) }, { type: 'del', key });
    for (const [stream, firstVersion] of decodeRecordStreams(value)) ops.push({ type: 'del', key: indexKey(stream, firstVersion) });
  }
  await write(ops);
  return tail.length === batchRecordsMax;
}
