// Memory-store specifics the conformance suite does not reach: a log that starts after LSN 1,
// copies of what it is given, and the stream index's binary search over many entries.
import { describe, expect, it } from 'vitest';
import { encodeRecord, RecordKind, type EncodedRecord } from '@kiln/core';
import { memoryStore } from '@kiln/store-memory';

function record(lsn: number, streams: Array<[string, number, number]>): EncodedRecord {
  return encodeRecord({
    lsn,
    term: 1,
    kind: RecordKind.Commit,
    clientId: 'c',
    seq: lsn,
    timestampMs: 0,
    appends: streams.map(([stream, firstVersion, eventCount]) => ({ stream, firstVersion, eventCount, events: new Uint8Array([lsn]) })),
  });
}

describe('memory store', () => {
  it('is not persistent', () => {
    expect(memoryStore().persistent).toBe(false);
  });

  it('serves a log whose first LSN is not 1', async () => {
    const store = memoryStore();
    await store.open();
    await store.append([record(100, [['a', 0, 1]]), record(101, [['a', 1, 1]])]);
    expect((await store.read(0, { direction: 'forward', maxCount: 10, maxBytes: 1 << 20 })).map((r) => r.lsn)).toEqual([100, 101]);
    expect((await store.read(1000, { direction: 'backward', maxCount: 10, maxBytes: 1 << 20 })).map((r) => r.lsn)).toEqual([101, 100]);
    expect(await store.read(99, { direction: 'backward', maxCount: 10, maxBytes: 1 << 20 })).toEqual([]);
    await store.truncateAfter(100);
    expect((await store.read(0, { direction: 'forward', maxCount: 10, maxBytes: 1 << 20 })).map((r) => r.lsn)).toEqual([100]);
    expect(await store.readStreamIndex('a', 0, { direction: 'forward', maxCount: 10 })).toEqual([{ lsn: 100, firstVersion: 0, eventCount: 1 }]);
  });

  it('finds entries by binary search across ten thousand runs', async () => {
    const store = memoryStore();
    await store.open();
    const records: EncodedRecord[] = [];
    let version = 0;
    for (let lsn = 1; lsn <= 10_000; lsn++) {
      const count = (lsn % 3) + 1;
      records.push(record(lsn, [['s', version, count]]));
      version += count;
    }
    for (let i = 0; i < records.length; i += 4096) await store.append(records.slice(i, i + 4096));
    // Version 6 sits in the run of LSN 4 (runs: 1:v0-1, 2:v2-4, 3:v5, 4:v6-7).
    expect(await store.readStreamIndex('s', 6, { direction: 'forward', maxCount: 1 })).toEqual([{ lsn: 4, firstVersion: 6, eventCount: 2 }]);
    expect(await store.readStreamIndex('s', 4, { direction: 'backward', maxCount: 2 })).toEqual([
      { lsn: 2, firstVersion: 2, eventCount: 3 },
      { lsn: 1, firstVersion: 0, eventCount: 2 },
    ]);
    const [head] = await store.readStreamIndex('s', Number.MAX_SAFE_INTEGER, { direction: 'backward', maxCount: 1 });
    expect(head).toEqual({ lsn: 10_000, firstVersion: version - 2, eventCount: 2 });
    await store.truncateAfter(5_000);
    const [newHead] = await store.readStreamIndex('s', Number.MAX_SAFE_INTEGER, { direction: 'backward', maxCount: 1 });
    expect(newHead?.lsn).toBe(5_000);
  });
});
