/** Append then read: forward and backward, from the middle, with `maxCount` and `maxBytes` honoured. */
import { type SuiteContext, expectHolds } from './context.js';
import { hex } from './records.js';

const ALL = { maxCount: 4096, maxBytes: 1 << 30 } as const;

export function appendReadTests({ runner, test }: SuiteContext): void {
  const { describe, expect } = runner;

  describe('append and read', () => {
    test('an empty store opens at position 0 and reads nothing', async (h) => {
      expect(h.recovery).toEqual({ droppedRecords: 0, last: { lsn: 0, term: 0 } });
      expect(await h.store.read(1, { direction: 'forward', ...ALL })).toEqual([]);
      expect(await h.store.read(0, { direction: 'forward', ...ALL })).toEqual([]);
      expect(await h.store.read(Number.MAX_SAFE_INTEGER, { direction: 'backward', ...ALL })).toEqual([]);
    });

    test('returns the appended bytes unchanged, in LSN order', async (h) => {
      await h.append(...h.log.segment(5, ['a', 'b']));
      expect(h.store.lastPosition).toEqual({ lsn: 5, term: 1 });
      const records = await h.store.read(1, { direction: 'forward', ...ALL });
      expect(records.map((r) => r.lsn)).toEqual([1, 2, 3, 4, 5]);
      expect(records.map((r) => hex(r.bytes))).toEqual(h.log.records.map((r) => hex(r.bytes)));
      const decoded = await h.store.readRecords(2, { direction: 'forward', maxCount: 1, maxBytes: 1 });
      expect(decoded.map((r) => [r.lsn, r.appends.map((a) => a.stream)])).toEqual([[2, ['a', 'b']]]);
    });

    test('reads backward from the tail, from beyond it and from the middle', async (h) => {
      await h.append(...h.log.segment(5, ['a']));
      const lsns = async (from: number, direction: 'forward' | 'backward') => (await h.store.read(from, { direction, ...ALL })).map((r) => r.lsn);
      expect(await lsns(5, 'backward')).toEqual([5, 4, 3, 2, 1]);
      expect(await lsns(Number.MAX_SAFE_INTEGER, 'backward')).toEqual([5, 4, 3, 2, 1]);
      expect(await lsns(3, 'backward')).toEqual([3, 2, 1]);
      expect(await lsns(0, 'backward')).toEqual([]);
      expect(await lsns(3, 'forward')).toEqual([3, 4, 5]);
      expect(await lsns(0, 'forward')).toEqual([1, 2, 3, 4, 5]);
      expect(await lsns(6, 'forward')).toEqual([]);
    });

    test('reads backward while an append is in flight, seeing the durable or the new tail', async (h) => {
      await h.append(...h.log.segment(2, ['a']));
      const inFlight = h.append(...h.log.segment(3, ['a']));
      const during = (await h.store.read(Number.MAX_SAFE_INTEGER, { direction: 'backward', ...ALL })).map((r) => r.lsn);
      expect([[2, 1], [5, 4, 3, 2, 1]]).toContainEqual(during);
      const head = await h.store.streamHead('a');
      expect([1, 4]).toContain(head?.firstVersion);
      await inFlight;
      expect((await h.store.read(Number.MAX_SAFE_INTEGER, { direction: 'backward', ...ALL })).map((r) => r.lsn)).toEqual([5, 4, 3, 2, 1]);
    });

    test('honours maxCount in both directions', async (h) => {
      await h.append(...h.log.segment(6, ['a']));
      const forward = await h.store.read(2, { direction: 'forward', maxCount: 2, maxBytes: 1 << 30 });
      expect(forward.map((r) => r.lsn)).toEqual([2, 3]);
      const backward = await h.store.read(5, { direction: 'backward', maxCount: 3, maxBytes: 1 << 30 });
      expect(backward.map((r) => r.lsn)).toEqual([5, 4, 3]);
      const one = await h.store.read(6, { direction: 'forward', maxCount: 1, maxBytes: 1 << 30 });
      expect(one.map((r) => r.lsn)).toEqual([6]);
    });

    test('honours maxBytes, stopping once the bytes returned reach it, and returns at least one record', async (h) => {
      await h.append(...h.log.segment(8, ['a'], { payloadBytes: 100 }));
      const size = (lsn: number) => h.log.at(lsn).bytes.length;
      const forward = async (from: number, maxBytes: number) =>
        (await h.store.read(from, { direction: 'forward', maxCount: 4096, maxBytes })).map((r) => r.lsn);
      const backward = async (from: number, maxBytes: number) =>
        (await h.store.read(from, { direction: 'backward', maxCount: 4096, maxBytes })).map((r) => r.lsn);
      expect(await forward(3, 1)).toEqual([3]);
      expect(await backward(8, 1)).toEqual([8]);
      expect(await forward(3, size(3) + size(4))).toEqual([3, 4]);
      expect(await forward(3, size(3) + size(4) + 1)).toEqual([3, 4, 5]);
      expect(await backward(7, size(7) + size(6))).toEqual([7, 6]);
      expect(await backward(7, size(7) + size(6) + 1)).toEqual([7, 6, 5]);
      // A limit larger than what is left returns the rest.
      expect(await forward(6, 1 << 20)).toEqual([6, 7, 8]);
    });

    test('appends that follow one another are each readable at once', async (h) => {
      for (const count of [1, 3, 2, 1]) {
        const segment = h.log.segment(count, ['a', ['b', 2]]);
        await h.append(...segment);
        expect(h.store.lastPosition.lsn).toBe(h.log.lastLsn);
        const [tail] = await h.store.read(Number.MAX_SAFE_INTEGER, { direction: 'backward', maxCount: 1, maxBytes: 1 });
        expect(tail && hex(tail.bytes)).toBe(hex(segment[segment.length - 1]!.bytes));
      }
      await expectHolds(runner, h);
    });

    test('terms may rise within a segment and across segments', async (h) => {
      await h.append(h.log.next(['a'], { term: 1 }), h.log.next(['a'], { term: 2 }), h.log.next(['a'], { term: 2 }));
      expect(h.store.lastPosition).toEqual({ lsn: 3, term: 2 });
      await h.append(h.log.next(['b'], { term: 5 }));
      expect(h.store.lastPosition).toEqual({ lsn: 4, term: 5 });
      const records = await h.store.readRecords(1, { direction: 'forward', ...ALL });
      expect(records.map((r) => r.term)).toEqual([1, 2, 2, 5]);
    });

    test('pipelined appends, issued before the previous one resolves, all land in order', async (h) => {
      const first = h.log.segment(3, ['a']);
      const second = h.log.segment(2, ['a', 'b']);
      const third = h.log.segment(4, ['b']);
      await Promise.all([h.store.append(first), h.store.append(second), h.store.append(third)]);
      await expectHolds(runner, h);
    });

    test('a large segment reads back page by page', async (h) => {
      await h.append(...h.log.segment(1500, ['a', 'b'], { payloadBytes: 16 }));
      const seen: number[] = [];
      for (let from = 1; ; ) {
        const page = await h.store.read(from, { direction: 'forward', maxCount: 128, maxBytes: 1 << 20 });
        if (page.length === 0) break;
        expect(page.length).toBeLessThanOrEqual(128);
        seen.push(...page.map((r) => r.lsn));
        from = page[page.length - 1]!.lsn + 1;
      }
      expect(seen).toEqual(Array.from({ length: 1500 }, (_, i) => i + 1));
      const back = await h.store.read(1500, { direction: 'backward', maxCount: 4096, maxBytes: 1 << 30 });
      expect(back.map((r) => r.lsn)).toEqual(seen.slice().reverse());
    });
  });
}
