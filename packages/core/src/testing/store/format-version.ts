/**
 * The store's on-disk format version: a new store records the current one; a log of format 1
 * (no version recorded, records without a kind) reads, as commit records; a store of a newer
 * version is refused and left as it was.
 */
import { Encoder } from '@msgpack/msgpack';
import { crc32c } from '../../crc32c.js';
import { InvalidArgumentError, UnsupportedFormatVersionError } from '../../errors.js';
import { decodeRecord, RecordKind, RECORD_HEADER_BYTES, STORE_FORMAT_VERSION, type EncodedRecord } from '../../log/record.js';
import { META_FORMAT_VERSION } from '../../store/checked-store.js';
import type { Store } from '../../store/store.js';
import { expectRejects, Harness, type SuiteContext } from './context.js';
import { hex, makeRecord } from './records.js';

const u32le = (value: number): Uint8Array => {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, value, true);
  return bytes;
};

/** A record as format 1 wrote it: `[lsn, term, clientId, seq, timestampMs, appends]`, no kind. */
function formatOneRecord(lsn: number, term: number, stream: string, firstVersion: number): EncodedRecord {
  const body = new Encoder().encode([lsn, term, 'format-1', lsn, 1_600_000_000_000 + lsn, [[stream, firstVersion, 1, new Uint8Array([0x91, lsn])]]]);
  const bytes = new Uint8Array(RECORD_HEADER_BYTES + body.length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, body.length, true);
  view.setUint32(4, crc32c(body), true);
  bytes.set(body, RECORD_HEADER_BYTES);
  return { lsn, term, bytes, streams: [{ stream, firstVersion, eventCount: 1 }] };
}

export function formatVersionTests({ runner, fixture, test }: SuiteContext): void {
  const { describe, it, expect } = runner;

  /**
   * Writes a store through the raw store alone, as another version of Kiln would have, closes it,
   * and runs `body` with a harness over the reopened store, not yet opened by the checked layer.
   */
  const writtenBefore = (name: string, write: (raw: Store) => Promise<void>, body: (h: Harness) => Promise<void>) =>
    it(name, async () => {
      const first = await fixture.create();
      await first.open();
      await write(first);
      await first.close();
      const h = new Harness(fixture, await fixture.reopen!(first));
      try {
        await body(h);
      } finally {
        await h.dispose();
      }
    });

  describe('format version', () => {
    test('a new store records the current format version, which only the checked layer writes', async (h) => {
      expect(hex((await h.store.getMeta(META_FORMAT_VERSION))!)).toBe(hex(u32le(STORE_FORMAT_VERSION)));
      await expectRejects(runner, () => h.store.putMeta(META_FORMAT_VERSION, u32le(99)), InvalidArgumentError);
      expect(hex((await h.store.getMeta(META_FORMAT_VERSION))!)).toBe(hex(u32le(STORE_FORMAT_VERSION)));
    });

    if (!fixture.reopen) return;

    writtenBefore(
      'a log of format 1, without a recorded version or record kinds, reads as commit records and takes new records after them',
      (raw) => raw.append([formatOneRecord(1, 1, 'a', 0), formatOneRecord(2, 1, 'b', 0), formatOneRecord(3, 2, 'a', 1)]),
      async (h) => {
        expect(await h.open()).toEqual({ droppedRecords: 0, last: { lsn: 3, term: 2 } });
        expect(hex((await h.store.getMeta(META_FORMAT_VERSION))!)).toBe(hex(u32le(STORE_FORMAT_VERSION)));
        const old = await h.store.readRecords(1, { direction: 'forward', maxCount: 10, maxBytes: 1 << 20 });
        expect(old.map((r) => [r.lsn, r.term, r.kind, r.clientId, r.appends[0]!.stream, r.appends[0]!.firstVersion])).toEqual([
          [1, 1, RecordKind.Commit, 'format-1', 'a', 0],
          [2, 1, RecordKind.Commit, 'format-1', 'b', 0],
          [3, 2, RecordKind.Commit, 'format-1', 'a', 1],
        ]);
        expect(await h.store.streamHead('a')).toEqual({ lsn: 3, firstVersion: 1, eventCount: 1 });
        await h.store.append([makeRecord(4, 3, [{ stream: 'a', firstVersion: 2, eventCount: 1 }])]);
        await h.reopen();
        const all = await h.store.read(1, { direction: 'forward', maxCount: 10, maxBytes: 1 << 20 });
        expect(all.map((r) => decodeRecord(r.bytes, r.lsn).kind)).toEqual(Array(4).fill(RecordKind.Commit));
        expect(h.store.lastPosition).toEqual({ lsn: 4, term: 3 });
      },
    );

    for (const [what, recorded, version] of [
      ['a newer format version', u32le(STORE_FORMAT_VERSION + 1), STORE_FORMAT_VERSION + 1],
      ['a format version that is not one', new Uint8Array([0xff, 0xfe]), 0],
    ] as const) {
      writtenBefore(
        `a store that records ${what} is refused with UnsupportedFormatVersionError naming both versions, and left as it was`,
        async (raw) => {
          await raw.putMeta(META_FORMAT_VERSION, recorded);
          await raw.append([makeRecord(1, 1, [{ stream: 'a', firstVersion: 0, eventCount: 1 }])]);
        },
        async (h) => {
          const error = await expectRejects(runner, () => h.open(), UnsupportedFormatVersionError);
          expect(error).toMatchObject({ version, supported: STORE_FORMAT_VERSION });
          expect((error as Error).message).toContain(`format version ${version}`);
          expect((error as Error).message).toContain(`format versions 1 to ${STORE_FORMAT_VERSION}`);
          // Look at the store again, around the checked layer: nothing was written.
          h.raw = await fixture.reopen!(h.raw);
          await h.raw.open();
          try {
            expect(hex((await h.raw.getMeta(META_FORMAT_VERSION))!)).toBe(hex(recorded));
            const records = await h.raw.read(1, { direction: 'forward', maxCount: 10, maxBytes: 1 << 20 });
            expect(records.map((r) => r.lsn)).toEqual([1]);
          } finally {
            await h.raw.close();
          }
        },
      );
    }
  });
}
