/** Metadata: get and put, overwrite, independence from the log. */
import { InvalidArgumentError } from '../../errors.js';
import { type SuiteContext, expectRejects } from './context.js';
import { hex } from './records.js';

export function metaTests({ runner, test }: SuiteContext): void {
  const { describe, expect } = runner;
  const bytes = (...values: number[]) => Uint8Array.from(values);

  describe('meta', () => {
    test('an unknown key reads as undefined', async (h) => {
      expect(await h.store.getMeta('term')).toBeUndefined();
    });

    test('put then get returns the bytes; a second put replaces them', async (h) => {
      await h.store.putMeta('term', bytes(1, 2, 3));
      expect(hex((await h.store.getMeta('term'))!)).toBe('010203');
      await h.store.putMeta('term', bytes(9));
      expect(hex((await h.store.getMeta('term'))!)).toBe('09');
    });

    test('keys are independent, including keys that prefix one another', async (h) => {
      const keys = ['term', 'term2', 'ter', 'vote', 'in-sync/set', 'clüster id', 'k'.repeat(256)];
      for (const [i, key] of keys.entries()) await h.store.putMeta(key, bytes(i, i + 1));
      for (const [i, key] of keys.entries()) expect(hex((await h.store.getMeta(key))!), key).toBe(hex(bytes(i, i + 1)));
    });

    test('an empty value round-trips as empty, not as missing', async (h) => {
      await h.store.putMeta('empty', new Uint8Array(0));
      const value = await h.store.getMeta('empty');
      expect(value).toBeInstanceOf(Uint8Array);
      expect(value?.length).toBe(0);
    });

    test('the store keeps its own copy of a value', async (h) => {
      const value = bytes(1, 2, 3);
      await h.store.putMeta('term', value);
      value[0] = 0xff;
      expect(hex((await h.store.getMeta('term'))!)).toBe('010203');
    });

    test('meta is untouched by appends and truncation, and is not in the log', async (h) => {
      await h.store.putMeta('a', bytes(7));
      await h.append(...h.log.segment(3, ['a']));
      await h.store.truncateAfter(0);
      expect(hex((await h.store.getMeta('a'))!)).toBe('07');
      expect(await h.store.read(1, { direction: 'forward', maxCount: 10, maxBytes: 1 << 20 })).toEqual([]);
      expect(await h.store.streamHead('a')).toBeUndefined();
    });

    test('a bad key or value is refused', async (h) => {
      await expectRejects(runner, () => h.store.putMeta('', bytes(1)), InvalidArgumentError);
      await expectRejects(runner, () => h.store.putMeta('k'.repeat(257), bytes(1)), InvalidArgumentError);
      await expectRejects(runner, () => h.store.getMeta(''), InvalidArgumentError);
      // A lone surrogate has no UTF-8 form: stored, 'k\uD800' and 'k\uFFFD' could share a key.
      await expectRejects(runner, () => h.store.putMeta('k\uD800', bytes(1)), InvalidArgumentError);
      await expectRejects(runner, () => h.store.getMeta('k\uDC00'), InvalidArgumentError);
      expect(await h.store.getMeta('k\uFFFD')).toBeUndefined();
      await expectRejects(runner, () => h.store.putMeta('term', [1, 2] as unknown as Uint8Array), InvalidArgumentError);
      expect(await h.store.getMeta('term')).toBeUndefined();
    });
  });
}
