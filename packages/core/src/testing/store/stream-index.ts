/** The stream index: `readStreamIndex` forward and backward exactly as the Store contract words it, and `streamHead`. */
import type { IndexReadOptions } from '../../store/store.js';
import type { Harness, SuiteContext } from './context.js';

const MAX = Number.MAX_SAFE_INTEGER;

export function streamIndexTests({ runner, test }: SuiteContext): void {
  const { describe, expect } = runner;
  const fwd = (maxCount = 4096): IndexReadOptions => ({ direction: 'forward', maxCount });
  const back = (maxCount = 4096): IndexReadOptions => ({ direction: 'backward', maxCount });

  describe('stream index', () => {
    // a: v0-2 at 1, v3 at 3 (with b), v4-8 at 4 (a run of five); b: v0 at 2, v1 at 3.
    const fill = async (h: Harness) => {
      await h.append(h.log.next([['a', 3]]), h.log.next(['b']));
      await h.append(h.log.next(['a', 'b']), h.log.next([['a', 5]]));
    };

    test('forward returns the entries whose last version is at or after fromVersion, ascending', async (h) => {
      await fill(h);
      const a = (from: number, maxCount?: number) => h.store.readStreamIndex('a', from, fwd(maxCount));
      const e1 = { lsn: 1, firstVersion: 0, eventCount: 3 };
      const e3 = { lsn: 3, firstVersion: 3, eventCount: 1 };
      const e4 = { lsn: 4, firstVersion: 4, eventCount: 5 };
      expect(await a(0)).toEqual([e1, e3, e4]);
      expect(await a(2)).toEqual([e1, e3, e4]);
      expect(await a(3)).toEqual([e3, e4]);
      expect(await a(4)).toEqual([e4]);
      expect(await a(8)).toEqual([e4]);
      expect(await a(9)).toEqual([]);
      expect(await a(MAX)).toEqual([]);
      expect(await a(0, 2)).toEqual([e1, e3]);
      expect(await a(6, 1)).toEqual([e4]);
    });

    test('backward returns the entries whose first version is at or before fromVersion, descending', async (h) => {
      await fill(h);
      const a = (from: number, maxCount?: number) => h.store.readStreamIndex('a', from, back(maxCount));
      const e1 = { lsn: 1, firstVersion: 0, eventCount: 3 };
      const e3 = { lsn: 3, firstVersion: 3, eventCount: 1 };
      const e4 = { lsn: 4, firstVersion: 4, eventCount: 5 };
      expect(await a(0)).toEqual([e1]);
      expect(await a(2)).toEqual([e1]);
      expect(await a(3)).toEqual([e3, e1]);
      expect(await a(6)).toEqual([e4, e3, e1]);
      expect(await a(MAX)).toEqual([e4, e3, e1]);
      expect(await a(MAX, 2)).toEqual([e4, e3]);
      expect(await a(3, 1)).toEqual([e3]);
    });

    test('a record holding several streams indexes each of them', async (h) => {
      await fill(h);
      expect(await h.store.readStreamIndex('b', 0, fwd())).toEqual([
        { lsn: 2, firstVersion: 0, eventCount: 1 },
        { lsn: 3, firstVersion: 1, eventCount: 1 },
      ]);
      expect(await h.store.readStreamIndex('b', 1, back())).toEqual([
        { lsn: 3, firstVersion: 1, eventCount: 1 },
        { lsn: 2, firstVersion: 0, eventCount: 1 },
      ]);
      // Every entry points at a record that wrote exactly that run to that stream.
      for (const stream of ['a', 'b']) {
        for (const entry of await h.store.readStreamIndex(stream, 0, fwd())) {
          const [record] = await h.store.readRecords(entry.lsn, { direction: 'forward', maxCount: 1, maxBytes: 1 });
          const append = record?.appends.find((x) => x.stream === stream);
          expect(append && { firstVersion: append.firstVersion, eventCount: append.eventCount }).toEqual({
            firstVersion: entry.firstVersion,
            eventCount: entry.eventCount,
          });
        }
      }
    });

    test('streamHead gives the last entry, or undefined for a stream with no events', async (h) => {
      expect(await h.store.streamHead('a')).toBeUndefined();
      await fill(h);
      expect(await h.store.streamHead('a')).toEqual({ lsn: 4, firstVersion: 4, eventCount: 5 });
      expect(await h.store.streamHead('b')).toEqual({ lsn: 3, firstVersion: 1, eventCount: 1 });
      expect(await h.store.streamHead('c')).toBeUndefined();
      expect(await h.store.readStreamIndex('c', 0, fwd())).toEqual([]);
      expect(await h.store.readStreamIndex('c', MAX, back())).toEqual([]);
    });

    test('streams whose names share a prefix, or hold unusual characters, stay apart', async (h) => {
      const names = ['order', 'order-1', 'order-10', 'order-1\u0000', 'örder-ü', 'order/1', 'x'.repeat(512), 'o'];
      for (const [i, name] of names.entries()) await h.append(...h.log.segment(i + 1, [name, 'other']));
      for (const name of names) {
        expect(await h.store.readStreamIndex(name, 0, fwd()), name).toEqual(h.log.index(name, 0, fwd()));
        expect(await h.store.readStreamIndex(name, MAX, back()), name).toEqual(h.log.index(name, MAX, back()));
        expect((await h.store.streamHead(name))?.lsn, name).toBe(h.log.index(name, MAX, back(1))[0]?.lsn);
      }
    });

    test('well-formed names that a lossy UTF-8 encoding would merge stay apart', async (h) => {
      // A lone surrogate becomes U+FFFD in UTF-8; every name here is well-formed, and each is its own stream.
      const names = ['a\uFFFD', 'a\uFFFD\uFFFD', 'a\uD83D\uDE00', 'a\uD83D\uDE01', 'a\uD800\uDC00', 'a', '\uFFFD', '\uD83D\uDE00'];
      for (const [i, name] of names.entries()) await h.append(...h.log.segment(i + 1, [name]));
      for (const name of names) {
        expect(await h.store.readStreamIndex(name, 0, fwd()), JSON.stringify(name)).toEqual(h.log.index(name, 0, fwd()));
        expect(await h.store.streamHead(name), JSON.stringify(name)).toEqual(h.log.index(name, MAX, back(1))[0]);
      }
      expect(await h.store.streamHead('a\uFFFD\uFFFD\uFFFD')).toBeUndefined();
    });

    test('matches the contract for every fromVersion over runs of varied length', async (h) => {
      // Runs of 1 to 7 events on 's', interleaved with other streams, in segments of varied size.
      const lengths = [1, 3, 1, 7, 2, 2, 5, 1, 1, 4, 6, 1, 3, 2, 7, 1];
      for (let round = 0; round < 4; round++) {
        const segment = lengths.map((n, i) => h.log.next(i % 3 === 0 ? [['s', n], 't'] : [['s', n]]));
        await h.store.append(segment);
      }
      const total = h.log.nextVersion('s');
      for (let from = 0; from <= total + 1; from++) {
        for (const options of [fwd(), back(), fwd(3), back(3), fwd(1), back(1)]) {
          expect(await h.store.readStreamIndex('s', from, options), `${options.direction} ${from} ${options.maxCount}`).toEqual(
            h.log.index('s', from, options),
          );
        }
      }
    });
  });
}
