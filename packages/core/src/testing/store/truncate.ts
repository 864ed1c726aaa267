/** `truncateAfter`: records and their index entries gone, the position moved back, appends after it working. */
import { InvalidArgumentError } from '../../errors.js';
import { type SuiteContext, expectHolds, expectRejects, snapshot } from './context.js';

const MAX = Number.MAX_SAFE_INTEGER;

export function truncateTests({ runner, test }: SuiteContext): void {
  const { describe, expect } = runner;

  describe('truncateAfter', () => {
    test('removes the records after the LSN and moves the last position back', async (h) => {
      await h.append(h.log.next(['a'], { term: 1 }), h.log.next(['a'], { term: 2 }), h.log.next(['a'], { term: 3 }));
      await h.append(h.log.next(['a'], { term: 4 }), h.log.next(['a'], { term: 4 }));
      await h.store.truncateAfter(2);
      h.log.truncateAfter(2);
      expect(h.store.lastPosition).toEqual({ lsn: 2, term: 2 });
      expect((await h.store.read(1, { direction: 'forward', maxCount: 10, maxBytes: 1 << 20 })).map((r) => r.lsn)).toEqual([1, 2]);
      expect((await h.store.read(MAX, { direction: 'backward', maxCount: 10, maxBytes: 1 << 20 })).map((r) => r.lsn)).toEqual([2, 1]);
      expect(await h.store.read(3, { direction: 'forward', maxCount: 10, maxBytes: 1 << 20 })).toEqual([]);
      await expectHolds(runner, h);
    });

    test('removes the index entries of the removed records', async (h) => {
      await h.append(h.log.next([['a', 2]]), h.log.next(['a', 'b']), h.log.next(['c']));
      await h.append(h.log.next([['a', 3], 'b']), h.log.next(['d', 'c']));
      await h.store.truncateAfter(2);
      h.log.truncateAfter(2);
      expect(await h.store.streamHead('a')).toEqual({ lsn: 2, firstVersion: 2, eventCount: 1 });
      expect(await h.store.streamHead('b')).toEqual({ lsn: 2, firstVersion: 0, eventCount: 1 });
      expect(await h.store.streamHead('c')).toBeUndefined();
      expect(await h.store.streamHead('d')).toBeUndefined();
      expect(await h.store.readStreamIndex('a', 3, { direction: 'forward', maxCount: 10 })).toEqual([]);
      expect(await h.store.readStreamIndex('c', 0, { direction: 'forward', maxCount: 10 })).toEqual([]);
      await expectHolds(runner, h);
    });

    test('appending after a truncation reuses the LSNs and versions, with a new term', async (h) => {
      await h.append(...h.log.segment(4, ['a', 'b']));
      await h.store.truncateAfter(2);
      h.log.truncateAfter(2);
      await h.append(h.log.next(['a', 'e'], { term: 2 }), h.log.next([['a', 4]], { term: 2 }));
      expect(h.store.lastPosition).toEqual({ lsn: 4, term: 2 });
      expect(await h.store.streamHead('a')).toEqual({ lsn: 4, firstVersion: 3, eventCount: 4 });
      expect(await h.store.streamHead('b')).toEqual({ lsn: 2, firstVersion: 1, eventCount: 1 });
      await expectHolds(runner, h);
    });

    test('truncating after 0 empties the log, and it starts again at LSN 1', async (h) => {
      await h.append(...h.log.segment(3, ['a'], { term: 3 }));
      await h.store.truncateAfter(0);
      h.log.truncateAfter(0);
      expect(h.store.lastPosition).toEqual({ lsn: 0, term: 0 });
      expect(await h.store.streamHead('a')).toBeUndefined();
      await h.append(h.log.next(['b'], { term: 1 }));
      await expectHolds(runner, h);
    });

    test('truncating after the last LSN removes nothing', async (h) => {
      await h.append(...h.log.segment(3, ['a']));
      await h.store.truncateAfter(3);
      await expectHolds(runner, h);
    });

    test('truncating after an LSN beyond the log is refused and changes nothing', async (h) => {
      await h.append(...h.log.segment(3, ['a']));
      const before = await snapshot(h, ['a']);
      await expectRejects(runner, () => h.store.truncateAfter(4), InvalidArgumentError);
      expect(await snapshot(h, ['a'])).toEqual(before);
    });

    test('a long truncation removes every record and entry after the LSN', async (h) => {
      for (let i = 0; i < 5; i++) await h.append(...h.log.segment(700, ['a', i % 2 === 0 ? 'even' : 'odd']));
      await h.store.truncateAfter(10);
      h.log.truncateAfter(10);
      expect(await h.store.read(11, { direction: 'forward', maxCount: 10, maxBytes: 1 << 20 })).toEqual([]);
      expect(await h.store.readStreamIndex('a', 0, { direction: 'forward', maxCount: 4096 })).toHaveLength(10);
      expect(await h.store.streamHead('odd')).toBeUndefined();
      await expectHolds(runner, h);
    });
  });
}
