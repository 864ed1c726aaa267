/**
 * `kiln bench`: a load generator a user points at any running cluster, like `redis-benchmark` or
 * `nats bench`. It connects `--clients` clients, runs the closed loop of {@link runLoad} for
 * `--duration`, prints a progress line on stderr every second, then the table (or `--json`).
 */
import { randomBytes } from 'node:crypto';
import { serversOf } from '@kiln/core';
import { connect, type KilnClient } from '@kiln/core/client';
import { tcpTransport } from '@kiln/transport-tcp';
import { wsTransport } from '@kiln/transport-ws';
import { readClusterConfig } from '../config.js';
import { EXIT } from '../exit-codes.js';
import { describeFailure } from '../failure.js';
import { runLoad } from './load.js';
import { benchReport, ProgressLine, reportTable } from './report.js';
import { BENCH_USAGE, BenchUsageError, parseBenchArgs, type BenchSettings } from './settings.js';
import { makeWorkload, WorkloadError } from './workload.js';

/** Runs `kiln bench ARGS`; sets the exit code, and prints a failure as one line on stderr. */
export async function runBench(args: readonly string[]): Promise<void> {
  try {
    const settings = parseBenchArgs(args);
    if (settings === 'help') {
      console.log(BENCH_USAGE);
      return;
    }
    const errors = await bench(settings);
    if (errors > 0) process.exitCode = 1;
  } catch (error) {
    // A bad flag or a shape the cluster cannot run is a usage error; anything else ends as every kiln command does.
    if (error instanceof BenchUsageError || error instanceof WorkloadError) {
      process.stderr.write(`kiln bench: ${error.message} (kiln bench --help)\n`);
      process.exitCode = EXIT.usage;
      return;
    }
    const { line, code } = describeFailure(error, 'kiln bench --help');
    process.stderr.write(`${line.replace(/^kiln: /, 'kiln bench: ')}\n`);
    process.exitCode = code;
  }
}

/** One run; returns how many transactions failed. */
async function bench(settings: BenchSettings): Promise<number> {
  const urls = settings.config !== undefined ? serversOf(await readClusterConfig(settings.config)).flatMap((server) => server.listen) : settings.urls;
  const clients: KilnClient[] = [];
  const interactive = process.stderr.isTTY === true;
  try {
    await connectClients(settings.clients, (i) => connect(urls, { transports: [tcpTransport(), wsTransport()], name: `kiln-bench-${i}` }), clients, (line) =>
      process.stderr.write(interactive ? `\r${line}\x1b[K` : `${line}\n`),
    );
    const workload = makeWorkload(settings, `bench-${randomBytes(4).toString('hex')}`, await clients[0]!.topology());
    const progress = new ProgressLine();
    const result = await runLoad(clients, workload, settings.inFlight, settings.durationMs, (counters, elapsedMs) => {
      const line = progress.line(counters, elapsedMs);
      process.stderr.write(interactive ? `\r${line}\x1b[K` : `${line}\n`);
    });
    if (interactive) process.stderr.write('\n');
    const report = benchReport(settings, urls, result);
    console.log(settings.json ? JSON.stringify(report) : reportTable(report).join('\n'));
    return report.errors;
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
}

/** Clients connecting at once: enough to connect thousands in seconds, few enough not to flood a server's accept queue. */
const CONNECTING_AT_ONCE = 64;

/**
 * Connects `count` clients into `clients` (which the caller closes, even after a failure), a
 * bounded number at a time, with a progress line every second while it takes longer than one.
 */
async function connectClients(count: number, open: (index: number) => Promise<KilnClient>, clients: KilnClient[], progress: (line: string) => void): Promise<void> {
  let next = 0;
  const started = Date.now();
  const ticker = setInterval(() => progress(`connecting: ${clients.length}/${count} clients, ${((Date.now() - started) / 1000).toFixed(0)} s`), 1000);
  try {
    // Settled, not raced: after a failure no worker opens another, and every client already
    // connecting lands in `clients` before the caller closes them.
    const workers = await Promise.allSettled(
      Array.from({ length: Math.min(CONNECTING_AT_ONCE, count) }, async () => {
        while (next < count) {
          try {
            clients.push(await open(next++));
          } catch (error) {
            next = count;
            throw error;
          }
        }
      }),
    );
    const failed = workers.find((w) => w.status === 'rejected');
    if (failed) throw failed.reason;
  } finally {
    clearInterval(ticker);
  }
}
