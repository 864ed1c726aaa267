// kiln backup --max-rate's pacer, on a clock of its own: it waits only while the bytes copied are
// ahead of the rate since the start, and by exactly as long as they are.
import { describe, expect, it } from 'vitest';
import { Pacer, type PacerClock } from '../src/backup/pacer.js';

/** A clock that moves only when told to, or when the pacer sleeps; the sleeps are recorded. */
function heldClock(): PacerClock & { sleeps: number[]; pass(ms: number): void } {
  let nowMs = 1_000;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => nowMs,
    sleep: (ms) => {
      sleeps.push(ms);
      nowMs += ms;
      return Promise.resolve();
    },
    pass: (ms) => void (nowMs += ms),
  };
}

describe('Pacer', () => {
  it('holds a copy to its rate: a page ahead waits until it is due, a page behind does not wait', async () => {
    const clock = heldClock();
    const pacer = new Pacer(1_000, clock); // 1,000 bytes a second
    await pacer.copied(500); // due at 500 ms, copied at once
    expect(clock.sleeps).toEqual([500]);
    clock.pass(2_000); // the source was slow: 2,500 ms in, 1,300 bytes copied with the next page
    await pacer.copied(800);
    expect(clock.sleeps).toEqual([500]);
    await pacer.copied(1_700); // 3,000 bytes are due at 3,000 ms, 2,500 ms in
    expect(clock.sleeps).toEqual([500, 500]);
  });
});
