/**
 * `kiln backup`: copies a stripe's committed log, as stored, from its active (or, with
 * `--from-mirror`, from an in-sync mirror: mirror-source.ts) into a backup file (see
 * backup-format.ts), page by page. The range is fixed when it starts: from `--from-lsn` (1: a
 * full backup) through the active's commit index then, so writers go on appending meanwhile and
 * the file holds exactly that range. It is written to FILE.partial and renamed only once whole and
 * synced, so a backup stopped on the way never leaves a file that looks whole.
 */
import { createHash } from 'node:crypto';
import { access, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ConfigError, indexRecord, InvalidArgumentError } from '@kiln/core';
import { connect, type BackupPage } from '@kiln/core/client';
import type { Dial } from '../transports.js';
import { BackupFileError } from './backup-file-error.js';
import { encodeHeader, TRAILER_MAGIC, type BackupHeader } from './backup-format.js';
import { openMirrorSource } from './mirror-source.js';
import { Pacer } from './pacer.js';

export interface BackupOptions {
  /** The client addresses of the stripe's servers (or of one lone server): the client follows the active. */
  urls: string[];
  dial: Dial;
  /** The backup file to write; never overwritten. */
  out: string;
  /** The first LSN to copy: 1 for a full backup, the last backup's last LSN + 1 for an incremental one. */
  fromLsn: number;
  /**
   * Read the records from an in-sync mirror rather than the active (`--from-mirror [NAME]`): the
   * one named, or any when `name` is undefined. The active still says where the range ends.
   */
  fromMirror?: { name: string | undefined };
  /** At most this many bytes a second (`--max-rate`), so that the server it reads from keeps time for its clients. */
  maxBytesPerSecond?: number;
}

/** Past the end of any log: a page from here holds no record, only the log's facts and its committed end. */
const PAST_ANY_LOG = Number.MAX_SAFE_INTEGER;

/** Where the pages come from: the server the header names, and the pages after the first. */
interface PageSource {
  server: string;
  page(fromLsn: number, throughLsn: number): Promise<BackupPage>;
}

const PROGRESS_EVERY_MS = 1000;

/** Writes the backup; `print` gets the summary, `progress` a line a second while it runs. */
export async function runBackup(options: BackupOptions, print: (line: string) => void, progress: (line: string) => void): Promise<void> {
  const { out, fromLsn } = options;
  const partial = `${out}.partial`;
  if (await exists(out)) throw new ConfigError('--out', `${out} exists: a backup never overwrites a file`);
  const client = await connect(options.urls, { ...options.dial, reconnectWindowMs: 10_000, requestTimeoutMs: 30_000 });
  try {
    const startedMs = Date.now();
    // The active's commit index, once: the range. From a mirror, the active serves no record.
    const first = await client.backupPage({ fromLsn: options.fromMirror ? PAST_ANY_LOG : fromLsn, throughLsn: 0 });
    const lastLsn = first.throughLsn;
    if (fromLsn > lastLsn + 1) throw new InvalidArgumentError('--from-lsn', `${fromLsn} is past the end of the committed log, LSN ${lastLsn}`);
    const mirror = options.fromMirror && (await openMirrorSource(client, first.stripe, options.fromMirror.name, options.dial, partial));
    const source: PageSource = mirror || { server: (await client.serverStatus()).name, page: (from, through) => client.backupPage({ fromLsn: from, throughLsn: through }) };
    const header: BackupHeader = { clusterId: first.clusterId, stripe: first.stripe, stripeEpoch: first.stripeEpoch, firstLsn: fromLsn, lastLsn, server: source.server, createdAtMs: startedMs };
    const pacer = options.maxBytesPerSecond === undefined ? undefined : new Pacer(options.maxBytesPerSecond);
    const { bytes, written } = await writeFile(source, header, mirror ? undefined : first, partial, progress, pacer).finally(() => mirror && mirror.close());
    // Not before the file is whole: a backup's name stands for a file that is.
    if (!(await stillNames(partial, written))) throw new BackupFileError(partial, undefined, `another backup of ${out} started while this one ran, and writes ${partial} now: this one is not taken`);
    if (await exists(out)) throw new ConfigError('--out', `${out} appeared while the backup ran; the backup is left in ${partial}`);
    await rename(partial, out);
    await syncDirectory(dirname(out));
    const seconds = ((Date.now() - startedMs) / 1000).toFixed(1);
    print(`backup ${out}: LSN ${fromLsn} through ${lastLsn} of stripe ${header.stripe} (cluster ${header.clusterId}, epoch ${header.stripeEpoch}, from ${header.server}): ${lastLsn - fromLsn + 1} records, ${bytes} bytes in ${seconds} s`);
  } finally {
    await client.close();
  }
}

/** Which file a name stands for: two backups of one FILE each write a FILE.partial of their own. */
interface FileIdentity {
  dev: bigint;
  ino: bigint;
}

/**
 * Writes the whole file to `partial`, synced; returns its size, and which file it is. A failure removes it (a killed process leaves it).
 * @param first the first page, when the source already sent it
 */
async function writeFile(source: PageSource, header: BackupHeader, first: BackupPage | undefined, partial: string, progress: (line: string) => void, pacer: Pacer | undefined): Promise<{ bytes: number; written: FileIdentity }> {
  const file = await createPartial(partial);
  const written = await file.stat({ bigint: true });
  try {
    const hash = createHash('sha256');
    const headerBytes = encodeHeader(header);
    let bytes = await append(file, hash, [headerBytes]);
    progress(`backup: writing ${partial}: LSN ${header.firstLsn} through ${header.lastLsn} of stripe ${header.stripe}`);
    let progressAtMs = Date.now();
    let page = first;
    for (let next = header.firstLsn; next <= header.lastLsn; ) {
      page ??= await source.page(next, header.lastLsn);
      if (page.clusterId !== header.clusterId || page.stripe !== header.stripe || page.stripeEpoch !== header.stripeEpoch) {
        throw new BackupFileError(partial, next, `the stripe's log changed during the backup (now cluster ${page.clusterId}, stripe ${page.stripe}, epoch ${page.stripeEpoch})`);
      }
      if (page.records.length === 0) throw new BackupFileError(partial, next, `the committed log of ${header.stripe} now ends at LSN ${page.throughLsn}, before LSN ${header.lastLsn}: it lost records since the backup started`);
      // Each record checked as it arrives: a damaged one never goes into a backup.
      for (const record of page.records) indexRecord(record, next++);
      const pageBytes = await append(file, hash, page.records);
      bytes += pageBytes;
      await pacer?.copied(pageBytes);
      if (Date.now() - progressAtMs >= PROGRESS_EVERY_MS) {
        progressAtMs = Date.now();
        progress(`backup: LSN ${next - 1} of ${header.lastLsn} (${Math.floor(((next - header.firstLsn) / (header.lastLsn - header.firstLsn + 1)) * 100)}%), ${(bytes / 1024 / 1024).toFixed(1)} MiB`);
      }
      page = undefined;
    }
    bytes += await append(file, null, [TRAILER_MAGIC, hash.digest()]);
    await file.sync();
    await file.close();
    return { bytes, written };
  } catch (error) {
    await file.close().catch(() => {});
    if (await stillNames(partial, written)) await rm(partial, { force: true });
    throw isFileSystemError(error) ? new BackupFileError(partial, undefined, `could not be written (${error.code}): the backup is not taken`, { cause: error }) : error;
  }
}

/**
 * Creates `partial` afresh, never writing into the file of the same name: that one was left by a
 * killed backup, or another backup of the same FILE writes it, which then finds its name taken
 * and fails rather than publish a file the two wrote into at once.
 * @throws ConfigError naming `--out` when it cannot be created (no such directory, not writable)
 */
async function createPartial(partial: string): Promise<FileHandle> {
  try {
    await rm(partial, { force: true });
    return await open(partial, 'wx');
  } catch (error) {
    if (!isFileSystemError(error)) throw error;
    const why =
      error.code === 'ENOENT' ? 'its directory does not exist' : error.code === 'ENOTDIR' ? 'a part of its path is not a directory' : error.code === 'EEXIST' ? 'another backup of it started at the same time' : `the file system refused (${error.code})`;
    throw new ConfigError('--out', `cannot create ${partial}: ${why}`);
  }
}

/** Whether `path` still names the file `written` (see {@link createPartial}). */
async function stillNames(path: string, written: FileIdentity): Promise<boolean> {
  return stat(path, { bigint: true }).then(
    (now) => now.dev === written.dev && now.ino === written.ino,
    () => false,
  );
}

/** An error of the file system (ENOENT, EACCES, ENOSPC...), which the user can fix, rather than a bug. */
function isFileSystemError(error: unknown): error is NodeJS.ErrnoException & { code: string } {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).code === 'string' && typeof (error as NodeJS.ErrnoException).syscall === 'string';
}

/** Writes `chunks` at the end of `file`, adding them to `hash`; returns their bytes. */
async function append(file: FileHandle, hash: ReturnType<typeof createHash> | null, chunks: Uint8Array[]): Promise<number> {
  const joined = Buffer.concat(chunks);
  hash?.update(joined);
  await file.write(joined);
  return joined.length;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** Makes a rename durable: on Linux, by syncing the directory that holds the name. */
export async function syncDirectory(path: string): Promise<void> {
  const directory = await open(path, 'r');
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}
