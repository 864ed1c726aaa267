/** A record whose bytes were damaged after it was written is reported as `CorruptRecordError` when read. */
import { CorruptRecordError } from '../../errors.js';
import { type SuiteContext, expectRejects } from './context.js';

export function corruptTests({ runner, test }: SuiteContext): void {
  const { describe, expect } = runner;

  describe('corrupt records', () => {
    for (const how of ['flip', 'cut'] as const) {
      const damage = how === 'flip' ? 'a flipped bit' : 'bytes cut off its end';
      test(`reading a record with ${damage} gives CorruptRecordError naming its LSN`, async (h) => {
        await h.append(...h.log.segment(3, ['a']));
        await h.corruptLastRecord(how);
        const direct = await expectRejects(runner, () => h.store.read(3, { direction: 'forward', maxCount: 1, maxBytes: 1 }), CorruptRecordError);
        expect((direct as CorruptRecordError).lsn).toBe(3);
        await expectRejects(runner, () => h.store.read(1, { direction: 'forward', maxCount: 10, maxBytes: 1 << 20 }), CorruptRecordError);
        await expectRejects(runner, () => h.store.readRecords(3, { direction: 'backward', maxCount: 10, maxBytes: 1 << 20 }), CorruptRecordError);
        // The records before it still read.
        const good = await h.store.read(1, { direction: 'forward', maxCount: 2, maxBytes: 1 << 20 });
        expect(good.map((r) => r.lsn)).toEqual([1, 2]);
      });
    }
  });
}
