/**
 * A client's outage, from a lost connection or a server that is not the active until a server
 * answers as the active: it numbers the attempts to find one, for the single `reconnecting`
 * status each makes, and spaces them out, the delay doubling up to `RECONNECT_DELAY_MAX_MS` with
 * jitter, so that many clients left without an active neither flood their `status$` nor come back
 * to the servers in step.
 */
import { RECONNECT_DELAY_MAX_MS, RECONNECT_DELAY_MIN_MS } from '../limits.js';
import type { OperationName } from '../protocol/operations.js';
import type { Random } from '../time.js';

/** Operations a server answers whether or not it is the active. */
const ANSWERED_BY_ANY_SERVER: ReadonlySet<OperationName> = new Set<OperationName>(['ping', 'status', 'topology', 'logDigest', 'rangeDigest', 'diverged']);

/**
 * True when an answer comes from the active only: to request `op`, or (no op: no request waits
 * for it) to a subscribe. Any server answers a ping or a status, so those end no outage.
 */
export function answeredAsActive(op: OperationName | undefined, subscription: boolean): boolean {
  return op === undefined ? subscription : !ANSWERED_BY_ANY_SERVER.has(op);
}

export class Outage {
  private attempts = 0;

  constructor(private readonly random: Random) {}

  /** Starts the next attempt; returns its number, from 1. */
  nextAttempt(): number {
    return ++this.attempts;
  }

  /** The pause before the next attempt: half to one and a half times the doubled delay. */
  delayMs(): number {
    const base = Math.min(RECONNECT_DELAY_MIN_MS * 2 ** Math.min(this.attempts, 16), RECONNECT_DELAY_MAX_MS);
    return base * (0.5 + this.random.next());
  }

  /** A server answered as the active (or the client gave up): the next outage counts from 1. */
  end(): void {
    this.attempts = 0;
  }
}
