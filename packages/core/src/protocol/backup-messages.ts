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
  /**
   * Read from the connected server as a mirror of its stripe's in-sync set, not from the active
   * (`kiln backup --from-mirror`): `throughLsn` then names an end the active committed, and the
   * mirror answers once it knows its own log committed through it.
   * @default false
   */
  fromMirror?: boolean;
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

// A read from the active keeps the two-element form servers before `fromMirror` take.
export const backupPageRequestToWire = (r: BackupPageRequest): unknown[] => (r.fromMirror ? [r.fromLsn, r.throughLsn, true] : [r.fromLsn, r.throughLsn]);

/** @throws InvalidArgumentError naming the field that breaks a rule */
export function backupPageRequestFromWire(value: unknown): BackupPageRequest {
  if (!Array.isArray(value) || (value.length !== 2 && value.length !== 3)) throw new InvalidArgumentError('backupPage', 'must be [fromLsn, throughLsn] or [fromLsn, throughLsn, fromMirror]');
  const [fromLsn, throughLsn, fromMirror = false] = value as [unknown, unknown, unknown];
  if (typeof fromLsn !== 'number' || !Number.isSafeInteger(fromLsn) || fromLsn < 1) throw new InvalidArgumentError('fromLsn', 'must be a positive integer');
  if (typeof throughLsn !== 'number' || !Number.isSafeInteger(throughLsn) || throughLsn < 0) throw new InvalidArgumentError('throughLsn', 'must be a non-negative integer');
  if (typeof fromMirror !== 'boolean') throw new InvalidArgumentError('fromMirror', 'must be a boolean');
  if (fromMirror && throughLsn === 0) throw new InvalidArgumentError('throughLsn', "must name the range's end for a read from a mirror: the end of the committed log is the active's to say");
  return fromMirror ? { fromLsn, throughLsn, fromMirror } : { fromLsn, throughLsn };
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
