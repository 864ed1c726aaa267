/**
 * `backupPage`, the operation `kiln backup` reads a stripe's log through: a page of its committed
 * records, as stored (each keeps its length and CRC), with what a backup file's header says of
 * the log they come from. Pages are bounded like any read (`readCountMax`, `readBytesMax`), so a
 * backup of any size holds one page at a time on the server.
 */
import { InvalidArgumentError } from '../errors.js';
import { ReplyReader } from './replies.js';

/** Which records to send: from `fromLsn`, through `throughLsn` (0: through the commit index now). */
export interface BackupPageRequest {
  fromLsn: number;
  throughLsn: number;
}

/** A page of committed records, and the log they belong to. */
export interface BackupPage {
  clusterId: string;
  /** The stripe's name (a lone server's is its own name). */
  stripe: string;
  /** The stripe's epoch (its first record's commit time; 0 while the log is empty). */
  stripeEpoch: number;
  /** The last LSN this page's range may reach: the request's, or the commit index it was read at when it asked for 0. */
  throughLsn: number;
  /** Whole stored records in LSN order from `fromLsn`; empty once past `throughLsn`. */
  records: Uint8Array[];
}

export const backupPageRequestToWire = (r: BackupPageRequest): unknown[] => [r.fromLsn, r.throughLsn];

/** @throws InvalidArgumentError naming the field that breaks a rule */
export function backupPageRequestFromWire(value: unknown): BackupPageRequest {
  if (!Array.isArray(value) || value.length !== 2) throw new InvalidArgumentError('backupPage', 'must be [fromLsn, throughLsn]');
  const [fromLsn, throughLsn] = value as [unknown, unknown];
  if (typeof fromLsn !== 'number' || !Number.isSafeInteger(fromLsn) || fromLsn < 1) throw new InvalidArgumentError('fromLsn', 'must be a positive integer');
  if (typeof throughLsn !== 'number' || !Number.isSafeInteger(throughLsn) || throughLsn < 0) throw new InvalidArgumentError('throughLsn', 'must be a non-negative integer');
  return { fromLsn, throughLsn };
}

export const backupPageToWire = (p: BackupPage): unknown[] => [p.clusterId, p.stripe, p.stripeEpoch, p.throughLsn, p.records];

export function backupPageFromWire(value: unknown): BackupPage {
  const check = new ReplyReader('backupPage');
  const [clusterId, stripe, stripeEpoch, throughLsn, records] = check.tuple(value, 'page', 5);
  return {
    clusterId: check.string(clusterId, 'clusterId'),
    stripe: check.string(stripe, 'stripe'),
    stripeEpoch: check.count(stripeEpoch, 'stripeEpoch'),
    throughLsn: check.count(throughLsn, 'throughLsn'),
    records: check.array(records, 'records').map((r, i) => check.bytes(r, `records[${i}]`)),
  };
}
