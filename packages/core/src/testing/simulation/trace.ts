/**
 * The event trace of one simulation run, folded into an FNV-1a hash as it grows: two runs of one
 * seed must give the same hash, bit for bit (RELIABILITY.md §3.3 reproducibility bar).
 */

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** Options of {@link Trace}. */
export interface TraceOptions {
  /**
   * Trace lines kept in memory for a report (the last ones); 0 keeps none and only hashes.
   * @default 0
   */
  linesKept?: number;
}

/** An append-only event trace with a running FNV-1a (32-bit) hash. */
export class Trace {
  private hashValue = FNV_OFFSET;
  private count = 0;
  private readonly kept: string[] = [];
  private readonly linesKept: number;

  constructor(options: TraceOptions = {}) {
    this.linesKept = options.linesKept ?? 0;
  }

  /** Adds one line (with the virtual time it happened at) to the trace. */
  add(timeMs: number, line: string): void {
    this.count++;
    this.hashValue = this.mixString(this.hashValue, `${timeMs}|${line}\n`);
    if (this.linesKept > 0) {
      this.kept.push(`${timeMs.toFixed(3).padStart(12)} ${line}`);
      if (this.kept.length > this.linesKept * 2) this.kept.splice(0, this.kept.length - this.linesKept);
    }
  }

  /** Mixes raw bytes (a frame's contents) into the hash without keeping them. */
  addBytes(bytes: Uint8Array): void {
    let h = this.hashValue;
    for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, FNV_PRIME) >>> 0;
    this.hashValue = h;
  }

  /** The hash so far, as 8 hex digits. */
  get hash(): string {
    return this.hashValue.toString(16).padStart(8, '0');
  }

  /** Lines added so far. */
  get length(): number {
    return this.count;
  }

  /** The last lines kept (see {@link TraceOptions.linesKept}). */
  lines(): string[] {
    return this.kept.slice(-this.linesKept);
  }

  private mixString(hash: number, text: string): number {
    let h = hash;
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i);
      h = Math.imul(h ^ (code & 0xff), FNV_PRIME) >>> 0;
      if (code > 0xff) h = Math.imul(h ^ (code >>> 8), FNV_PRIME) >>> 0;
    }
    return h;
  }
}
