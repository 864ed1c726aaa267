/** Persistent stores: records, stream index and meta survive a reopen, and so does a truncation. */
import { type Harness, type SuiteContext, expectHolds } from './context.js';
import { hex } from './records.js';

export function reopenTests({ runner, test }: SuiteContext): void {
  const { describe, expect } = runner;
  const persistentTest = (name: string, body: (h: Harness) => Promise<void>) =>
    test(name, async (h) => {
      expect(h.raw.persistent, 'a fixture that reopens must give a persistent store').toBe(true);
      await body(h);
    });

  describe('reopen', () => {
    persistentTest('an empty store reopens empty', async (h) => {
      expect(await h.reopen()).toEqual({ droppedRecords: 0, last: { lsn: 0, term: 0 } });
      await expectHolds(runner, h);
    });

    persistentTest('records, stream index and meta survive a reopen', async (h) => {
      await h.append(h.log.next([['a', 3]], { term: 1 }), h.log.next(['a', 'b'], { term: 2 }));
      await h.append(...h.log.segment(50, ['b', ['c', 2]], { term: 3 }));
      await h.store.putMeta('term', new Uint8Array([3]));
      await h.store.putMeta('vote', new Uint8Array([1, 2]));
      expect(await h.reopen()).toEqual({ droppedRecords: 0, last: { lsn: 52, term: 3 } });
      await expectHolds(runner, h);
      expect(hex((await h.store.getMeta('term'))!)).toBe('03');
      expect(hex((await h.store.getMeta('vote'))!)).toBe('0102');
      expect(await h.store.streamHead('c')).toEqual({ lsn: 52, firstVersion: 98, eventCount: 2 });
    });

    persistentTest('the log continues after a reopen, and again after a second one', async (h) => {
      await h.append(...h.log.segment(3, ['a']));
      await h.reopen();
      await h.append(...h.log.segment(2, ['a', 'b'], { term: 2 }));
      expect(h.store.lastPosition).toEqual({ lsn: 5, term: 2 });
      await h.reopen();
      await expectHolds(runner, h);
    });

    persistentTest('a truncation survives a reopen: the records and their index entries stay gone', async (h) => {
      await h.append(...h.log.segment(6, ['a']), h.log.next(['b']));
      await h.store.truncateAfter(4);
      h.log.truncateAfter(4);
      await h.reopen();
      await expectHolds(runner, h);
      expect(await h.store.streamHead('b')).toBeUndefined();
      expect(await h.store.streamHead('a')).toEqual({ lsn: 4, firstVersion: 3, eventCount: 1 });
    });
  });
}
