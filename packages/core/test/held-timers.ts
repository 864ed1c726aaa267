import { systemTimers, type Timers } from '../src/time.js';

/** Timers whose timeouts run only when a test says so (`fire`); `defer` is the real one. */
export function heldTimers(): { timers: Timers; fire: (delayMs: number) => void } {
  const due: Array<{ delayMs: number; callback: () => void }> = [];
  const timers: Timers = {
    setTimeout(callback, delayMs) {
      const entry = { delayMs, callback };
      due.push(entry);
      return {
        cancel: () => {
          const i = due.indexOf(entry);
          if (i >= 0) due.splice(i, 1);
        },
      };
    },
    defer: systemTimers.defer,
  };
  /** Runs the timeouts set for `delayMs`. */
  const fire = (delayMs: number): void => {
    for (const entry of due.filter((e) => e.delayMs === delayMs)) {
      due.splice(due.indexOf(entry), 1);
      entry.callback();
    }
  };
  return { timers, fire };
}

/** Lets `count` event-loop turns pass. */
export async function turns(count: number): Promise<void> {
  for (let i = 0; i < count; i++) await new Promise((resolve) => setImmediate(resolve));
}
