/**
 * The closed loop of `kiln bench`: every client keeps `inFlight` transactions outstanding, sending
 * the next as soon as one is answered, until the run's time is up; then it waits for those still
 * out. Latency is from the call into the client to the resolution of its promise.
 */
import { performance } from 'node:perf_hooks';
import type { KilnClient } from '@kiln/core/client';
import { LatencyHistogram } from './histogram.js';
import type { Workload } from './workload.js';

/** The counters of a run, as they stand. */
export interface LoadCounters {
  transactions: number;
  appends: number;
  errors: number;
  /** The first error's message, when any transaction failed. */
  firstError: string | undefined;
  latency: LatencyHistogram;
}

export interface LoadResult extends LoadCounters {
  /** From the first send to the last answer, in seconds. */
  seconds: number;
}

/** Runs the load for `durationMs`; `progress` is called every `progressEveryMs` with the counters so far. */
export async function runLoad(
  clients: readonly KilnClient[],
  workload: Workload,
  inFlight: number,
  durationMs: number,
  progress: (counters: LoadCounters, elapsedMs: number) => void,
  progressEveryMs = 1000,
): Promise<LoadResult> {
  const counters: LoadCounters = { transactions: 0, appends: 0, errors: 0, firstError: undefined, latency: new LatencyHistogram() };
  const started = performance.now();
  const deadline = started + durationMs;
  const ticker = setInterval(() => progress(counters, performance.now() - started), progressEveryMs);
  try {
    await Promise.all(clients.map((client) => drive(client, workload, inFlight, deadline, counters)));
  } finally {
    clearInterval(ticker);
  }
  return { ...counters, seconds: (performance.now() - started) / 1000 };
}

/** One client's loop; resolves once its last transaction is answered. */
function drive(client: KilnClient, workload: Workload, inFlight: number, deadline: number, counters: LoadCounters): Promise<void> {
  return new Promise((resolve) => {
    let outstanding = 0;
    const send = (): void => {
      const appends = workload.next();
      const sentAt = performance.now();
      outstanding++;
      client.transact(appends).then(
        () => {
          counters.latency.record(performance.now() - sentAt);
          counters.transactions++;
          counters.appends += appends.length;
          answered();
        },
        (error: unknown) => {
          counters.errors++;
          counters.firstError ??= error instanceof Error ? `${error.name}: ${error.message}` : String(error);
          answered();
        },
      );
    };
    const answered = (): void => {
      outstanding--;
      if (performance.now() < deadline) send();
      else if (outstanding === 0) resolve();
    };
    for (let i = 0; i < inFlight; i++) send();
  });
}
