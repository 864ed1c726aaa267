/**
 * The slow-down of guessing: after a failed authentication, attempts from the same address go one
 * at a time, each waiting a delay that doubles with every failure (from
 * `AUTH_FAILURE_DELAY_MIN_MS` to `AUTH_FAILURE_DELAY_MAX_MS`). Attempts are spaced, not only
 * their answers, so opening many connections at once guesses no faster; an attempt that would
 * wait past the longest delay is refused unchecked. The table is bounded: an address is
 * forgotten after `AUTH_FAILURE_FORGET_MS` without failures, the oldest first when it is full.
 *
 * @packageDocumentation
 */
import { AUTH_FAILURE_ADDRESSES_MAX, AUTH_FAILURE_DELAY_MAX_MS, AUTH_FAILURE_DELAY_MIN_MS, AUTH_FAILURE_FORGET_MS } from '../limits.js';
import { OldestKeys } from '../oldest-keys.js';
import type { Clock, Timers } from '../time.js';

interface Failures {
  delayMs: number;
  /** When the next attempt from the address may be checked, on the monotonic clock. */
  nextAtMs: number;
  lastFailureMs: number;
}

export class FailureGate {
  /** In order of last failure: the first is the oldest. */
  private readonly table = new Map<string, Failures>();
  private readonly oldest = new OldestKeys(this.table);

  constructor(
    private readonly clock: Clock,
    private readonly timers: Timers,
  ) {}

  /** Waits for the address's turn. @returns false when the wait would be too long: refuse at once */
  admit(address: string): Promise<boolean> {
    const entry = this.current(address);
    if (entry === undefined) return Promise.resolve(true);
    const now = this.clock.monotonicMs();
    const turn = Math.max(now, entry.nextAtMs);
    if (turn - now > AUTH_FAILURE_DELAY_MAX_MS) return Promise.resolve(false);
    entry.nextAtMs = turn + entry.delayMs;
    if (turn === now) return Promise.resolve(true);
    return new Promise((resolve) => this.timers.setTimeout(() => resolve(true), turn - now));
  }

  /** Records a failed attempt from `address`: its next attempt waits twice as long as the last. */
  failed(address: string): void {
    const now = this.clock.monotonicMs();
    const entry = this.current(address);
    const delayMs = entry === undefined ? AUTH_FAILURE_DELAY_MIN_MS : Math.min(entry.delayMs * 2, AUTH_FAILURE_DELAY_MAX_MS);
    this.table.delete(address);
    if (this.table.size >= AUTH_FAILURE_ADDRESSES_MAX) this.oldest.deleteOldest();
    this.table.set(address, { delayMs, nextAtMs: Math.max(entry?.nextAtMs ?? 0, now + delayMs), lastFailureMs: now });
  }

  /** The address's failures, unless forgotten. */
  private current(address: string): Failures | undefined {
    const entry = this.table.get(address);
    if (entry !== undefined && this.clock.monotonicMs() - entry.lastFailureMs > AUTH_FAILURE_FORGET_MS) {
      this.table.delete(address);
      return undefined;
    }
    return entry;
  }

  /** Addresses remembered (for tests of the bound). */
  get size(): number {
    return this.table.size;
  }
}
