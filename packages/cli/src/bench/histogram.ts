/**
 * Latencies of a benchmark run in log-spaced buckets (0.5 % apart): percentiles over millions of
 * samples in a few kilobytes, cheap enough to read every second for the progress line.
 */

/** Relative width of a bucket: a percentile read back is within 0.5 % of the true value. */
const BUCKET_GROWTH = 1.005;
const LOG_GROWTH = Math.log(BUCKET_GROWTH);
/** The smallest latency told apart, in ms (1 µs); anything faster counts as this. */
const FLOOR_MS = 0.001;

export class LatencyHistogram {
  private counts = new Float64Array(4096);
  private total = 0;
  private sumMs = 0;
  private maxMs = 0;

  get count(): number {
    return this.total;
  }

  get max(): number {
    return this.maxMs;
  }

  get mean(): number {
    return this.total === 0 ? 0 : this.sumMs / this.total;
  }

  record(ms: number): void {
    const bucket = Math.max(0, Math.ceil(Math.log(Math.max(ms, FLOOR_MS) / FLOOR_MS) / LOG_GROWTH));
    if (bucket >= this.counts.length) this.grow(bucket);
    this.counts[bucket]!++;
    this.total++;
    this.sumMs += ms;
    if (ms > this.maxMs) this.maxMs = ms;
  }

  /** The latency at quantile `q` (0.99 for p99), in ms; 0 before any sample. */
  percentile(q: number): number {
    if (this.total === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.total));
    let seen = 0;
    for (let bucket = 0; bucket < this.counts.length; bucket++) {
      seen += this.counts[bucket]!;
      // A bucket's upper edge, but never above the largest sample seen.
      if (seen >= rank) return Math.min(FLOOR_MS * BUCKET_GROWTH ** bucket, this.maxMs);
    }
    return this.maxMs;
  }

  private grow(bucket: number): void {
    const counts = new Float64Array(Math.max(bucket + 1, this.counts.length * 2));
    counts.set(this.counts);
    this.counts = counts;
  }
}
