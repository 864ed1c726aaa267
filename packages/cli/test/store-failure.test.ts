// How kiln words a failed store: a full disk (ENOSPC) named as such, with the data directory, in
// one line; before, a store that could not open on a full disk printed a stack trace, and a store
// failure while serving said only "store failure, exiting".
import { StoreFailedError } from '@kiln/core';
import { describe, expect, it } from 'vitest';
import { describeFailure } from '../src/failure.js';
import { isDiskFull, storeFailureLine } from '../src/store-failure.js';

/** LevelDB's error for a write cut by ENOSPC: the words are in the message only. */
const levelNoSpace = (): Error => Object.assign(new Error('IO error: /data/s1/000005.log: No space left on device'), { code: 'LEVEL_IO_ERROR' });

describe("a full disk in kiln's last line", () => {
  it("finds ENOSPC in a cause, by code or by the system's words, and nothing else", () => {
    expect(isDiskFull(new StoreFailedError({ cause: levelNoSpace() }))).toBe(true);
    expect(isDiskFull(Object.assign(new Error('write'), { code: 'ENOSPC' }))).toBe(true);
    expect(isDiskFull(new StoreFailedError({ cause: new Error('IO error: /data/s1/000005.log: Input/output error') }))).toBe(false);
    const loop: Error & { cause?: unknown } = new Error('a');
    loop.cause = loop;
    expect(isDiskFull(loop)).toBe(false);
  });

  it("names the full disk and the directory when a write fails while serving, and only the store's words otherwise", () => {
    const full = storeFailureLine(new StoreFailedError({ cause: levelNoSpace() }), '/data/s1');
    expect(full).toMatch(/^kiln: store failure, exiting: the disk is full \(ENOSPC\): the store in \/data\/s1 cannot write \(IO error: .*No space left on device\); free space/);
    expect(storeFailureLine(new StoreFailedError({ cause: new Error('IO error: bad block') }), '/data/s1')).toBe('kiln: store failure, exiting: the store in /data/s1 failed a write (IO error: bad block)');
  });

  it('ends a start on a full disk with one line and status 1, not a stack trace', () => {
    const open = new Error(`cannot open the store at /data/s1: ${levelNoSpace().message}`, { cause: levelNoSpace() });
    const { line, code } = describeFailure(open);
    expect(code).toBe(1);
    expect(line).toBe('kiln: the disk is full (ENOSPC): cannot open the store at /data/s1: IO error: /data/s1/000005.log: No space left on device; free space on that disk, then start again');
    // Any other untyped error is still a bug, and traced.
    expect(describeFailure(new Error('cannot open the store at /data/s1: something else')).line).toContain('\n    at ');
  });
});
