/**
 * Reads a backup file as it goes, never whole: its header, then its records in batches, each
 * record's length, CRC and LSN checked, then the trailer's digest of everything before it. Every
 * refusal is a {@link BackupFileError} naming the file and, at a record, its LSN.
 */
import { createHash, type Hash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { CorruptRecordError, defaultLogLimits, indexRecord, UnsupportedRecordKindError, type EncodedRecord } from '@kiln/core';
import { BackupFileError } from './backup-file-error.js';
import { BACKUP_FORMAT_VERSION, BACKUP_MAGIC, DIGEST_BYTES, HEADER_BYTES_MAX, headerFromJson, RECORD_HEADER_BYTES, TRAILER_BYTES, TRAILER_MAGIC, type BackupHeader } from './backup-format.js';

/** Bytes read from the file at a time. */
const CHUNK_BYTES = 1024 * 1024;

/** A file's bytes in order, read a chunk at a time. */
class FileBytes {
  private buffer = Buffer.alloc(0);
  private offset = 0;
  private ended = false;

  constructor(private readonly handle: FileHandle) {}

  /** The next `count` bytes, or fewer where the file ends. The bytes stay valid: the buffer is never written again. */
  async take(count: number): Promise<Buffer> {
    while (this.buffer.length - this.offset < count && !this.ended) await this.fill();
    const end = Math.min(this.offset + count, this.buffer.length);
    const bytes = this.buffer.subarray(this.offset, end);
    this.offset = end;
    return bytes;
  }

  private async fill(): Promise<void> {
    const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
    const { bytesRead } = await this.handle.read(chunk, 0, CHUNK_BYTES, null);
    if (bytesRead === 0) {
      this.ended = true;
      return;
    }
    this.buffer = Buffer.concat([this.buffer.subarray(this.offset), chunk.subarray(0, bytesRead)]);
    this.offset = 0;
  }
}

/** An open backup file: its checked header, and its records to read once. */
export interface BackupFile {
  readonly header: BackupHeader;
  /** The records in LSN order, in batches that fit one store write; then checks the trailer. */
  batches(): AsyncGenerator<EncodedRecord[]>;
  close(): Promise<void>;
}

/** Opens `path` and checks its header. @throws BackupFileError */
export async function openBackup(path: string): Promise<BackupFile> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw new BackupFileError(path, undefined, `cannot be read (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`);
  }
  try {
    const bytes = new FileBytes(handle);
    const hash = createHash('sha256');
    const header = await readHeader(path, bytes, hash);
    return { header, batches: () => readBatches(path, bytes, hash, header), close: () => handle.close() };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

async function readHeader(path: string, bytes: FileBytes, hash: Hash): Promise<BackupHeader> {
  const fixed = await bytes.take(16);
  if (fixed.length < 16 || !fixed.subarray(0, 8).equals(BACKUP_MAGIC)) throw new BackupFileError(path, undefined, 'is not a Kiln backup (no KILNBKUP header)');
  const version = fixed.readUInt32LE(8);
  if (version !== BACKUP_FORMAT_VERSION) throw new BackupFileError(path, undefined, `is a backup of format version ${version}; this Kiln reads version ${BACKUP_FORMAT_VERSION}`);
  const length = fixed.readUInt32LE(12);
  if (length > HEADER_BYTES_MAX) throw new BackupFileError(path, undefined, `header length ${length} is over ${HEADER_BYTES_MAX} bytes: the file is damaged`);
  const json = await bytes.take(length);
  if (json.length < length) throw new BackupFileError(path, undefined, 'is cut short inside its header');
  const header = headerFromJson(json.toString('utf8'));
  if (typeof header === 'string') throw new BackupFileError(path, undefined, `${header}: the file is damaged`);
  hash.update(fixed).update(json);
  return header;
}

async function* readBatches(path: string, bytes: FileBytes, hash: Hash, header: BackupHeader): AsyncGenerator<EncodedRecord[]> {
  const { groupCommitRecordsMax, groupCommitBytesMax } = defaultLogLimits;
  let batch: EncodedRecord[] = [];
  let batchBytes = 0;
  for (let lsn = header.firstLsn; lsn <= header.lastLsn; lsn++) {
    const record = await readRecord(path, bytes, lsn);
    hash.update(record.bytes);
    if (batch.length === groupCommitRecordsMax || batchBytes + record.bytes.length > groupCommitBytesMax) {
      yield batch;
      batch = [];
      batchBytes = 0;
    }
    batch.push(record);
    batchBytes += record.bytes.length;
  }
  // Before the last batch: whoever writes the batches learns of a bad trailer before holding every record.
  await checkTrailer(path, bytes, hash, header.lastLsn);
  if (batch.length > 0) yield batch;
}

async function readRecord(path: string, bytes: FileBytes, lsn: number): Promise<EncodedRecord> {
  const head = await bytes.take(RECORD_HEADER_BYTES);
  if (head.length < RECORD_HEADER_BYTES) throw new BackupFileError(path, lsn, 'the file is cut short: the record is missing');
  const bodyBytes = head.readUInt32LE(0);
  if (bodyBytes > defaultLogLimits.groupCommitBytesMax) throw new BackupFileError(path, lsn, `the record is damaged: its length says ${bodyBytes} bytes`);
  const body = await bytes.take(bodyBytes);
  if (body.length < bodyBytes) throw new BackupFileError(path, lsn, 'the file is cut short inside the record');
  try {
    return indexRecord(Buffer.concat([head, body]), lsn);
  } catch (error) {
    if (error instanceof CorruptRecordError) throw new BackupFileError(path, lsn, `the record is damaged: ${error.detail}`);
    if (error instanceof UnsupportedRecordKindError) throw new BackupFileError(path, lsn, error.message);
    throw error;
  }
}

async function checkTrailer(path: string, bytes: FileBytes, hash: Hash, lastLsn: number): Promise<void> {
  const trailer = await bytes.take(TRAILER_BYTES);
  if (trailer.length < TRAILER_BYTES || !trailer.subarray(0, TRAILER_MAGIC.length).equals(TRAILER_MAGIC)) {
    throw new BackupFileError(path, lastLsn, 'the file is cut short after its last record: it has no trailer (a backup that did not finish?)');
  }
  if (!trailer.subarray(TRAILER_MAGIC.length).equals(hash.digest().subarray(0, DIGEST_BYTES))) {
    throw new BackupFileError(path, undefined, "the trailer's SHA-256 does not match the file: the header or a record's length was damaged");
  }
  if ((await bytes.take(1)).length > 0) throw new BackupFileError(path, undefined, 'holds bytes after its trailer');
}
