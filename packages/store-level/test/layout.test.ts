// The store keeps a group commit's records in chunks (`R`) and one `S` entry of its index keys,
// where it kept an `L` and an `E` entry per record before. A store written the old way still
// opens, reads whole, takes new groups and truncates through both layouts; a group or chunk cut
// part way keeps its first records.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { afterEach, describe, expect, it } from 'vitest';
import { checkedStore, defaultLogLimits, encodeRecord, RecordKind, STORE_FORMAT_VERSION, type CheckedStore, type EncodedRecord } from '@kiln/core';
import { levelStore } from '@kiln/store-level';
import { indexKey, indexValue, metaKey, recordKey, recordStreamsKey } from '../src/keys.js';

const dirs: string[] = [];

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kiln-level-layout-'));
  dirs.push(dir);
  return dir;
}

afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** Streams record `lsn` writes: `s0`..`s2` in turn, and every fifth record `x` as well. */
function streamsOf(lsn: number): Array<{ stream: string; firstVersion: number }> {
  const streams = [{ stream: `s${lsn % 3}`, firstVersion: Math.floor((lsn - 1) / 3) }];
  if (lsn % 5 === 0) streams.push({ stream: 'x', firstVersion: lsn / 5 - 1 });
  return streams;
}

/** Records of a few sizes, so that a group commit takes several chunks and some a chunk alone. */
const eventBytes = (lsn: number): number => (lsn % 13 === 0 ? 5000 : lsn % 4 === 0 ? 1500 : 40);

function record(lsn: number): EncodedRecord {
  const appends = streamsOf(lsn).map((s) => ({ ...s, eventCount: 1, events: new Uint8Array(eventBytes(lsn)).fill(lsn % 256) }));
  return encodeRecord({ lsn, term: 1, kind: RecordKind.Commit, clientId: 'writer', seq: lsn, timestampMs: 0, appends });
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Writes records 1..last as the store did before `S` entries: the record, a JSON `E` entry and its index entries. */
async function writeOldLayout(path: string, last: number): Promise<void> {
  const db = new Level<Uint8Array, Uint8Array>(path, { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  const batch = db.batch();
  for (const lsn of range(1, last)) {
    const { bytes, streams } = record(lsn);
    batch.put(recordKey(lsn), bytes);
    batch.put(recordStreamsKey(lsn), new TextEncoder().encode(JSON.stringify(streams.map((s) => [s.stream, s.firstVersion]))));
    for (const s of streams) batch.put(indexKey(s.stream, s.firstVersion), indexValue(lsn, s.eventCount));
  }
  batch.put(metaKey('format-version'), Uint8Array.of(2, 0, 0, 0));
  await batch.write();
  await db.close();
}

/** LSNs a walk over the whole log finds, a page at a time, checking each record's bytes. */
async function walk(store: CheckedStore, direction: 'forward' | 'backward', maxCount: number, maxBytes: number): Promise<number[]> {
  const seen: number[] = [];
  for (let from = direction === 'forward' ? 1 : store.lastPosition.lsn; from >= 1; ) {
    const page = await store.read(from, { direction, maxCount, maxBytes });
    if (page.length === 0) break;
    for (const r of page) expect(Buffer.from(r.bytes).equals(Buffer.from(record(r.lsn).bytes)), `record ${r.lsn}`).toBe(true);
    seen.push(...page.map((r) => r.lsn));
    from = page[page.length - 1]!.lsn + (direction === 'forward' ? 1 : -1);
  }
  return seen;
}

/** Checks that the store holds records 1..last, bytes unchanged, and exactly their index entries. */
async function expectLog(store: CheckedStore, last: number): Promise<void> {
  expect(store.lastPosition.lsn).toBe(last);
  const recordBytes = record(1).bytes.length; // of the smallest records
  // Whole, in pages that start and end inside chunks, one record a read, and by bytes.
  expect(await walk(store, 'forward', 1000, 1 << 20)).toEqual(range(1, last));
  expect(await walk(store, 'forward', 7, 1 << 20)).toEqual(range(1, last));
  expect(await walk(store, 'forward', 1000, 1)).toEqual(range(1, last));
  expect(await walk(store, 'forward', 1000, 3 * recordBytes - 1)).toEqual(range(1, last));
  expect(await walk(store, 'backward', 5, 1 << 20)).toEqual(range(1, last).reverse());
  expect(await walk(store, 'backward', 1000, 1)).toEqual(range(1, last).reverse());
  expect(await store.read(last + 1, { direction: 'forward', maxCount: 10, maxBytes: 1 << 20 })).toEqual([]);
  for (const stream of ['s0', 's1', 's2', 'x']) {
    const entries = await store.readStreamIndex(stream, 0, { direction: 'forward', maxCount: 1000 });
    const expected = range(1, last).flatMap((lsn) => streamsOf(lsn).filter((s) => s.stream === stream).map((s) => ({ lsn, firstVersion: s.firstVersion, eventCount: 1 })));
    expect(entries, stream).toEqual(expected);
  }
}

/** Keys of one kind left in the database at `path` (the store must be closed). */
async function keysOfKind(path: string, kind: string): Promise<number> {
  const db = new Level<Uint8Array, Uint8Array>(path, { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  const code = kind.charCodeAt(0);
  const keys = await db.keys({ gte: Uint8Array.of(code), lt: Uint8Array.of(code + 1) }).all();
  await db.close();
  return keys.length;
}

async function metaOf(path: string, key: string): Promise<Uint8Array | undefined> {
  const db = new Level<Uint8Array, Uint8Array>(path, { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  const value = await db.get(metaKey(key));
  await db.close();
  return value;
}

async function open(path: string, truncateBatchRecordsMax?: number): Promise<CheckedStore> {
  const store = checkedStore(levelStore({ path, truncateBatchRecordsMax }), defaultLogLimits);
  await store.open();
  return store;
}

/** Appends records from..to in groups of the given sizes, in turn. */
async function appendGroups(store: CheckedStore, from: number, to: number, sizes: number[]): Promise<void> {
  for (let lsn = from, i = 0; lsn <= to; i++) {
    const size = Math.min(sizes[i % sizes.length]!, to - lsn + 1);
    await store.append(range(lsn, lsn + size - 1).map(record));
    lsn += size;
  }
}

describe('level store layout', () => {
  it('opens and reads a store written with an E entry per record, then truncates through old and new records', async () => {
    const path = await tempDir();
    await writeOldLayout(path, 30);
    let store = await open(path, 4);
    try {
      await expectLog(store, 30);
      await appendGroups(store, 31, 50, [5, 2, 7]);
      await expectLog(store, 50);
      await store.truncateAfter(40);
      await expectLog(store, 40);
      await store.truncateAfter(20);
      await expectLog(store, 20);
      await appendGroups(store, 21, 26, [3]);
    } finally {
      await store.close();
    }
    // The old entries of removed records went with them; new groups took their place.
    expect(await keysOfKind(path, 'E')).toBe(20);
    expect(await keysOfKind(path, 'L')).toBe(20);
    // Marked with the format that has chunks, so an older Kiln refuses it rather than miss them.
    expect(Array.from((await metaOf(path, 'format-version'))!)).toEqual([STORE_FORMAT_VERSION, 0, 0, 0]);
    expect(await keysOfKind(path, 'S')).toBe(2);
    store = await open(path);
    try {
      await expectLog(store, 26);
      await store.truncateAfter(0);
      await expectLog(store, 0);
    } finally {
      await store.close();
    }
    expect(await keysOfKind(path, 'E')).toBe(0);
    expect(await keysOfKind(path, 'L')).toBe(0);
    expect(await keysOfKind(path, 'S')).toBe(0);
    expect(await keysOfKind(path, 'R')).toBe(0);
    expect(await keysOfKind(path, 'I')).toBe(0);
  });

  for (const batchRecords of [1, 3, 1024]) {
    it(`cuts groups part way, removing at most ${batchRecords} record(s) a batch`, async () => {
      const path = await tempDir();
      const store = await open(path, batchRecords);
      try {
        await appendGroups(store, 1, 40, [1, 7, 3, 25]);
        for (const after of [37, 33, 30, 12, 5, 1]) {
          await store.truncateAfter(after);
          await expectLog(store, after);
        }
        await appendGroups(store, 2, 9, [4]);
        await expectLog(store, 9);
      } finally {
        await store.close();
      }
    });
  }
});
