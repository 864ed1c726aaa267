/**
 * A histogram of fixed buckets, counted with plain numbers: the commit path observes into it at
 * no more cost than a short loop, and a metrics endpoint reads it when scraped.
 */
export class Histogram {
  /** Observations at or under each bound, not cumulative: `counts[i]` falls in `(bounds[i-1], bounds[i]]`; the last slot is over every bound. */
  readonly counts: number[];
  sum = 0;
  count = 0;

  /** @param bounds upper bounds, ascending, in the unit observed */
  constructor(readonly bounds: readonly number[]) {
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }

  observe(value: number): void {
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }

  /** Cumulative counts per bound, as Prometheus buckets are, `+Inf` last. */
  cumulative(): Array<{ le: number; count: number }> {
    let running = 0;
    const out = this.bounds.map((le, i) => ({ le, count: (running += this.counts[i]!) }));
    out.push({ le: Infinity, count: this.count });
    return out;
  }
}
