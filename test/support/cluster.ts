// Servers and groups for tests, in one place: `kiln` processes (a lone server to crash and
// restart, or the members of a cluster file), groups of servers in one process, and waiting for
// their one active. Every child process started here is tracked, so `killAllKilns` and
// `killAllMembers` in an afterEach/afterAll leave no process behind even when a test fails
// halfway. In-process groups get their options from a cluster configuration through
// `groupOptionsOf`, as `kiln` processes and the simulation do.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { appendFile, writeFile } from 'node:fs/promises';
import { createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import {
  checkedStore,
  createServer,
  decodeRecord,
  defaultClientTiming,
  defaultConnectionLimits,
  defaultLogLimits,
  groupOptionsOf,
  type ClusterConfig,
  type FailoverPriority,
  type GroupMemberConfig,
  type KilnServer,
  type ServerOptions,
  type Transport,
} from '@kiln/core';
import { connect, type KilnClient, type LogDigest, type RecordedEvent, type ServerStatus } from '@kiln/core/client';
import { levelStore } from '@kiln/store-level';
import { memoryStore } from '@kiln/store-memory';
import { tcpTransport } from '@kiln/transport-tcp';

// ---- A lone `kiln start` process ----

/** The built CLI; tests run against `dist/`, as users do. */
export const KILN_BIN = fileURLToPath(new URL('../../packages/cli/dist/bin.js', import.meta.url));

/**
 * Runs `kiln ARGS` as a process, without blocking this one (tests whose servers run in-process
 * use it: a synchronous spawn would stall them), and resolves with its exit status and output.
 */
export function kiln(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return kilnWith(args, {}, 30_000);
}

/**
 * {@link kiln} with `env` added to this process's environment, less any password or token in it,
 * so that the only credentials the command has are those the test gives.
 */
export function kilnWith(args: string[], env: Record<string, string> = {}, timeoutMs = 120_000): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const { KILN_PASSWORD: _password, KILN_TOKEN: _token, ...inherited } = process.env;
    const child = spawn(process.execPath, [KILN_BIN, ...args], { env: { ...inherited, ...env }, timeout: timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

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
  /** The command: `voter` runs `kiln voter` with `args`. @default 'start' */
  command?: 'start' | 'voter';
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
  const args = [KILN_BIN, options.command ?? 'start', '--listen', `tcp://127.0.0.1:${options.port ?? 0}`, ...(options.name ? ['--name', options.name] : [])];
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

/** Ports this process handed out: a port probed free stays free until its server binds, so never hand it out twice. */
const handedOut = new Set<number>();

/**
 * The fixed ports this test process draws from: test files run in parallel, one per vitest worker,
 * and each worker gets a slice of its own, so that two files never probe the same port free and
 * then both bind it (a server that cannot bind its port makes a cluster that never forms).
 */
function portSlice(): { base: number; size: number } {
  const worker = Number(process.env.VITEST_POOL_ID);
  if (!Number.isInteger(worker) || worker < 1) return { base: 20_000, size: 12_000 };
  return { base: 20_000 + ((worker - 1) % 12) * 1000, size: 1000 };
}

/**
 * A free port below the kernel's ephemeral range (32768 and up on Linux), so that no outgoing
 * connection takes it as its local port while a restarted server is down. `pick` draws candidates,
 * so a seeded test stays reproducible.
 */
export async function freeFixedPort(pick: () => number): Promise<number> {
  const { base, size } = portSlice();
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = base + (pick() % size);
    if (handedOut.has(port)) continue;
    const free = await new Promise<boolean>((resolve) => {
      const probe = createNetServer();
      probe.once('error', () => resolve(false));
      probe.listen({ host: '127.0.0.1', port }, () => probe.close(() => resolve(true)));
    });
    if (free) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('no free port found below the ephemeral range');
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

// ---- The members of a cluster file, as processes ----

const children = new Set<ChildProcess>();

/** Kills every member process still running. */
export function killAllMembers(): void {
  for (const child of children) child.kill('SIGKILL');
}

/** Timeouts for test clusters: the defaults but a shorter election window; generous enough for a loaded 2-core machine. */
export const TEST_TIMING = { electionTimeMs: 2000, mirrorTimeoutMs: 1000, leaseMs: 800 };

/** The group shapes the fault tests run: servers, voters and mode. */
export const GROUP_SHAPES = [
  [3, 0, 'restartable'],
  [2, 1, 'restartable'],
  [3, 0, 'memory'],
  [2, 1, 'memory'],
] as const;

/** One member of a test cluster. */
export interface Member {
  name: string;
  voter: boolean;
  /** The stripe of a server in a cluster of several stripes. */
  stripe?: string;
  client: string;
  peer: string;
  dataDir: string;
  process?: ChildProcess;
}

export async function cluster(
  servers: number,
  voters: number,
  root: string,
  random: ReturnType<typeof seededRandom>,
  persistence: 'restartable' | 'memory' = 'restartable',
): Promise<{ file: string; members: Member[] }> {
  const port = () => freeFixedPort(() => random.int(20_000, 30_000));
  const members: Member[] = [];
  for (let i = 0; i < servers + voters; i++) {
    const voter = i >= servers;
    const name = voter ? `v${i - servers + 1}` : `s${i + 1}`;
    members.push({ name, voter, client: `tcp://127.0.0.1:${await port()}`, peer: `tcp://127.0.0.1:${await port()}`, dataDir: join(root, name) });
  }
  return { file: await writeGroupFile(root, 'failover-test', members, persistence), members };
}

/** Writes `root/kiln.config.json` for one group of `members` at the tests' timing, and returns its path. */
export async function writeGroupFile(root: string, clusterName: string, members: readonly Member[], persistence: 'restartable' | 'memory'): Promise<string> {
  const file = join(root, 'kiln.config.json');
  await writeFile(
    file,
    JSON.stringify({
      cluster: clusterName,
      persistence,
      ...TEST_TIMING,
      reconnectWindowMs: 20_000,
      servers: members.filter((m) => !m.voter).map((m) => ({ name: m.name, listen: [m.client], peer: m.peer, dataDir: m.dataDir })),
      voters: members.filter((m) => m.voter).map((m) => ({ name: m.name, peer: m.peer, dataDir: m.dataDir })),
    }),
  );
  return file;
}

/**
 * A cluster file of `stripes` stripes (`alpha`, `bravo`, ...) of `servers` servers each (`a1`,
 * `a2`, `b1`, ...), plus `voters` voters shared by every stripe, on free fixed ports.
 */
export async function stripedCluster(
  stripes: number,
  servers: number,
  voters: number,
  root: string,
  random: ReturnType<typeof seededRandom>,
  persistence: 'restartable' | 'memory' = 'restartable',
): Promise<{ file: string; members: Member[]; stripeNames: string[] }> {
  const port = () => freeFixedPort(() => random.int(20_000, 30_000));
  const stripeNames = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot'].slice(0, stripes);
  const members: Member[] = [];
  for (const stripe of stripeNames) {
    for (let i = 1; i <= servers; i++) {
      const name = `${stripe[0]}${i}`;
      members.push({ name, voter: false, stripe, client: `tcp://127.0.0.1:${await port()}`, peer: `tcp://127.0.0.1:${await port()}`, dataDir: join(root, name) });
    }
  }
  for (let i = 1; i <= voters; i++) members.push({ name: `v${i}`, voter: true, client: '', peer: `tcp://127.0.0.1:${await port()}`, dataDir: join(root, `v${i}`) });
  return { file: await writeStripedFile(root, members, persistence), members, stripeNames };
}

/**
 * Writes `root/kiln.config.json` for `members` (servers named by their `stripe`, in order of first
 * appearance, and voters) at the tests' timing, with `limits` if given, and returns its path.
 */
export async function writeStripedFile(root: string, members: readonly Member[], persistence: 'restartable' | 'memory', limits?: Record<string, number>): Promise<string> {
  const file = join(root, 'kiln.config.json');
  const stripeNames = [...new Set(members.flatMap((m) => (m.stripe === undefined ? [] : [m.stripe])))];
  await writeFile(
    file,
    JSON.stringify({
      cluster: 'stripes-test',
      persistence,
      ...TEST_TIMING,
      reconnectWindowMs: 20_000,
      ...(limits ? { limits } : {}),
      stripes: stripeNames.map((stripe) => ({
        name: stripe,
        servers: members.filter((m) => m.stripe === stripe).map((m) => ({ name: m.name, listen: [m.client], peer: m.peer, dataDir: m.dataDir })),
      })),
      voters: members.filter((m) => m.voter).map((m) => ({ name: m.name, peer: m.peer, dataDir: m.dataDir })),
    }),
  );
  return file;
}

/** Starts a member's process; `join` starts a server new to a running group (`--join`); `env` replaces this process's environment. */
export function launch(file: string, member: Member, joining = false, env?: NodeJS.ProcessEnv): void {
  const args = member.voter ? ['voter', '--config', file, '--name', member.name] : ['start', '--config', file, '--server', member.name, ...(joining ? ['--join'] : [])];
  const child = spawn(process.execPath, [KILN_BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'], ...(env ? { env } : {}) });
  child.stderr!.on('data', (chunk: Buffer) => void appendFile(join(member.dataDir, '..', `${member.name}.log`), chunk));
  children.add(child);
  child.once('exit', () => children.delete(child));
  member.process = child;
}

export async function kill(member: Member): Promise<void> {
  const child = member.process!;
  if (child.exitCode === null && child.signalCode === null) {
    const exit = once(child, 'exit');
    child.kill('SIGKILL');
    await exit;
  }
}

/** Reads a stopped server's whole log from its data directory, checking every CRC. */
export async function logOf(dataDir: string): Promise<string[]> {
  const store = checkedStore(levelStore({ path: dataDir }), defaultLogLimits);
  await store.open();
  const ids: string[] = [];
  try {
    for (let lsn = 1; ; ) {
      const records = await store.read(lsn, { direction: 'forward', maxCount: 1000, maxBytes: 1 << 20 });
      if (records.length === 0) break;
      for (const r of records) ids.push(`${r.lsn}:${decodeRecord(r.bytes, r.lsn).clientId}#${decodeRecord(r.bytes, r.lsn).seq}`);
      lsn = records[records.length - 1]!.lsn + 1;
    }
  } finally {
    await store.close();
  }
  return ids;
}

/** One server's own status, or undefined when it does not answer within 2 s. */
export async function statusOf(url: string): Promise<ServerStatus | undefined> {
  const client = await connect(url, { transports: [tcpTransport()], reconnectWindowMs: 0, requestTimeoutMs: 2000, serverSilenceMs: 2000 }).catch(() => undefined);
  if (!client) return undefined;
  try {
    return await client.serverStatus();
  } catch {
    return undefined;
  } finally {
    await client.close();
  }
}

/** A stripe's active once every server of it answers and is in sync (it can then lose its active and keep everything); 60 s at most. */
export async function inSyncActive(servers: readonly Member[]): Promise<Member> {
  let active: Member | undefined;
  await pollUntil(`stripe ${servers[0]!.stripe} in sync`, async () => {
    const statuses = await Promise.all(servers.map((m) => statusOf(m.client)));
    const i = statuses.findIndex((s) => s?.state === 'ACTIVE-COORDINATOR');
    active = servers[i];
    // Each server answering too: a server just restarted may still be in the active's in-sync set from before.
    return i >= 0 && servers.every((m, j) => statuses[j] !== undefined && statuses[i]!.group?.inSync.includes(m.name));
  }, 60_000, 100);
  return active!;
}

/** The fingerprint of one running server's own log through `lsn`. */
export async function digestOf(url: string, lsn: number): Promise<LogDigest> {
  const client = await connect(url, { transports: [tcpTransport()], reconnectWindowMs: 0 });
  try {
    return await client.logDigest(lsn);
  } finally {
    await client.close();
  }
}

/**
 * Stops every member and returns each server's log through `lastLsn`, to compare: read from disk
 * (restartable), or, with nothing on disk (memory), as each server's own digest taken just before.
 */
export async function stopAndReadLogs(members: readonly Member[], persistence: 'restartable' | 'memory', lastLsn: number): Promise<unknown[]> {
  const servers = members.filter((m) => !m.voter);
  const digests = persistence === 'memory' ? await Promise.all(servers.map((m) => digestOf(m.client, lastLsn))) : [];
  const short = digests.find((d) => d.throughLsn !== lastLsn);
  if (short) throw new Error(`a server's log ends at LSN ${short.throughLsn}, before ${lastLsn}`);
  for (const m of members) await kill(m);
  if (persistence === 'memory') return digests;
  return (await Promise.all(servers.map((m) => logOf(m.dataDir)))).map((log) => log.slice(0, lastLsn));
}

/** Connects once the servers listen. */
export async function connectWithin(urls: string[]): Promise<KilnClient> {
  let client: KilnClient | undefined;
  let lastError: unknown;
  await pollUntil('a server to connect to', async () => {
    client = await connect(urls, { transports: [tcpTransport()], reconnectWindowMs: 20_000, requestTimeoutMs: 20_000 }).catch((error: unknown) => {
      lastError = error;
      return undefined;
    });
    return client !== undefined;
  }, 20_000, 100).catch((error: Error) => {
    // Why the last attempt failed is what a reader of a failed run needs.
    throw new Error(`${error.message}; last attempt: ${String(lastError)}`);
  });
  return client!;
}

// ---- A group in one process ----

/** Timing of in-process groups: short, and fitting together as a config file requires. */
export const IN_PROCESS_TIMING = { electionTimeMs: 400, mirrorTimeoutMs: 300, leaseMs: 250 };

/** A member of an in-process group: clients at `memory://<name>`, peers at `memory://<name>-peer`. */
export function memoryMember(name: string, kind: 'server' | 'voter' = 'server', weight = 1): GroupMemberConfig {
  return { name, kind, peer: `memory://${name}-peer`, clientUrls: kind === 'server' ? [`memory://${name}`] : [], weight };
}

/** Settings of {@link startInProcessMember}. */
export interface InProcessMemberOptions {
  /** A server added to a running group. */
  joining?: boolean;
  failoverPriority?: FailoverPriority;
  limits?: ServerOptions['limits'];
  /** @default IN_PROCESS_TIMING */
  timing?: typeof IN_PROCESS_TIMING;
}

/**
 * Starts member `name` of the in-process group `members` on `transport`, with its group options
 * from the cluster configuration the members stand for. The caller closes it.
 */
export async function startInProcessMember(transport: Transport, members: readonly GroupMemberConfig[], name: string, options: InProcessMemberOptions = {}): Promise<KilnServer> {
  const servers = members.filter((m) => m.kind === 'server');
  const config: ClusterConfig = {
    cluster: 'in-process',
    persistence: 'memory',
    failoverPriority: options.failoverPriority ?? 'consistency',
    ...(options.timing ?? IN_PROCESS_TIMING),
    reconnectWindowMs: defaultClientTiming.reconnectWindowMs,
    servers: servers.map((m) => ({ name: m.name, listen: [...m.clientUrls], peer: m.peer, weight: m.weight })),
    voters: members.filter((m) => m.kind === 'voter').map((m) => ({ name: m.name, peer: m.peer })),
    limits: { ...defaultConnectionLimits, ...defaultLogLimits, ...options.limits },
  };
  const self = members.find((m) => m.name === name)!;
  return createServer({
    name,
    store: memoryStore(),
    transports: [transport],
    listen: self.kind === 'server' ? [...self.clientUrls] : [],
    group: groupOptionsOf(config, name, options.joining ?? false),
    ...(options.limits ? { limits: options.limits } : {}),
  });
}

/** The name of the one active among `servers`, once there is exactly one (10 s at most). */
export async function activeOf(servers: Map<string, KilnServer>): Promise<string> {
  let active: string | undefined;
  await expect
    .poll(
      () => {
        const actives = [...servers.entries()].filter(([, s]) => s.status().state === 'ACTIVE-COORDINATOR');
        active = actives.length === 1 ? actives[0]![0] : undefined;
        return active;
      },
      { timeout: 10_000, interval: 20 },
    )
    .toBeDefined();
  return active!;
}

// ---- Reading what a server holds ----

/** The whole log, read page by page from LSN 1. */
export async function wholeLog(client: KilnClient): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  for (let fromLsn = 1; ; ) {
    const page = await client.readAll({ fromLsn, maxCount: 1000 });
    if (page.length === 0) return out;
    out.push(...page);
    fromLsn = page[page.length - 1]!.lsn + 1;
  }
}

/** The resident set size of a process, from `/proc/PID/status`. */
export function rssBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1024;
}
