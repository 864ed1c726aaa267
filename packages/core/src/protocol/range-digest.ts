/**
 * `rangeDigest`: what an operator's consistency check (`kiln verify`) asks each server of a
 * stripe, active or mirror: a digest of its own stored records in an LSN range, each record's CRC
 * checked on the way. Equal digests of the same range mean byte-identical records there.
 */
import { InvalidArgumentError } from '../errors.js';
import { RANGE_DIGEST_RECORDS_MAX } from '../limits.js';
import { ReplyReader } from './replies.js';

/** The records `fromLsn..throughLsn`, both included. */
export interface RangeDigestRequest {
  fromLsn: number;
  throughLsn: number;
}

/** A server's digest of its records in a range. */
export interface RangeDigest {
  fromLsn: number;
  /**
   * The last record the digest covers: the range's end, or less where the server's log ends or a
   * record is damaged (then the one before it). `fromLsn - 1` when it covers none.
   */
  throughLsn: number;
  /** SHA-256 of the stored bytes of records `fromLsn..throughLsn`, one after the other (32 bytes). */
  digest: Uint8Array;
  /** The first record of the range that fails its CRC (or that the store cannot read); null when none does. */
  damagedLsn: number | null;
}

const DIGEST_BYTES = 32;

export const rangeDigestRequestToWire = (r: RangeDigestRequest): unknown[] => [r.fromLsn, r.throughLsn];

/** @throws InvalidArgumentError naming the field when the range is not one of 1 to {@link RANGE_DIGEST_RECORDS_MAX} records from LSN 1 up */
export function rangeDigestRequestFromWire(value: unknown): RangeDigestRequest {
  if (!Array.isArray(value) || value.length !== 2) throw new InvalidArgumentError('range', 'must be an array of 2 items');
  const [fromLsn, throughLsn] = value as [unknown, unknown];
  if (typeof fromLsn !== 'number' || !Number.isSafeInteger(fromLsn) || fromLsn < 1) throw new InvalidArgumentError('fromLsn', 'must be a positive integer');
  if (typeof throughLsn !== 'number' || !Number.isSafeInteger(throughLsn) || throughLsn < fromLsn || throughLsn - fromLsn >= RANGE_DIGEST_RECORDS_MAX) {
    throw new InvalidArgumentError('throughLsn', `must be from fromLsn to fromLsn + ${RANGE_DIGEST_RECORDS_MAX - 1} (at most ${RANGE_DIGEST_RECORDS_MAX} records a request)`);
  }
  return { fromLsn, throughLsn };
}

export const rangeDigestToWire = (d: RangeDigest): unknown[] => [d.fromLsn, d.throughLsn, d.digest, d.damagedLsn];

export function rangeDigestFromWire(value: unknown): RangeDigest {
  const check = new ReplyReader('rangeDigest');
  const [fromLsn, throughLsn, digest, damagedLsn] = check.tuple(value, 'digest', 4);
  const from = check.count(fromLsn, 'fromLsn');
  const through = check.count(throughLsn, 'throughLsn');
  if (through < from - 1) check.fail('throughLsn', 'must not be below fromLsn - 1');
  const bytes = check.bytes(digest, 'digest');
  if (bytes.length !== DIGEST_BYTES) check.fail('digest', `must be ${DIGEST_BYTES} bytes`);
  const damaged = damagedLsn === null ? null : check.count(damagedLsn, 'damagedLsn');
  return { fromLsn: from, throughLsn: through, digest: bytes, damagedLsn: damaged };
}
