/** `kiln bench`'s output: the live progress line, the final table, and the JSON form of a run. */
import type { LoadCounters, LoadResult } from './load.js';
import type { BenchSettings } from './settings.js';

/** The result of a run as `kiln bench --json` prints it. */
export interface BenchReport {
  shape: BenchSettings['shape'];
  urls: string[];
  clients: number;
  inFlight: number;
  eventSize: number;
  streams: number;
  txStreams: number;
  durationS: number;
  /** From the first send to the last answer. */
  seconds: number;
  transactions: number;
  /** Stream appends (one event each): `transactions × txStreams`. */
  appends: number;
  errors: number;
  firstError: string | null;
  appendsPerSec: number;
  transactionsPerSec: number;
  /** Transaction latency, from the call into the client to its answer. */
  latencyMs: { p50: number; p99: number; p999: number; max: number; mean: number };
}

export function benchReport(settings: BenchSettings, urls: string[], result: LoadResult): BenchReport {
  const { latency } = result;
  return {
    shape: settings.shape,
    urls,
    clients: settings.clients,
    inFlight: settings.inFlight,
    eventSize: settings.eventSize,
    streams: settings.streams,
    txStreams: settings.txStreams,
    durationS: settings.durationMs / 1000,
    seconds: result.seconds,
    transactions: result.transactions,
    appends: result.appends,
    errors: result.errors,
    firstError: result.firstError ?? null,
    appendsPerSec: result.appends / result.seconds,
    transactionsPerSec: result.transactions / result.seconds,
    latencyMs: { p50: latency.percentile(0.5), p99: latency.percentile(0.99), p999: latency.percentile(0.999), max: latency.max, mean: latency.mean },
  };
}

const count = (n: number): string => Math.round(n).toLocaleString('en-US');
const ms = (n: number): string => n.toFixed(3);

/** The final table, one line each. */
export function reportTable(report: BenchReport): string[] {
  const { latencyMs: l } = report;
  const shape = report.shape === 'single' ? 'single (1 stream per transaction)' : `${report.shape} (${report.txStreams} streams per transaction)`;
  return [
    `kiln bench: ${report.clients} clients × ${report.inFlight} in flight, ${report.eventSize}-byte events, ${count(report.streams)} streams, ${shape}, ${report.seconds.toFixed(1)} s`,
    '',
    '| appends/s | transactions/s | p50 ms | p99 ms | p99.9 ms | max ms | transactions | errors |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    `| ${count(report.appendsPerSec)} | ${count(report.transactionsPerSec)} | ${ms(l.p50)} | ${ms(l.p99)} | ${ms(l.p999)} | ${ms(l.max)} | ${count(report.transactions)} | ${count(report.errors)} |`,
    ...(report.firstError ? ['', `first error: ${report.firstError}`] : []),
  ];
}

/** Follows the counters from one call to the next, for a line per second. */
export class ProgressLine {
  private lastAppends = 0;
  private lastMs = 0;

  line(counters: LoadCounters, elapsedMs: number): string {
    const rate = ((counters.appends - this.lastAppends) * 1000) / Math.max(1, elapsedMs - this.lastMs);
    this.lastAppends = counters.appends;
    this.lastMs = elapsedMs;
    const errors = counters.errors > 0 ? `, ${count(counters.errors)} errors` : '';
    return `${(elapsedMs / 1000).toFixed(0).padStart(4)} s  ${count(rate).padStart(9)} appends/s  p99 ${ms(counters.latency.percentile(0.99))} ms so far  ${count(counters.appends)} appends${errors}`;
  }
}
