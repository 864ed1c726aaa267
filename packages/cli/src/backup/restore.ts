/**
 * `kiln restore`: writes the records of a full backup and the incremental backups after it into a
 * new data directory, which a server then starts on (alone, or as a new mirror of a group: see
 * docs/operations.md). Every file's header, records and trailer are checked and the files must
 * join up (one stripe's log, LSNs contiguous). The store is built in DIR.partial and renamed
 * onto DIR once whole, so a refused file or a stopped restore leaves DIR as it was.
 */
import { mkdir, readdir, rename, rm, rmdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { checkedStore, ConfigError, defaultLogLimits, LogOrderError, type CheckedStore } from '@kiln/core';
import { levelStore } from '@kiln/store-level';
import { BackupFileError } from './backup-file-error.js';
import type { BackupHeader } from './backup-format.js';
import { openBackup } from './backup-reader.js';
import { syncDirectory } from './backup-writer.js';

export interface RestoreOptions {
  /** A full backup first, then incremental ones in order. */
  files: string[];
  /** The data directory to create: missing or empty. */
  dataDir: string;
}

const PROGRESS_EVERY_MS = 1000;

export async function runRestore(options: RestoreOptions, print: (line: string) => void, progress: (line: string) => void): Promise<void> {
  const dataDir = resolve(options.dataDir);
  const staging = `${dataDir}.partial`;
  const existing = await entriesOf(dataDir);
  if (existing !== undefined && existing.length > 0) throw new ConfigError('--data-dir', `${options.dataDir} is not empty: restore only into a new or empty directory`);
  if ((await entriesOf(staging)) !== undefined) throw new ConfigError('--data-dir', `${staging} exists: an earlier restore stopped there; remove it first`);
  await mkdir(dirname(dataDir), { recursive: true });
  const store = checkedStore(levelStore({ path: staging }), defaultLogLimits);
  let last: BackupHeader | undefined;
  try {
    await store.open();
    for (const file of options.files) last = await restoreFile(store, file, last, progress);
    await store.close();
  } catch (error) {
    if (store.isOpen) await store.close();
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
  if (existing !== undefined) await rmdir(dataDir);
  await rename(staging, dataDir);
  await syncDirectory(dirname(dataDir));
  print(`restored ${options.dataDir}: LSN 1 through ${last!.lastLsn} of stripe ${last!.stripe} (cluster ${last!.clusterId}, epoch ${last!.stripeEpoch}) from ${options.files.length} file(s)`);
}

/** Checks that `file` follows `previous`, and appends its records. @returns its header */
async function restoreFile(store: CheckedStore, file: string, previous: BackupHeader | undefined, progress: (line: string) => void): Promise<BackupHeader> {
  const backup = await openBackup(file);
  try {
    const { header } = backup;
    checkJoin(file, header, previous);
    let progressAtMs = Date.now();
    for await (const batch of backup.batches()) {
      try {
        await store.append(batch);
      } catch (error) {
        if (error instanceof LogOrderError) throw new BackupFileError(file, batch[0]!.lsn, `the records are out of order: ${error.message}`);
        throw error;
      }
      if (Date.now() - progressAtMs >= PROGRESS_EVERY_MS) {
        progressAtMs = Date.now();
        progress(`restore: ${file}: LSN ${batch[batch.length - 1]!.lsn} of ${header.lastLsn}`);
      }
    }
    return header;
  } finally {
    await backup.close();
  }
}

/** @throws BackupFileError when `header` is not the next part of the log the files before it hold */
function checkJoin(file: string, header: BackupHeader, previous: BackupHeader | undefined): void {
  if (previous === undefined) {
    if (header.firstLsn !== 1) throw new BackupFileError(file, header.firstLsn, 'is an incremental backup: a restore starts from a full backup (one from LSN 1)');
    return;
  }
  const same = header.clusterId === previous.clusterId && header.stripe === previous.stripe && (header.stripeEpoch === previous.stripeEpoch || previous.lastLsn === 0);
  if (!same) {
    throw new BackupFileError(file, undefined, `is a backup of cluster ${header.clusterId}, stripe ${header.stripe}, epoch ${header.stripeEpoch}; the files before it are of cluster ${previous.clusterId}, stripe ${previous.stripe}, epoch ${previous.stripeEpoch}`);
  }
  if (header.firstLsn !== previous.lastLsn + 1) {
    const why = header.firstLsn > previous.lastLsn + 1 ? `a backup of LSN ${previous.lastLsn + 1} through ${header.firstLsn - 1} is missing between them` : 'they overlap';
    throw new BackupFileError(file, header.firstLsn, `starts at LSN ${header.firstLsn}, but the files before it end at LSN ${previous.lastLsn}: ${why}`);
  }
}

/** The names in directory `path`, or undefined when there is none. */
async function entriesOf(path: string): Promise<string[] | undefined> {
  try {
    return await readdir(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
