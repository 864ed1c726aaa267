// The log of failed authentications stays bounded: a flood writes AUTH_FAILURE_LOG_LINES_MAX
// lines a window, then one line counting the rest when the window ends; a line names the address
// and the user, quoted and cut, and never a password or token.
import { describe, expect, it } from 'vitest';
import { FailureLog } from '../src/auth/failure-log.js';
import { AUTH_FAILURE_LOG_LINES_MAX, AUTH_FAILURE_LOG_WINDOW_MS } from '../src/limits.js';
import type { Timers } from '../src/time.js';

/** A clock moved by hand, and timers that fire when it passes them. */
function manualTime() {
  let now = 0;
  const due: Array<{ at: number; run: () => void }> = [];
  const timers: Timers = {
    setTimeout: (run, delayMs) => {
      const timer = { at: now + delayMs, run };
      due.push(timer);
      return { cancel: () => void due.splice(due.indexOf(timer), 1) };
    },
    defer: (run) => run(),
  };
  const advance = (ms: number): void => {
    now += ms;
    for (const timer of due.filter((t) => t.at <= now)) {
      due.splice(due.indexOf(timer), 1);
      timer.run();
    }
  };
  return { clock: { monotonicMs: () => now, wallMs: () => now }, timers, advance };
}

describe('FailureLog', () => {
  it('logs a window’s first failures one by one, counts the rest in one line at its end, then starts again', () => {
    const { clock, timers, advance } = manualTime();
    const lines: string[] = [];
    const log = new FailureLog((line) => lines.push(line), 's1', clock, timers);
    const flood = AUTH_FAILURE_LOG_LINES_MAX + 500;
    for (let i = 0; i < flood; i++) log.failed(`tcp://10.0.0.${i % 250}:4000`, { username: 'alice', password: 'hunter2-secret' });
    expect(lines).toHaveLength(AUTH_FAILURE_LOG_LINES_MAX);
    expect(lines[0]).toBe('s1: authentication failed from tcp://10.0.0.0:4000 (user "alice")');
    advance(AUTH_FAILURE_LOG_WINDOW_MS - 1);
    expect(lines).toHaveLength(AUTH_FAILURE_LOG_LINES_MAX);
    advance(1);
    expect(lines).toHaveLength(AUTH_FAILURE_LOG_LINES_MAX + 1);
    expect(lines.at(-1)).toBe(`s1: authentication failed 500 more time(s) in the last ${AUTH_FAILURE_LOG_WINDOW_MS / 1000} s, not logged one by one`);
    log.failed('tcp://10.0.0.9:4000', { token: 'kiln_secret-token' });
    expect(lines.at(-1)).toBe('s1: authentication failed from tcp://10.0.0.9:4000 (a token)');
    expect(lines.join('\n')).not.toMatch(/hunter2|kiln_secret/);
  });

  it('quotes and cuts a user name, so a client cannot forge lines', () => {
    const { clock, timers } = manualTime();
    const lines: string[] = [];
    const log = new FailureLog((line) => lines.push(line), 's1', clock, timers);
    log.failed('tcp://10.0.0.1:1', { username: `bob\nkiln: s1 is ACTIVE${'x'.repeat(300)}`, password: 'p' });
    log.failed('tcp://10.0.0.1:1', undefined);
    expect(lines[0]).toMatch(/^s1: authentication failed from tcp:\/\/10\.0\.0\.1:1 \(user "bob\\nkiln: s1 is ACTIVEx+…"\)$/);
    expect(lines[0]!.length).toBeLessThan(140);
    expect(lines[1]).toBe('s1: authentication failed from tcp://10.0.0.1:1 (no credentials)');
  });
});
