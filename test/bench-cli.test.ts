// `kiln bench` as a user runs it: the real binary against real servers for a second or two, its
// JSON result checked against what the servers hold, and bad flags refused in one line.
import { afterEach, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultConnectionLimits } from '@kiln/core';
import { connect } from '@kiln/core/client';
import { tcpTransport } from '@kiln/transport-tcp';
import { killAllKilns, KILN_BIN, startKiln } from './support/cluster.js';
import { startStripes } from './support/stripes.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await killAllKilns();
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `kiln bench ARGS` without blocking this process (in-process servers must keep serving). */
function bench(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [KILN_BIN, 'bench', ...args], { encoding: 'utf8', timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr });
    });
  });
}

interface Report {
  shape: string;
  clients: number;
  inFlight: number;
  txStreams: number;
  transactions: number;
  appends: number;
  errors: number;
  appendsPerSec: number;
  transactionsPerSec: number;
  seconds: number;
  latencyMs: { p50: number; p99: number; p999: number; max: number; mean: number };
}

function expectSaneReport(report: Report, txStreams: number): void {
  expect(report.errors).toBe(0);
  expect(report.transactions).toBeGreaterThan(0);
  expect(report.txStreams).toBe(txStreams);
  expect(report.appends).toBe(report.transactions * txStreams);
  expect(report.transactionsPerSec).toBeCloseTo(report.transactions / report.seconds, 6);
  expect(report.appendsPerSec).toBeCloseTo(report.appends / report.seconds, 6);
  const l = report.latencyMs;
  expect(l.p50).toBeGreaterThan(0);
  expect(l.p50).toBeLessThanOrEqual(l.p99);
  expect(l.p99).toBeLessThanOrEqual(l.p999);
  expect(l.p999).toBeLessThanOrEqual(l.max);
}

async function commitIndexOf(url: string): Promise<number> {
  const client = await connect(url, { transports: [tcpTransport()], reconnectWindowMs: 0 });
  try {
    return (await client.serverStatus()).commitIndex;
  } finally {
    await client.close();
  }
}

describe('kiln bench', () => {
  it('loads a server for --duration, prints progress every second, and reports every acknowledged transaction', async () => {
    const server = await startKiln();
    const run = await bench('--url', server.url, '--duration', '1.5', '--clients', '2', '--in-flight', '4', '--streams', '10', '--json');
    expect(run.stderr).toMatch(/^\s*1 s\s+[\d,]+ appends\/s {2}p99 [\d.]+ ms so far/m);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as Report;
    expect(report).toMatchObject({ shape: 'single', clients: 2, inFlight: 4 });
    expectSaneReport(report, 1);
    expect(report.seconds).toBeGreaterThanOrEqual(1.5);
    // One transaction per acknowledged append, and nothing else ran on the server.
    expect(await commitIndexOf(server.url)).toBe(report.transactions);
  });

  it('connects hundreds of clients, a bounded number at a time, and runs with all of them', async () => {
    const server = await startKiln();
    const run = await bench('--url', server.url, '--duration', '1', '--clients', '300', '--in-flight', '1', '--streams', '300', '--json');
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as Report;
    expect(report).toMatchObject({ clients: 300, errors: 0 });
    expect(report.transactions).toBeGreaterThanOrEqual(300);
    expect(await commitIndexOf(server.url)).toBe(report.transactions);
  });

  it('prints a table without --json, and writes several streams of one stripe per transaction with --shape multi', async () => {
    const server = await startKiln();
    const table = await bench('--url', server.url, '--duration', '0.5', '--clients', '1', '--in-flight', '2');
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/\| appends\/s \| transactions\/s \| p50 ms \| p99 ms \| p99\.9 ms \|/);
    const multi = await bench('--url', server.url, '--duration', '0.5', '--clients', '2', '--in-flight', '2', '--shape', 'multi', '--tx-streams', '3', '--json');
    expect(multi.code).toBe(0);
    const report = JSON.parse(multi.stdout) as Report;
    expect(report.shape).toBe('multi');
    expectSaneReport(report, 3);
  });

  it('runs transactions over several stripes with --shape cross-stripe against a cluster file', async () => {
    const stripes = await startStripes(2);
    cleanups.push(() => stripes.close());
    const dir = await mkdtemp(join(tmpdir(), 'kiln-bench-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'cluster.json');
    await writeFile(file, JSON.stringify(stripes.config));
    const run = await bench('--config', file, '--duration', '1', '--clients', '2', '--in-flight', '2', '--shape', 'cross-stripe', '--json');
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as Report;
    expect(report.shape).toBe('cross-stripe');
    expectSaneReport(report, 2);
    // Every transaction has a part on each of the two stripes.
    for (const server of stripes.servers) expect(server!.status().commitIndex).toBeGreaterThanOrEqual(report.transactions);
  });

  it('refuses a bad flag, a shape the cluster cannot run, and an unreachable server, each in one line', async () => {
    const server = await startKiln();
    const cases: Array<[string[], number, RegExp]> = [
      [['--clients', '0'], 2, /--clients must be an integer from 1/],
      [['--in-flight', 'many'], 2, /--in-flight must be an integer/],
      [['--duration', '0'], 2, /--duration must be a number of seconds/],
      // A negative number is the flag's value, refused by its range (parseArgs called it 'ambiguous').
      [['--clients', '-1'], 2, /--clients must be an integer from 1 to 10000, not '-1'/],
      [['--duration', '-5'], 2, /--duration must be a number of seconds above 0, at most 86400, not '-5'/],
      [['--shape', 'zigzag'], 2, /--shape must be one of single, multi, cross-stripe/],
      [['--tx-streams', '3'], 2, /--tx-streams goes with --shape multi or cross-stripe/],
      [['--bogus'], 2, /Unknown option '--bogus'/],
      [['--url', 'http://127.0.0.1:1'], 2, /scheme of 'http:\/\/127\.0\.0\.1:1' must be tcp, tls, ws or wss/],
      [['--url', server.url, '--config', 'x.json'], 2, /--url and --config do not go together/],
      [['--url', server.url, '--shape', 'cross-stripe', '--duration', '0.2'], 2, /needs a cluster of at least 2 stripes; this one has 1/],
      [['--url', 'tcp://127.0.0.1:1', '--duration', '0.2'], 5, /ConnectionRefusedError/],
      [['--config', 'no-such-file.json', '--duration', '0.2'], 3, /ConfigError/],
    ];
    for (const [args, code, message] of cases) {
      const run = await bench(...args);
      expect({ args, code: run.code }).toEqual({ args, code });
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
      expect(run.stderr).toMatch(message);
      expect(run.stdout).toBe('');
    }
    // Nothing was written by the refused runs.
    expect(await commitIndexOf(server.url)).toBe(0);
  });

  it('refuses at the start an --event-size whose transactions no frame can carry, naming the largest that fits; that one runs', async () => {
    // --event-size 5000000 passed its own check (16 MiB), then every append failed on the server's frame limit.
    const server = await startKiln();
    const refused = await bench('--url', server.url, '--event-size', '5000000', '--duration', '0.5');
    expect(refused.code).toBe(2);
    expect(refused.stdout).toBe('');
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    const [, largest] = /--event-size must be an integer from 0 to (\d+), not '5000000': .*frame limit of (\d+) bytes/.exec(refused.stderr) ?? [];
    expect(largest, refused.stderr).toBeDefined();
    expect(Number(largest)).toBeGreaterThan(defaultConnectionLimits.frameBytesMax * 0.99);
    // With four streams a transaction, each event gets a quarter of the frame.
    const multi = await bench('--url', server.url, '--shape', 'multi', '--tx-streams', '4', '--event-size', String(Math.floor(defaultConnectionLimits.frameBytesMax / 3)), '--duration', '0.5');
    expect(multi.code).toBe(2);
    expect(multi.stderr).toMatch(/--event-size must be an integer from 0 to \d+, .*4 events must fit/);
    expect(await commitIndexOf(server.url)).toBe(0);
    const atLargest = await bench('--url', server.url, '--event-size', largest!, '--duration', '0.5', '--clients', '1', '--in-flight', '1', '--streams', '1', '--json');
    expect(atLargest.code, atLargest.stderr).toBe(0);
    expectSaneReport(JSON.parse(atLargest.stdout) as Report, 1);
  });

  it('prints its help', async () => {
    const run = await bench('--help');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/--shape SHAPE/);
    expect(run.stdout).toMatch(/--in-flight P/);
  });
});
