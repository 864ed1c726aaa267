/**
 * The seams through which the server reads time and chance. The state machine takes these as
 * arguments and touches no global clock or timer, so a simulation can drive it from a seed.
 */

/** A clock. `monotonicMs` never goes backwards and drives every timeout and lease. */
export interface Clock {
  /** Milliseconds on a monotonic clock with an arbitrary origin. */
  monotonicMs(): number;
  /** Milliseconds since the Unix epoch; only ever recorded, never used to order or time out. */
  wallMs(): number;
}

/** A handle returned by {@link Timers.setTimeout}. */
export interface TimerHandle {
  cancel(): void;
}

/** Timers. */
export interface Timers {
  /**
   * Runs `callback` after `delayMs`. Where the platform has the notion, the timer keeps the
   * process alive only when `keepAlive` is set: a server's housekeeping never does, a client
   * waiting to reconnect with requests in flight does.
   */
  setTimeout(callback: () => void, delayMs: number, options?: { keepAlive?: boolean }): TimerHandle;
  /** Runs `callback` soon, after the I/O already waiting in this turn (group commit gathers there). */
  defer(callback: () => void): void;
}

/** A source of randomness. */
export interface Random {
  /** A float in [0, 1). */
  next(): number;
  /** A random RFC 4122 version 4 UUID. */
  uuid(): string;
}

/** The process's own clock. */
export const systemClock: Clock = {
  monotonicMs: () => performance.now(),
  wallMs: () => Date.now(),
};

/** The process's own timers; they do not keep the process alive on their own. */
export const systemTimers: Timers = {
  setTimeout(callback, delayMs, options) {
    const id = setTimeout(callback, delayMs) as unknown as { unref?: () => void };
    if (!options?.keepAlive) id.unref?.();
    return { cancel: () => clearTimeout(id as unknown as number) };
  },
  defer: (callback) => deferImpl(callback),
};

// setImmediate runs after pending I/O callbacks, so one turn's requests share a commit; where it
// does not exist (a browser), a zero timeout does the same job.
const globalScope = globalThis as { setImmediate?: (callback: () => void) => unknown };
const deferImpl: (callback: () => void) => void =
  typeof globalScope.setImmediate === 'function' ? (callback) => void globalScope.setImmediate!(callback) : (callback) => void setTimeout(callback, 0);

/** `Math.random` and `crypto.randomUUID`. */
export const systemRandom: Random = {
  next: () => Math.random(),
  uuid: () => crypto.randomUUID(),
};
