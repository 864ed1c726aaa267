/** Collects counts, examples and warnings while the checks run. */
import { anomalyClasses, type AnomalyClass, type CheckCounts, type CheckResult } from './types.js';

/** How many examples (and warnings) a result keeps per class. */
export const maxExamples = 32;

/** A mutable tally the checks write into; {@link Report.result} freezes it into a {@link CheckResult}. */
export class Report {
  /** The counts so far. */
  readonly counts: CheckCounts;
  private readonly examples: Partial<Record<AnomalyClass, string[]>> = {};
  private readonly warnings: string[] = [];
  private complete = true;

  constructor() {
    const counts = { attempted: 0, acked: 0, read: 0, indeterminate: 0, recovered: 0 } as CheckCounts;
    for (const c of anomalyClasses) counts[c] = 0;
    this.counts = counts;
  }

  /** Counts one anomaly of class `kind`; `describe` runs only while examples are still kept. */
  anomaly(kind: AnomalyClass, describe: () => string): void {
    this.counts[kind]++;
    let list = this.examples[kind];
    if (!list) this.examples[kind] = list = [];
    if (list.length < maxExamples) list.push(describe());
  }

  /** Records a finding that does not decide validity. */
  warn(describe: () => string): void {
    if (this.warnings.length < maxExamples) this.warnings.push(describe());
  }

  /** Marks the run as impossible to judge (no final log): it cannot be valid. */
  incomplete(reason: string): void {
    this.complete = false;
    this.warn(() => reason);
  }

  /** The verdict. */
  result(): CheckResult {
    const valid = this.complete && anomalyClasses.every((c) => this.counts[c] === 0);
    return { valid, counts: this.counts, examples: this.examples, warnings: this.warnings };
  }
}
