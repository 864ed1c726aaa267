/**
 * A periodic timer that does not take its own process's stall for the world's. After SIGSTOP, a
 * long GC pause or a frozen VM, Node runs the timers that fell due before it reads the sockets, so
 * a sweep that judged then would see only the stall: the answers that came meanwhile still wait
 * to be read. A run late by more than `stallMs` is skipped, once: the next run comes after the
 * I/O waiting in this turn, and judges whatever its own lateness, so a process stalled over and
 * over still has its requests timed out.
 */
import type { Clock, TimerHandle, Timers } from '../time.js';

export class SweepTimer {
  private handle: TimerHandle | undefined;
  private cancelled = false;

  constructor(
    private readonly clock: Clock,
    private readonly timers: Timers,
    private readonly intervalMs: number,
    private readonly stallMs: number,
    private readonly run: (nowMs: number) => void,
  ) {}

  /** Starts the runs, every `intervalMs`; a second start restarts them. */
  start(): void {
    this.handle?.cancel();
    this.schedule(false);
  }

  cancel(): void {
    this.cancelled = true;
    this.handle?.cancel();
  }

  private schedule(skippedLast: boolean): void {
    const dueMs = this.clock.monotonicMs() + this.intervalMs;
    this.handle = this.timers.setTimeout(() => {
      if (this.cancelled) return;
      const nowMs = this.clock.monotonicMs();
      if (!skippedLast && nowMs - dueMs > this.stallMs) return this.schedule(true);
      this.run(nowMs);
      this.schedule(false);
    }, this.intervalMs);
  }
}
