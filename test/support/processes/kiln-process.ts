// A `kiln start` server in a child process, for tests that crash it with SIGKILL and start it
// again on the same data directory. Every child started here is tracked, so `killAllKilns` in an
// afterEach/afterAll leaves no process behind even when a test fails halfway.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

/** The built CLI; tests run against `dist/`, as users do. */
export const KILN_BIN = fileURLToPath(new URL('../../../packages/cli/dist/bin.js', import.meta.url));

/** Options of {@link startKiln}. */
export interface StartKilnOptions {
  /** LevelDB directory (restartable mode). Leave out for `--memory`. */
  dataDir?: string;
  /** Port to listen on; 0 lets the kernel pick. @default 0 */
  port?: number;
  /** Time to wait for the "listening on" line. @default 20000 */
  startTimeoutMs?: number;
  name?: string;
  /** More arguments for `kiln start`, for example `['--config', file]`. */
  extraArgs?: readonly string[];
  /** All the arguments for `kiln start`, instead of the ones the other options make. */
  args?: readonly string[];
}

/** A running (or exited) server process. */
export interface KilnProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** `tcp://127.0.0.1:PORT`, as the server logged it. */
  readonly url: string;
  readonly port: number;
  /** Every stderr line so far. */
  readonly lines: readonly string[];
  /** Resolves with the exit code and signal once the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends a signal and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first stderr line (past or future) matching `pattern`; rejects at the deadline or exit. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
}

const live = new Set<ChildProcess>();

// Last resort: a test runner that exits without running afterAll still takes its children along.
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** Kills every server process still alive (SIGKILL) and waits for each to exit. */
export async function killAllKilns(): Promise<void> {
  await Promise.all(
    [...live].map(async (child) => {
      if (child.exitCode === null && child.signalCode === null) {
        const exit = once(child, 'exit');
        child.kill('SIGKILL');
        await exit;
      }
      live.delete(child);
    }),
  );
}

/** Starts `kiln start` and resolves once it logs the address it listens on. */
export async function startKiln(options: StartKilnOptions = {}): Promise<KilnProcess> {
  const args = [KILN_BIN, 'start', '--listen', `tcp://127.0.0.1:${options.port ?? 0}`, ...(options.name ? ['--name', options.name] : [])];
  args.push(...(options.dataDir === undefined ? ['--memory'] : ['--data', options.dataDir]), ...(options.extraArgs ?? []));
  if (options.args) args.splice(2, args.length, ...options.args);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  live.add(child);
  const lines: string[] = [];
  const watchers = new Set<(line: string) => void>();
  let partial = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    partial += chunk;
    const parts = partial.split('\n');
    partial = parts.pop()!;
    for (const line of parts) {
      lines.push(line);
      for (const watcher of watchers) watcher(line);
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
  });

  const waitForLine = (pattern: RegExp, timeoutMs = 20_000): Promise<string> => {
    const seen = lines.find((line) => pattern.test(line));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise<string>((resolve, reject) => {
      const done = (): void => {
        watchers.delete(watcher);
        clearTimeout(timer);
      };
      const watcher = (line: string): void => {
        if (!pattern.test(line)) return;
        done();
        resolve(line);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`kiln (pid ${child.pid}) logged no line matching ${pattern} within ${timeoutMs} ms; stderr:\n${lines.join('\n')}`));
      }, timeoutMs);
      watchers.add(watcher);
      void exited.then(({ code, signal }) => {
        if (!watchers.has(watcher)) return;
        done();
        reject(new Error(`kiln (pid ${child.pid}) exited (code ${code}, signal ${signal}) before logging ${pattern}; stderr:\n${lines.join('\n')}`));
      });
    });
  };

  let line: string;
  try {
    line = await waitForLine(/listening on tcp:\/\/127\.0\.0\.1:\d+/, options.startTimeoutMs ?? 20_000);
  } catch (error) {
    child.kill('SIGKILL');
    await exited;
    throw error;
  }
  const url = /(tcp:\/\/127\.0\.0\.1:\d+)/.exec(line)![1]!;
  return {
    child,
    pid: child.pid!,
    url,
    port: Number(new URL(url).port),
    lines,
    exited,
    waitForLine,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/**
 * A free port below the kernel's ephemeral range (32768 and up on Linux), so that no outgoing
 * connection takes it as its local port while a restarted server is down. `pick` draws candidates,
 * so a seeded test stays reproducible.
 */
export async function freeFixedPort(pick: () => number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + (pick() % 12_000);
    const free = await new Promise<boolean>((resolve) => {
      const probe = createServer();
      probe.once('error', () => resolve(false));
      probe.listen({ host: '127.0.0.1', port }, () => probe.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no free port found below the ephemeral range');
}

/** A live process's resident set size in bytes (VmRSS of /proc/PID/status; Linux only). */
export function rssBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1024;
}

/** Polls `check` until it returns true, or throws naming `what` after `timeoutMs`. */
export async function pollUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000, intervalMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** mulberry32: a small seeded PRNG, so a failing run can be replayed from its printed seed. */
export function seededRandom(seed: number): { next: () => number; int: (min: number, max: number) => number; seed: number } {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  return { next, int: (min, max) => min + Math.floor(next() * (max - min + 1)), seed };
}
