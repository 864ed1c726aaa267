/**
 * A server's digest of its own stored records in an LSN range, for `kiln verify`: the range is
 * read a page at a time through the checked layer, which checks every record's CRC, and the
 * stored bytes are hashed as they come, so memory stays at one page whatever the range. Between
 * pages the scan yields to the event loop, so appends and reads wait at most one page for it.
 */
import { CorruptRecordError } from '../errors.js';
import type { LogLimits } from '../limits.js';
import type { RangeDigest, RangeDigestRequest } from '../protocol/range-digest.js';
import { Sha256 } from '../sha256.js';
import type { CheckedStore } from '../store/checked-store.js';
import type { StoredRecord } from '../store/store.js';
import type { Timers } from '../time.js';

/** Hashes records `fromLsn..throughLsn` (to the log's end at most), stopping before the first damaged one. */
export async function rangeDigest(store: CheckedStore, limits: Pick<LogLimits, 'scanYieldEvery' | 'readBytesMax'>, timers: Timers, request: RangeDigestRequest): Promise<RangeDigest> {
  const { fromLsn } = request;
  const end = Math.min(request.throughLsn, store.lastPosition.lsn);
  const hash = new Sha256();
  let next = fromLsn;
  let damagedLsn: number | null = null;
  while (next <= end && damagedLsn === null) {
    const maxCount = Math.min(limits.scanYieldEvery, end - next + 1);
    const page = await readPage(store, next, maxCount, limits.readBytesMax);
    for (const record of page.records) hash.update(record.bytes);
    if (page.records.length === 0 && page.damagedLsn === null) break; // the log was cut short under the scan
    next += page.records.length;
    damagedLsn = page.damagedLsn;
    if (next <= end && damagedLsn === null) await new Promise<void>((resolve) => timers.defer(resolve));
  }
  return { fromLsn, throughLsn: next - 1, digest: hash.digest(), damagedLsn };
}

/**
 * One page from `fromLsn`; when a record in it does not check, the whole records before it and the
 * damaged one's LSN, found by reading the page again a record at a time.
 */
async function readPage(store: CheckedStore, fromLsn: number, maxCount: number, maxBytes: number): Promise<{ records: StoredRecord[]; damagedLsn: number | null }> {
  try {
    return { records: await store.read(fromLsn, { direction: 'forward', maxCount, maxBytes }), damagedLsn: null };
  } catch (error) {
    if (!(error instanceof CorruptRecordError)) throw error;
  }
  const records: StoredRecord[] = [];
  for (let lsn = fromLsn; lsn < fromLsn + maxCount; lsn++) {
    try {
      const [record] = await store.read(lsn, { direction: 'forward', maxCount: 1, maxBytes });
      if (!record) break;
      records.push(record);
    } catch (error) {
      if (!(error instanceof CorruptRecordError)) throw error;
      return { records, damagedLsn: lsn };
    }
  }
  return { records, damagedLsn: null };
}
