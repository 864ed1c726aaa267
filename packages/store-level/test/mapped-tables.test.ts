// LevelDB maps every table file it holds open, and each page a read touches counts in the
// process's resident memory while the table stays open: the level store bounds the tables open,
// so reading a store of many more tables maps no more than that, whatever the size of the data.
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { STORE_OPEN_FILES_MAX, STORE_TABLE_FILE_BYTES, type EncodedRecord } from '@kiln/core';
import { levelStore } from '@kiln/store-level';

/** Tables LevelDB may hold open: it keeps 10 of its open files for its own. */
const TABLES_OPEN_MAX = STORE_OPEN_FILES_MAX - 10;
/**
 * Tables past that bound while in use: LevelDB's table cache evicts only tables nobody is reading,
 * so a compaction still running in the background may briefly hold a few more (seen: one).
 */
const TABLES_IN_USE_SLACK = 4;
const RECORD_BYTES = 64 * 1024;

/** Table files of the store mapped into this process now. */
function mappedTables(path: string): number {
  const maps = readFileSync('/proc/self/maps', 'utf8').split('\n');
  // A line ends with the file's path, then " (deleted)" for a file deleted while still mapped: the path is the table.
  const tables = maps.map((line) => /(\S+\.ldb)(?: \(deleted\))?$/.exec(line)?.[1]).filter((file) => file?.startsWith(path));
  return new Set(tables).size;
}

describe('level store tables in memory', () => {
  let path: string;
  beforeEach(async () => {
    path = await mkdtemp(join(tmpdir(), 'kiln-level-mapped-'));
  });
  afterEach(async () => {
    await rm(path, { recursive: true, force: true });
  });

  it.runIf(process.platform === 'linux')('maps at most the tables it may hold open, in a store of many more', async () => {
    const store = levelStore({ path, sync: false });
    await store.open();
    try {
      // Random data, so compression cannot shrink it below more tables than may be open, even in
      // tables of LevelDB's default size (2 MiB), twice the store's.
      const pool = randomBytes(8 * 1024 * 1024);
      const recordsTotal = Math.ceil((1.5 * TABLES_OPEN_MAX * Math.max(STORE_TABLE_FILE_BYTES, 2 * 1024 * 1024)) / RECORD_BYTES);
      for (let lsn = 1; lsn <= recordsTotal; lsn += 16) {
        const records: EncodedRecord[] = [];
        for (let i = lsn; i < lsn + 16 && i <= recordsTotal; i++) {
          const offset = (i * 7919 * 64) % (pool.length - RECORD_BYTES);
          records.push({ lsn: i, term: 1, bytes: pool.subarray(offset, offset + RECORD_BYTES), streams: [{ stream: `s-${i}`, firstVersion: 0, eventCount: 1 }] });
        }
        await store.append(records);
      }
      const tables = readdirSync(path).filter((name) => name.endsWith('.ldb')).length;
      expect(tables).toBeGreaterThan(TABLES_OPEN_MAX + 2 * TABLES_IN_USE_SLACK);

      let read = 0;
      for (let from = 1; ; ) {
        const page = await store.read(from, { direction: 'forward', maxCount: 64, maxBytes: 8 * 1024 * 1024 });
        if (page.length === 0) break;
        read += page.length;
        from = page[page.length - 1]!.lsn + 1;
      }
      expect(read).toBe(recordsTotal);
      expect(mappedTables(path)).toBeLessThanOrEqual(TABLES_OPEN_MAX + TABLES_IN_USE_SLACK);
    } finally {
      await store.close();
    }
  });
});
