/**
 * The gate a subscription's deliveries from one stripe pass: it holds them, in order, while the
 * stripe's epoch is asked of its server, when the subscription needs it and at the first delivery
 * after every reconnect. A reconnect may reach a log that started over (a memory-mode stripe that
 * lost every server and came back within the client's `reconnectWindowMs`); resumed by LSN or by
 * version, the subscription would go on in the new log where it stood in the old one, skipping the
 * new log's first events. The subscription's judge fails it with `StripeEpochChangedError` instead.
 */
import { PositionAheadError, type KilnError } from '../errors.js';
import type { TopologyRouter } from './topology-router.js';

export interface GateHandlers<T> {
  /** Takes a delivery the gate lets through. */
  take(delivery: T): void;
  /**
   * Judges the stripe's epoch as its server gave it; `refused` when the stripe refused the resume
   * (with `PositionAheadError`). @throws StripeEpochChangedError when the log started over
   */
  judge(epoch: number, refused: boolean): void;
  /** Ends the subscription with an error. */
  fail(error: unknown): void;
}

export class EpochGate<T> {
  private waiting: T[] | undefined;
  /** Subscribe requests sent: the first starts the subscription, each later one resumes it after a reconnect. */
  private starts = 0;
  /** The start whose connection the epoch was last judged on. */
  private judgedStart = 1;

  constructor(
    private readonly router: TopologyRouter,
    private readonly stripe: number,
    private readonly handlers: GateHandlers<T>,
  ) {}

  /** A subscribe request went out. */
  started(): void {
    this.starts++;
  }

  /** Passes a delivery on, or holds it with those behind it until the epoch is judged: after a reconnect, or when `needsEpoch`. */
  pass(delivery: T, needsEpoch: boolean): void {
    if (this.waiting) return void this.waiting.push(delivery);
    if (this.judgedStart === this.starts && !needsEpoch) return this.handlers.take(delivery);
    this.waiting = [delivery];
    this.judgeEpoch(false).then(
      () => {
        const held = this.waiting!;
        this.waiting = undefined;
        for (const next of held) this.handlers.take(next);
      },
      (error: unknown) => this.handlers.fail(error),
    );
  }

  /** The stripe refused the subscription: after a reconnect, a resume past the end may be a log that started over, which the judge then says. */
  refuse(error: KilnError): void {
    if (!(error instanceof PositionAheadError) || this.judgedStart === this.starts) return this.handlers.fail(error);
    this.judgeEpoch(true).then(
      () => this.handlers.fail(error),
      (changed: unknown) => this.handlers.fail(changed),
    );
  }

  /** Asks the stripe's epoch, again if the subscription resumed meanwhile, and judges it. */
  private async judgeEpoch(refused: boolean): Promise<void> {
    for (;;) {
      const start = this.starts;
      const epoch = await this.router.ownEpoch(this.stripe);
      if (start !== this.starts) continue;
      this.handlers.judge(epoch, refused);
      this.judgedStart = start;
      return;
    }
  }
}
