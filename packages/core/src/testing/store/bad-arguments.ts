/** Illegal arguments give typed errors and change nothing. */
import { InvalidArgumentError, LogOrderError } from '../../errors.js';
import { defaultLogLimits } from '../../limits.js';
import type { EncodedRecord } from '../../log/record.js';
import type { Direction } from '../../store/store.js';
import { type Harness, type SuiteContext, expectRejects, snapshot } from './context.js';
import { makeRecord } from './records.js';

const MAX = Number.MAX_SAFE_INTEGER;

export function badArgumentTests({ runner, test }: SuiteContext): void {
  const { describe, expect } = runner;

  /** Fills a store, runs `attempt`, checks it failed with `type` and that the store is as it was and still takes the next append. */
  const refused = (name: string, type: typeof LogOrderError | typeof InvalidArgumentError, attempt: (h: Harness) => Promise<unknown>) =>
    test(name, async (h) => {
      await h.append(h.log.next(['a'], { term: 2 }), h.log.next([['a', 2], 'b'], { term: 3 }));
      await h.store.putMeta('term', new Uint8Array([3]));
      const before = await snapshot(h, ['a', 'b', 'c'], ['term']);
      await expectRejects(runner, () => attempt(h), type);
      expect(await snapshot(h, ['a', 'b', 'c'], ['term'])).toEqual(before);
      await h.append(h.log.next(['a', 'c']));
      expect(h.store.lastPosition).toEqual({ lsn: 3, term: 3 });
      expect(await h.store.streamHead('c')).toEqual({ lsn: 3, firstVersion: 0, eventCount: 1 });
    });
  const one = (lsn: number, term: number, stream = 'c'): EncodedRecord => makeRecord(lsn, term, [{ stream, firstVersion: 0, eventCount: 1 }]);

  describe('illegal arguments', () => {
    refused('an LSN gap is a LogOrderError', LogOrderError, (h) => h.store.append([one(4, 3)]));
    refused('an LSN already in the log is a LogOrderError', LogOrderError, (h) => h.store.append([one(2, 3)]));
    refused('a gap inside a segment is a LogOrderError, and none of it is written', LogOrderError, (h) =>
      h.store.append([one(3, 3), one(4, 3, 'd'), one(6, 3, 'e')]),
    );
    refused('a term lower than the last is a LogOrderError', LogOrderError, (h) => h.store.append([one(3, 2)]));
    refused('a term falling inside a segment is a LogOrderError', LogOrderError, (h) => h.store.append([one(3, 4), one(4, 3, 'd')]));
    refused('an empty segment is an InvalidArgumentError', InvalidArgumentError, (h) => h.store.append([]));
    refused('a segment of too many records is an InvalidArgumentError', InvalidArgumentError, (h) =>
      h.store.append(Array.from({ length: defaultLogLimits.groupCommitRecordsMax + 1 }, (_, i) => one(3 + i, 3, `s${i}`))),
    );
    refused('a segment of too many bytes is an InvalidArgumentError', InvalidArgumentError, (h) =>
      h.store.append([makeRecord(3, 3, [{ stream: 'c', firstVersion: 0, eventCount: 1 }], defaultLogLimits.groupCommitBytesMax)]),
    );
    for (const [label, stream] of [
      ['empty', ''],
      ['reserved', '$all'],
      ['too long', 'x'.repeat(defaultLogLimits.streamNameBytesMax + 1)],
      ['too long in UTF-8', 'ü'.repeat(defaultLogLimits.streamNameBytesMax / 2 + 1)],
    ] as const) {
      refused(`a ${label} stream name in a record is an InvalidArgumentError`, InvalidArgumentError, (h) => h.store.append([one(3, 3, stream)]));
      refused(`a ${label} stream name in an index read is an InvalidArgumentError`, InvalidArgumentError, (h) =>
        h.store.readStreamIndex(stream, 0, { direction: 'forward', maxCount: 1 }),
      );
    }
    // A lone surrogate has no UTF-8 form: a store keying its index by UTF-8 would file 'a\uD800',
    // 'a\uDC00' and 'a\uFFFD' under one key. `encodeRecord` refuses such a name, so the record
    // here says 'c' in its bytes and the bad name only in the `streams` a store indexes by.
    const named = (record: EncodedRecord, stream: string): EncodedRecord => ({ ...record, streams: record.streams.map((s) => ({ ...s, stream })) });
    for (const stream of ['a\uD800', 'a\uDC00', '\uD83D', 'c\uDE00c']) {
      const label = JSON.stringify(stream);
      refused(`a stream name with a lone surrogate (${label}) in a record is an InvalidArgumentError`, InvalidArgumentError, (h) =>
        h.store.append([named(one(3, 3), stream)]),
      );
      refused(`a stream name with a lone surrogate (${label}) in an index read is an InvalidArgumentError`, InvalidArgumentError, (h) =>
        h.store.readStreamIndex(stream, 0, { direction: 'backward', maxCount: 1 }),
      );
    }
    for (const lsn of [-1, 1.5, Number.NaN, Infinity]) {
      refused(`reading from LSN ${lsn} is an InvalidArgumentError`, InvalidArgumentError, (h) =>
        h.store.read(lsn, { direction: 'forward', maxCount: 1, maxBytes: 1 }),
      );
      refused(`truncating after LSN ${lsn} is an InvalidArgumentError`, InvalidArgumentError, (h) => h.store.truncateAfter(lsn));
    }
    const readBounds: Array<[string, number, number, string]> = [
      ['maxCount 0', 0, 1, 'forward'],
      ['maxCount above readCountMax', defaultLogLimits.readCountMax + 1, 1, 'backward'],
      ['maxBytes 0', 1, 0, 'forward'],
      ['an unknown direction', 1, 1, 'sideways'],
    ];
    for (const [label, maxCount, maxBytes, direction] of readBounds) {
      refused(`a read with ${label} is an InvalidArgumentError`, InvalidArgumentError, (h) =>
        h.store.read(1, { direction: direction as Direction, maxCount, maxBytes }),
      );
      if (label !== 'maxBytes 0') {
        refused(`an index read with ${label} is an InvalidArgumentError`, InvalidArgumentError, (h) =>
          h.store.readStreamIndex('a', 0, { direction: direction as Direction, maxCount }),
        );
      }
    }
    refused('an index read from a negative version is an InvalidArgumentError', InvalidArgumentError, (h) =>
      h.store.readStreamIndex('a', -1, { direction: 'backward', maxCount: 1 }),
    );
    refused('truncating after an LSN beyond the log is an InvalidArgumentError', InvalidArgumentError, (h) => h.store.truncateAfter(MAX));
  });
}
