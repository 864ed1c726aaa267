/**
 * Retries of a transaction refused with `StreamBusyError`: a stream was held by a transaction over
 * several stripes still deciding. Nobody waits for a held stream (there is no distributed
 * deadlock), so the client tries again a bounded number of times, after a delay that doubles
 * each time (capped at a second), with jitter so that clients refused together do not return
 * together.
 */
import { StreamBusyError } from '../errors.js';
import { BUSY_RETRY_DELAY_MAX_MS } from '../limits.js';
import type { Random, Timers } from '../time.js';

export interface BusyRetrySettings {
  /** Tries after the first; 0 turns retrying off. */
  retries: number;
  /** Delay before the first retry, ms; each later one doubles it, up to `BUSY_RETRY_DELAY_MAX_MS`. */
  delayMs: number;
  timers: Timers;
  random: Random;
}

/**
 * Runs `attempt`, again while it fails with `StreamBusyError` and retries are left. Every
 * transaction passes here: a success costs the one promise that watches for the refusal.
 */
export function retryWhileBusy<T>(settings: BusyRetrySettings, attempt: () => Promise<T>): Promise<T> {
  const tryFrom = (tried: number): Promise<T> =>
    attempt().catch((error: unknown) => {
      if (!(error instanceof StreamBusyError) || tried >= settings.retries) throw error;
      const delay = Math.min(settings.delayMs * 2 ** tried, BUSY_RETRY_DELAY_MAX_MS) * (0.5 + settings.random.next());
      return new Promise<void>((resolve) => settings.timers.setTimeout(resolve, delay, { keepAlive: true })).then(() => tryFrom(tried + 1));
    });
  return tryFrom(0);
}
