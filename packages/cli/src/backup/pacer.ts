/**
 * Holds a copy to a byte rate (`kiln backup --max-rate`): after each piece, it waits until the
 * bytes so far are no ahead of the rate since the start, so the server the copy reads from spends
 * at most that much of its time on it (pg_basebackup's `--max-rate`).
 */
export interface PacerClock {
  /** Milliseconds, from any start. */
  now(): number;
  sleep(ms: number): Promise<void>;
}

const systemPacerClock: PacerClock = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export class Pacer {
  private readonly startedMs: number;
  private bytes = 0;

  /** @param bytesPerSecond the rate, > 0 */
  constructor(
    private readonly bytesPerSecond: number,
    private readonly clock: PacerClock = systemPacerClock,
  ) {
    this.startedMs = clock.now();
  }

  /** Counts `bytes` copied; resolves once the copy is back at the rate. */
  async copied(bytes: number): Promise<void> {
    this.bytes += bytes;
    const dueMs = this.startedMs + (this.bytes / this.bytesPerSecond) * 1000;
    const aheadMs = dueMs - this.clock.now();
    if (aheadMs > 0) await this.clock.sleep(aheadMs);
  }
}
