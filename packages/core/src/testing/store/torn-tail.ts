/** Persistent stores: a tail whose last record is garbled or torn is dropped when the store opens. */
import { type SuiteContext, expectHolds } from './context.js';

export function tornTailTests({ runner, test }: SuiteContext): void {
  const { describe, expect } = runner;

  describe('torn tail', () => {
    for (const how of ['flip', 'cut'] as const) {
      const damage = how === 'flip' ? 'garbled' : 'torn';
      test(`a ${damage} last record is dropped at open, with its index entries`, async (h) => {
        expect(h.raw.persistent, 'a fixture that reopens must give a persistent store').toBe(true);
        await h.append(...h.log.segment(3, ['a'], { term: 1 }));
        await h.append(h.log.next(['a'], { term: 2 }), h.log.next(['a', 'only-in-last'], { term: 2 }));
        await h.corruptLastRecord(how);
        h.log.truncateAfter(4);
        expect(await h.reopen()).toEqual({ droppedRecords: 1, last: { lsn: 4, term: 2 } });
        await expectHolds(runner, h);
        expect(await h.store.streamHead('only-in-last')).toBeUndefined();
        // The dropped LSN is free again, and what is written there survives the next reopen.
        await h.append(h.log.next(['b'], { term: 3 }));
        expect(await h.reopen()).toEqual({ droppedRecords: 0, last: { lsn: 5, term: 3 } });
        await expectHolds(runner, h);
      });
    }
  });
}
