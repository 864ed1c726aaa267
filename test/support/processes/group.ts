// Mirror groups of real `kiln` processes for tests: a cluster file on free ports, members started
// and killed as processes, logs read back from their data directories.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { appendFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkedStore, decodeRecord, defaultLogLimits } from '@kiln/core';
import { connect, type KilnClient, type LogDigest } from '@kiln/core/client';
import { levelStore } from '@kiln/store-level';
import { tcpTransport } from '@kiln/transport-tcp';
import { freeFixedPort, KILN_BIN, pollUntil, type seededRandom } from './kiln-process.js';

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
  const file = join(root, 'kiln.config.json');
  await writeFile(
    file,
    JSON.stringify({
      cluster: 'failover-test',
      persistence,
      ...TEST_TIMING,
      reconnectWindowMs: 20_000,
      servers: members.filter((m) => !m.voter).map((m) => ({ name: m.name, listen: [m.client], peer: m.peer, dataDir: m.dataDir })),
      voters: members.filter((m) => m.voter).map((m) => ({ name: m.name, peer: m.peer, dataDir: m.dataDir })),
    }),
  );
  return { file, members };
}

/** Starts a member's process; `join` starts a server new to a running group (`--join`). */
export function launch(file: string, member: Member, joining = false): void {
  const args = member.voter ? ['voter', '--config', file, '--name', member.name] : ['start', '--config', file, '--server', member.name, ...(joining ? ['--join'] : [])];
  const child = spawn(process.execPath, [KILN_BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
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

/** The fingerprint of one running server's own log through `lsn`. */
async function digestOf(url: string, lsn: number): Promise<LogDigest> {
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
  await pollUntil('a server to connect to', async () => {
    client = await connect(urls, { transports: [tcpTransport()], reconnectWindowMs: 20_000, requestTimeoutMs: 20_000 }).catch(() => undefined);
    return client !== undefined;
  }, 20_000, 100);
  return client!;
}
