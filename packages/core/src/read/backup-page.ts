/** The server's side of `backupPage`: one bounded page of the committed log, as stored. */
import type { LogLimits } from '../limits.js';
import type { BackupPage, BackupPageRequest } from '../protocol/backup-messages.js';
import type { CheckedStore } from '../store/checked-store.js';

/** What a backup's header says of the log, besides its records. */
export interface BackupLogFacts {
  clusterId: string;
  stripe: string;
  /** The stripe's epoch, read once its first record is committed. */
  epoch: () => Promise<number>;
}

/**
 * Reads the records from `request.fromLsn` through the request's bound, never past `commitIndex`:
 * one store read of at most `readCountMax` records and about `readBytesMax` bytes. The checked
 * store verifies each record's CRC on the way, so a damaged record fails the page with
 * `CorruptRecordError` instead of going into a backup.
 */
export async function readBackupPage(store: CheckedStore, limits: Pick<LogLimits, 'readCountMax' | 'readBytesMax'>, log: BackupLogFacts, request: BackupPageRequest, commitIndex: number): Promise<BackupPage> {
  const throughLsn = request.throughLsn === 0 ? commitIndex : Math.min(request.throughLsn, commitIndex);
  const stored = request.fromLsn > throughLsn ? [] : await store.read(request.fromLsn, { direction: 'forward', maxCount: limits.readCountMax, maxBytes: limits.readBytesMax });
  const records = stored.filter((r) => r.lsn <= throughLsn).map((r) => r.bytes);
  return { clusterId: log.clusterId, stripe: log.stripe, stripeEpoch: await log.epoch(), throughLsn, records };
}
