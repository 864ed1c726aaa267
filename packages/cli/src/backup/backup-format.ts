/**
 * The backup file, format version 1 (docs/operations.md, "Backup and restore"):
 *
 * ```
 * magic    8 bytes   "KILNBKUP"
 * version  u32le     1
 * length   u32le     bytes of the header that follows
 * header   JSON      { clusterId, stripe, stripeEpoch, firstLsn, lastLsn, server, createdAtMs }
 * records  lastLsn - firstLsn + 1 records as the log stores them, each [u32le body length][u32le CRC-32C][body]
 * trailer  8 bytes   "KILNEND1", then the SHA-256 of every byte before the trailer (32 bytes)
 * ```
 *
 * Records keep their own CRC, and each names its LSN inside its body; the trailer covers the
 * rest, so a flipped bit anywhere, a cut or a file whose trailer was never written is found.
 */
import { RECORD_HEADER_BYTES } from '@kiln/core';

export const BACKUP_MAGIC = Buffer.from('KILNBKUP', 'latin1');
export const TRAILER_MAGIC = Buffer.from('KILNEND1', 'latin1');
export const BACKUP_FORMAT_VERSION = 1;
export const DIGEST_BYTES = 32;
export const TRAILER_BYTES = TRAILER_MAGIC.length + DIGEST_BYTES;
/** A header is a few short fields; anything longer is not one. */
export const HEADER_BYTES_MAX = 64 * 1024;
export { RECORD_HEADER_BYTES };

/** What a backup file says of the log its records come from. */
export interface BackupHeader {
  clusterId: string;
  stripe: string;
  /** The stripe's epoch: which life of its log this is (0 for an empty log). */
  stripeEpoch: number;
  firstLsn: number;
  /** `firstLsn - 1` for a backup that holds no record (nothing new since the last one). */
  lastLsn: number;
  /** The server that served it. */
  server: string;
  createdAtMs: number;
}

/** The bytes that open a file: magic, version, header length and header. */
export function encodeHeader(header: BackupHeader): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const fixed = Buffer.alloc(16);
  BACKUP_MAGIC.copy(fixed, 0);
  fixed.writeUInt32LE(BACKUP_FORMAT_VERSION, 8);
  fixed.writeUInt32LE(json.length, 12);
  return Buffer.concat([fixed, json]);
}

/** The header's JSON, checked field by field; a string naming what is wrong otherwise. */
export function headerFromJson(text: string): BackupHeader | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'the header is not JSON';
  }
  const h = value as Record<string, unknown>;
  if (typeof h !== 'object' || h === null) return 'the header is not an object';
  for (const field of ['clusterId', 'stripe', 'server'] as const) if (typeof h[field] !== 'string') return `the header's ${field} is not a string`;
  for (const field of ['stripeEpoch', 'firstLsn', 'lastLsn', 'createdAtMs'] as const) {
    if (typeof h[field] !== 'number' || !Number.isSafeInteger(h[field]) || h[field] < 0) return `the header's ${field} is not a non-negative integer`;
  }
  const header = h as unknown as BackupHeader;
  if (header.firstLsn < 1 || header.lastLsn < header.firstLsn - 1) return `the header's LSNs ${header.firstLsn}..${header.lastLsn} are not a range`;
  return header;
}
