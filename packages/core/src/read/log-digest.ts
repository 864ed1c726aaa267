/** A fingerprint of a server's own log, for comparing logs across servers (tests, operators). */
import { crc32c } from '../crc32c.js';
import type { LogLimits } from '../limits.js';
import type { LogDigest } from '../protocol/messages.js';
import type { CheckedStore } from '../store/checked-store.js';

/** Folds the CRC of every record through `throughLsn` (or the log's end) into one number. */
export async function logDigest(store: CheckedStore, limits: Pick<LogLimits, 'readCountMax' | 'readBytesMax'>, throughLsn: number): Promise<LogDigest> {
  const through = Math.min(throughLsn, store.lastPosition.lsn);
  const pair = new Uint8Array(8);
  const view = new DataView(pair.buffer);
  let digest = 0;
  for (let lsn = 1; lsn <= through; ) {
    const records = await store.read(lsn, { direction: 'forward', maxCount: limits.readCountMax, maxBytes: limits.readBytesMax });
    if (records.length === 0) break;
    for (const record of records) {
      if (record.lsn > through) break;
      view.setUint32(0, digest, true);
      // A record's header holds the CRC of its body, which names its LSN and term.
      view.setUint32(4, new DataView(record.bytes.buffer, record.bytes.byteOffset, 8).getUint32(4, true), true);
      digest = crc32c(pair);
    }
    lsn = records[records.length - 1]!.lsn + 1;
  }
  return { throughLsn: through, digest };
}
