// The active's catch-up progress lines, driven by fake timers and a scripted mirror: a mirror
// whose acks stopped arriving is reported as making no progress (not given a time left from a
// stale rate), one catching up normally gets the rate and time left it really makes, and a step
// of the wall clock neither silences nor floods the report.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { MirrorStatus } from '@kiln/core';
import { CATCH_UP_LOG_EVERY_MS, logCatchUp } from '../src/catch-up-log.js';

/** A scripted mirror: the test moves its acknowledged LSN and the active's log end. */
class ScriptedMirror {
  ackedLsn = 1000;
  lastLsn = 8000;
  /** The server's own rate: its last second only. */
  rate = 0;
  reachable = true;

  status(): MirrorStatus {
    return { name: 's2', ackedLsn: this.ackedLsn, lag: this.lastLsn - this.ackedLsn, inSync: false, rate: this.rate, reachable: this.reachable };
  }
}

let stop: (() => void) | undefined;
let lines: Array<{ line: string; fields: Record<string, unknown> }>;

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout', 'Date', 'performance'] });
  lines = [];
});

afterEach(() => {
  stop?.();
  stop = undefined;
  vi.useRealTimers();
});

function watch(mirror: ScriptedMirror): void {
  stop = logCatchUp(() => [mirror.status()], (line, fields = {}) => lines.push({ line, fields }));
}

/** Advances the fake clocks by `ms`, one second at a time, calling `eachSecond` before each. */
function run(ms: number, eachSecond: () => void = () => undefined): void {
  for (let t = 0; t < ms; t += 1000) {
    eachSecond();
    vi.advanceTimersByTime(1000);
  }
}

describe('how often the catch-up report looks', () => {
  // It built the server's whole observation every second, in every server: the largest idle cost of a one-server stripe.
  it('never looks at a server in no group, and at a group without a mirror every 5 s only, until one is added', () => {
    let looks = 0;
    stop = logCatchUp(() => (looks++, undefined), () => undefined);
    run(60_000);
    expect(looks).toBe(1);

    stop();
    const mirror = new ScriptedMirror();
    let mirrors: MirrorStatus[] = [];
    looks = 0;
    stop = logCatchUp(() => (looks++, mirrors), (line, fields = {}) => lines.push({ line, fields }));
    run(60_000);
    // The check at the start, then one look a second, then one every 5 s.
    expect(looks).toBeLessThanOrEqual(1 + 1 + 60_000 / CATCH_UP_LOG_EVERY_MS);
    mirrors = [mirror.status()];
    run(CATCH_UP_LOG_EVERY_MS);
    expect(lines.map((l) => l.line)).toEqual([expect.stringMatching(/^kiln: mirror s2 catching up: 7000 records to go/)]);
    looks = 0;
    run(10_000);
    expect(looks).toBe(10);
  });
});

describe('the catch-up progress line', () => {
  it('says how long a mirror made no progress when its acks stop arriving, not a time left from a stale rate', () => {
    const mirror = new ScriptedMirror();
    watch(mirror);
    // Catching up at 500 records/s, then its acks stop (one direction of its link dropped): the
    // active's log grows on, and the server's last rate stays a trickle that says nothing.
    run(3000, () => {
      mirror.ackedLsn += 500;
      mirror.rate = 500;
    });
    lines.length = 0;
    run(12_000, () => {
      mirror.lastLsn += 100;
      mirror.rate = 3;
    });
    expect(lines.length).toBeGreaterThan(0);
    for (const { line } of lines) expect(line).not.toMatch(/s left/);
    const last = lines[lines.length - 1]!;
    expect(last.line).toMatch(/^kiln: mirror s2 catching up: \d+ records to go, no progress for (\d+) s$/);
    const seconds = Number(/no progress for (\d+) s/.exec(last.line)![1]);
    expect(seconds).toBeGreaterThanOrEqual(8);
    expect(seconds).toBeLessThanOrEqual(12);
    expect(last.fields).toMatchObject({ mirror: 's2', secondsLeft: null, secondsWithoutProgress: seconds });

    // Once its acks arrive again, the report goes back to a rate and a time left.
    lines.length = 0;
    run(CATCH_UP_LOG_EVERY_MS + 1000, () => {
      mirror.ackedLsn += 1000;
      mirror.rate = 1000;
    });
    expect(lines[lines.length - 1]!.line).toMatch(/records\/s, about \d+ s left$/);
  });

  it('gives a mirror catching up normally the rate it acknowledges at and a time left that fits it', () => {
    // 20,000 records behind, appends going on at 200/s, the mirror acknowledging 1,200/s in
    // uneven bursts (the server's one-second rate jumps between 2,400 and 0).
    const mirror = new ScriptedMirror();
    mirror.lastLsn = mirror.ackedLsn + 20_000;
    watch(mirror);
    let second = 0;
    run(16_000, () => {
      mirror.lastLsn += 200;
      const burst = second++ % 2 === 0 ? 2400 : 0;
      mirror.ackedLsn += burst;
      mirror.rate = burst;
    });
    const reports = lines.map(({ line, fields }) => ({ line, ...(fields as { recordsToGo: number; rate: number; secondsLeft: number | null }) }));
    // Seen at once, then every 5 s: three lines past the first in 16 s.
    expect(reports.length).toBe(4);
    for (const r of reports.slice(1)) {
      expect(r.line).toMatch(/^kiln: mirror s2 catching up: \d+ records to go at \d+ records\/s, about \d+ s left$/);
      expect(r.rate).toBeGreaterThanOrEqual(900);
      expect(r.rate).toBeLessThanOrEqual(1500);
      // The time left at that rate: the records to go over the rate, within a second.
      expect(r.secondsLeft).toBe(Math.ceil(r.recordsToGo / r.rate));
      expect(r.secondsLeft).toBeLessThan(25);
    }
  });

  it('keeps reporting every 5 s across a wall-clock step back or forward', () => {
    const mirror = new ScriptedMirror();
    mirror.lastLsn = mirror.ackedLsn + 1_000_000;
    watch(mirror);
    const step = () => {
      mirror.ackedLsn += 100;
      mirror.rate = 100;
    };
    run(1000, step);
    expect(lines.length).toBe(1);
    // The wall clock steps back a minute (NTP, an operator): the next line is still due in 5 s.
    vi.setSystemTime(Date.now() - 60_000);
    run(CATCH_UP_LOG_EVERY_MS, step);
    expect(lines.length).toBe(2);
    // And forward five minutes: no burst of lines either.
    vi.setSystemTime(Date.now() + 300_000);
    run(2000, step);
    expect(lines.length).toBe(2);
    run(CATCH_UP_LOG_EVERY_MS - 2000, step);
    expect(lines.length).toBe(3);
  });
});
