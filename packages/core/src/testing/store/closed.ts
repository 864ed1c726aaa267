/** Every method of a closed or closing store rejects with `StoreClosedError`; close waits for calls in flight. */
import { StoreClosedError } from '../../errors.js';
import { defaultLogLimits } from '../../limits.js';
import { checkedStore, type CheckedStore } from '../../store/checked-store.js';
import { type SuiteContext, expectRejects } from './context.js';
import { makeRecord } from './records.js';

/** One call of every method a store has, so none is forgotten. */
function everyCall(store: CheckedStore): Array<[string, () => Promise<unknown>]> {
  const read = { direction: 'forward', maxCount: 1, maxBytes: 1 } as const;
  return [
    ['open', () => store.open()],
    ['append', () => store.append([makeRecord(store.lastPosition.lsn + 1, 1, [{ stream: 'a', firstVersion: 0, eventCount: 1 }])])],
    ['read', () => store.read(1, read)],
    ['readRecords', () => store.readRecords(1, read)],
    ['readStreamIndex', () => store.readStreamIndex('a', 0, { direction: 'forward', maxCount: 1 })],
    ['streamHead', () => store.streamHead('a')],
    ['truncateAfter', () => store.truncateAfter(0)],
    ['getMeta', () => store.getMeta('term')],
    ['putMeta', () => store.putMeta('term', new Uint8Array(1))],
    ['close', () => store.close()],
  ];
}

export function closedTests({ runner, fixture, test }: SuiteContext): void {
  const { describe, it, expect } = runner;

  describe('closed and closing', () => {
    test('every method of a closed store rejects with StoreClosedError', async (h) => {
      await h.append(...h.log.segment(2, ['a']));
      await h.store.close();
      expect(h.store.isOpen).toBe(false);
      for (const [name, call] of everyCall(h.store)) {
        const error = await expectRejects(runner, call, StoreClosedError);
        expect((error as Error).name, name).toBe('StoreClosedError');
      }
    });

    test('every method called while the store is closing rejects with StoreClosedError', async (h) => {
      await h.append(...h.log.segment(2, ['a']));
      const closing = h.store.close();
      for (const [, call] of everyCall(h.store)) await expectRejects(runner, call, StoreClosedError);
      await closing;
    });

    test('close waits for the calls in flight, which complete', async (h) => {
      await h.append(...h.log.segment(2, ['a']));
      const settled: string[] = [];
      const append = h.store.append([h.log.next(['a'])]).then(() => settled.push('append'));
      const read = h.store.read(1, { direction: 'forward', maxCount: 10, maxBytes: 1 << 20 }).then((records) => {
        settled.push('read');
        return records;
      });
      const meta = h.store.putMeta('term', new Uint8Array([1])).then(() => settled.push('putMeta'));
      const close = h.store.close().then(() => settled.push('close'));
      await Promise.all([append, read, meta, close]);
      expect(settled[settled.length - 1]).toBe('close');
      expect(settled.slice().sort()).toEqual(['append', 'close', 'putMeta', 'read']);
      expect((await read).length).toBeGreaterThanOrEqual(2);
    });

    it('a store closed without being opened refuses everything', async () => {
      const raw = await fixture.create();
      try {
        const store = checkedStore(raw, defaultLogLimits);
        await store.close();
        for (const [, call] of everyCall(store)) await expectRejects(runner, call, StoreClosedError);
      } finally {
        await fixture.destroy?.(raw);
      }
    });
  });
}
