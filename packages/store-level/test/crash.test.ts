// Crash safety on a real disk. LevelDB's own write-ahead log is cut short, or the writing process
// is killed with SIGKILL after acknowledged writes; either way the store reopens to a dense
// prefix of whole group commits, every record passes its CRC, and the stream index agrees.
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { afterEach, describe, expect, it } from 'vitest';
import { checkedStore, CorruptRecordError, defaultLogLimits, encodeRecord, RecordKind, type CheckedStore, type EncodedRecord } from '@kiln/core';
import { levelStore } from '@kiln/store-level';

const STREAMS = 5;
const dirs: string[] = [];

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kiln-level-crash-'));
  dirs.push(dir);
  return dir;
}

afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** Record `lsn` writes one event to stream `s(lsn % 5)`, the same shape the child writer uses. */
function record(lsn: number): EncodedRecord {
  const appends = [{ stream: `s${lsn % STREAMS}`, firstVersion: Math.floor((lsn - 1) / STREAMS), eventCount: 1, events: new Uint8Array(200).fill(7) }];
  return encodeRecord({ lsn, term: 1, kind: RecordKind.Commit, clientId: 'writer', seq: lsn, timestampMs: 0, appends });
}

/** Checks that the store holds LSNs 1..last with no gap, each passing its CRC, and an index that matches them. */
async function expectDensePrefix(store: CheckedStore): Promise<number> {
  const last = store.lastPosition.lsn;
  const seen: number[] = [];
  for (let from = 1; ; ) {
    // The checked layer verifies every record's length and CRC as it reads.
    const page = await store.readRecords(from, { direction: 'forward', maxCount: 1000, maxBytes: 1 << 20 });
    if (page.length === 0) break;
    seen.push(...page.map((r) => r.lsn));
    from = page[page.length - 1]!.lsn + 1;
  }
  expect(seen).toEqual(Array.from({ length: last }, (_, i) => i + 1));
  for (let s = 0; s < STREAMS; s++) {
    const entries = await store.readStreamIndex(`s${s}`, 0, { direction: 'forward', maxCount: 4096 });
    const expected = seen.filter((lsn) => lsn % STREAMS === s);
    expect(entries.map((e) => e.lsn), `s${s}`).toEqual(expected);
  }
  return last;
}

async function reopen(path: string): Promise<{ store: CheckedStore; dropped: number }> {
  const store = checkedStore(levelStore({ path }), defaultLogLimits);
  const { droppedRecords } = await store.open();
  return { store, dropped: droppedRecords };
}

describe('level store crash safety', () => {
  for (const cutBytes of [1, 17, 700, 5_000, 40_000]) {
    it(`reopens to a dense prefix after ${cutBytes} bytes are cut off LevelDB's write-ahead log`, async () => {
      const path = await tempDir();
      const writer = checkedStore(levelStore({ path }), defaultLogLimits);
      await writer.open();
      for (let lsn = 1; lsn <= 200; lsn += 4) await writer.append([record(lsn), record(lsn + 1), record(lsn + 2), record(lsn + 3)]);
      await writer.close();

      // The newest *.log file is the write-ahead log that holds the writes not yet in a table.
      const logs = (await readdir(path)).filter((name) => name.endsWith('.log')).sort();
      const wal = join(path, logs[logs.length - 1]!);
      const { size } = await stat(wal);
      expect(size).toBeGreaterThan(cutBytes);
      await truncate(wal, size - cutBytes);

      const { store, dropped } = await reopen(path);
      try {
        const last = await expectDensePrefix(store);
        // A group commit is one LevelDB batch: it survives whole or not at all.
        expect(last).toBeLessThan(200);
        expect(last % 4).toBe(0);
        expect(dropped).toBe(0);
        // The log goes on from the prefix.
        await store.append([record(last + 1)]);
        expect(store.lastPosition.lsn).toBe(last + 1);
      } finally {
        await store.close();
      }
    });
  }

  it('refuses to open, naming the directory, when LevelDB skipped a damaged block in the middle of its write-ahead log', async () => {
    const path = await tempDir();
    const writer = checkedStore(levelStore({ path }), defaultLogLimits);
    await writer.open();
    for (let lsn = 1; lsn <= 400; lsn += 4) await writer.append([record(lsn), record(lsn + 1), record(lsn + 2), record(lsn + 3)]);
    await writer.close();

    // A flipped bit half way: LevelDB drops the block's group commits at open and keeps the later ones.
    const logs = (await readdir(path)).filter((name) => name.endsWith('.log')).sort();
    const wal = join(path, logs[logs.length - 1]!);
    const bytes = await readFile(wal);
    bytes[bytes.length >> 1]! ^= 0x10;
    await writeFile(wal, bytes);

    // Twice: LevelDB's first open already wrote what it kept into a table, the hole with it.
    for (let attempt = 0; attempt < 2; attempt++) {
      const error = await reopen(path).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(CorruptRecordError);
      expect((error as Error).message).toContain(`the store at ${path} is damaged`);
      expect((error as Error).message).not.toContain('\n');
    }
  });

  it('refuses to open, naming the directory, when a record below whole ones fails its CRC', async () => {
    const path = await tempDir();
    const writer = checkedStore(levelStore({ path }), defaultLogLimits);
    await writer.open();
    for (let lsn = 1; lsn <= 400; lsn += 4) await writer.append([record(lsn), record(lsn + 1), record(lsn + 2), record(lsn + 3)]);
    await writer.close();

    // Damage an event of a record half way, as a flipped bit in a table file would.
    const db = new Level<Uint8Array, Uint8Array>(path, { keyEncoding: 'view', valueEncoding: 'view' });
    const holding = (await db.iterator().all()).filter(([, value]) => Buffer.from(value).includes(Buffer.alloc(200, 7)));
    const [key, value] = holding[holding.length >> 1]!;
    value[Buffer.from(value).indexOf(Buffer.alloc(200, 7)) + 100]! ^= 0x01;
    await db.put(key, value);
    await db.close();

    const error = await reopen(path).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CorruptRecordError);
    expect((error as Error).message).toMatch(new RegExp(`the store at ${path} is damaged: record \\d+ fails its check \\(CRC mismatch\\)`));
  });

  it('refuses to open, naming the directory and what to do, when a table file is cut short', async () => {
    const path = await tempDir();
    const writer = checkedStore(levelStore({ path }), defaultLogLimits);
    await writer.open();
    for (let lsn = 1; lsn <= 400; lsn += 4) await writer.append([record(lsn), record(lsn + 1), record(lsn + 2), record(lsn + 3)]);
    await writer.close();
    // A first reopen has LevelDB write its log into a table file; then that file loses its second half.
    await (await reopen(path)).store.close();
    const tables = (await readdir(path)).filter((name) => name.endsWith('.ldb'));
    expect(tables.length).toBeGreaterThan(0);
    for (const name of tables) await truncate(join(path, name), (await stat(join(path, name))).size >> 1);

    const error = await reopen(path).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CorruptRecordError);
    expect((error as Error).message).toContain(`the store at ${path} is damaged: LevelDB cannot read its records`);
    expect((error as Error).message).toContain('kiln admin remove-mirror');
  });

  it('keeps every acknowledged group commit when the writer is killed with SIGKILL', async () => {
    const path = await tempDir();
    const child = fork(new URL('./fixtures/writer.mjs', import.meta.url), [path], { stdio: 'ignore' });
    let acked = 0;
    const exited = once(child, 'exit');
    child.on('message', (message: { acked: number }) => {
      acked = Math.max(acked, message.acked);
      if (acked >= 400) child.kill('SIGKILL');
    });
    const [, signal] = await exited;
    expect(signal).toBe('SIGKILL');
    expect(acked).toBeGreaterThanOrEqual(400);

    const { store, dropped } = await reopen(path);
    try {
      const last = await expectDensePrefix(store);
      expect(dropped).toBe(0);
      expect(last).toBeGreaterThanOrEqual(acked);
      expect(last % 4).toBe(0);
    } finally {
      await store.close();
    }
  });
});
