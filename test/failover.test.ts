// Failover with real processes: a three-server group and a two-server group with a voter, on
// LevelDB, under a write load. The active is killed with SIGKILL again and again and restarted;
// every acknowledged transaction must survive exactly once, and every server must end with the
// same log.
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkedStore, decodeRecord, defaultLogLimits } from '@kiln/core';
import { connect, KilnError, WrongExpectedVersionError, type KilnClient } from '@kiln/core/client';
import { levelStore } from '@kiln/store-level';
import { tcpTransport } from '@kiln/transport-tcp';
import { freeFixedPort, KILN_BIN, pollUntil, seededRandom } from './support/processes/kiln-process.js';

const KILLS = 10;
const children = new Set<ChildProcess>();
const dirs: string[] = [];
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  if (!process.env.KILN_KEEP) await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

interface Member {
  name: string;
  voter: boolean;
  client: string;
  peer: string;
  dataDir: string;
  process?: ChildProcess;
}

async function cluster(servers: number, voters: number, root: string, random: ReturnType<typeof seededRandom>): Promise<{ file: string; members: Member[] }> {
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
      persistence: 'restartable',
      electionTimeMs: 600,
      mirrorTimeoutMs: 400,
      leaseMs: 300,
      reconnectWindowMs: 20_000,
      servers: members.filter((m) => !m.voter).map((m) => ({ name: m.name, listen: [m.client], peer: m.peer, dataDir: m.dataDir })),
      voters: members.filter((m) => m.voter).map((m) => ({ name: m.name, peer: m.peer, dataDir: m.dataDir })),
    }),
  );
  return { file, members };
}

function launch(file: string, member: Member): void {
  const args = member.voter ? ['voter', '--config', file, '--name', member.name] : ['start', '--config', file, '--server', member.name];
  const child = spawn(process.execPath, [KILN_BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr!.on('data', (chunk: Buffer) => void appendFile(join(member.dataDir, '..', `${member.name}.log`), chunk));
  children.add(child);
  child.once('exit', () => children.delete(child));
  member.process = child;
}

async function kill(member: Member): Promise<void> {
  const child = member.process!;
  if (child.exitCode === null && child.signalCode === null) {
    const exit = once(child, 'exit');
    child.kill('SIGKILL');
    await exit;
  }
}

/** Reads a stopped server's whole log from its data directory, checking every CRC. */
async function logOf(dataDir: string): Promise<string[]> {
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

for (const [servers, voters] of [
  [3, 0],
  [2, 1],
] as const) {
  describe(`a group of ${servers} servers and ${voters} voter(s) under SIGKILL of its active`, () => {
    it(`loses and duplicates nothing over ${KILLS} kills, and every server ends with the same log`, async () => {
      const seed = Number(process.env.KILN_FAILOVER_SEED ?? Math.floor(Math.random() * 2 ** 31));
      console.log(`failover seed ${seed} (replay with KILN_FAILOVER_SEED=${seed})`);
      const random = seededRandom(seed);
      const root = await mkdtemp(join(tmpdir(), 'kiln-failover-'));
      console.log(`failover: logs in ${root} (kept with KILN_KEEP=1)`);
      dirs.push(root);
      const { file, members } = await cluster(servers, voters, root, random);
      for (const m of members) launch(file, m);
      const serverMembers = members.filter((m) => !m.voter);
      const client = await connectWithin(serverMembers.map((m) => m.client));

      const acked = new Map<string, number>();
      let failed = 0;
      let running = true;
      const writer = async (w: number): Promise<void> => {
        for (let i = 0; running; i++) {
          const id = `w${w}-${i}`;
          try {
            const r = await client.append(`stream-${w}`, [{ id, type: 'E', data: i }]);
            acked.set(id, r.firstVersion);
          } catch (error) {
            if (!(error instanceof KilnError) || error instanceof WrongExpectedVersionError) throw error;
            failed++;
          }
        }
      };
      const writers = [0, 1, 2, 3].map(writer);

      const activeName = async (): Promise<string> => {
        let name = '';
        await pollUntil('an active', async () => {
          const status = await client.serverStatus().catch(() => undefined);
          if (status?.state !== 'ACTIVE-COORDINATOR') return false;
          name = String(status.name);
          return true;
        }, 30_000);
        return name;
      };

      for (let k = 0; k < KILLS; k++) {
        const before = acked.size;
        const wanted = random.int(5, 60);
        await pollUntil('progress before the kill', () => acked.size >= before + wanted, 30_000);
        // Kill only a group whose every server is in sync again: with a mirror still catching up,
        // losing the active leaves no server holding every commit, and consistency mode waits.
        await pollUntil('every server in sync', async () => {
          const status = await client.serverStatus().catch(() => undefined);
          const group = status?.group as { inSync: string[] } | undefined;
          return status?.state === 'ACTIVE-COORDINATOR' && group?.inSync.length === servers;
        }, 30_000);
        const active = await activeName();
        const target = serverMembers.find((m) => m.name === active)!;
        await kill(target);
        const afterKill = acked.size;
        await pollUntil('progress on the new active', () => acked.size > afterKill + 5, 30_000);
        launch(file, target);
      }
      running = false;
      await Promise.all(writers);

      // Let every mirror catch up, then stop all and compare logs on disk.
      const lastLsn = Number((await client.serverStatus()).lastLsn);
      await pollUntil('mirrors caught up', async () => {
        const group = (await client.serverStatus()).group as { mirrors: Array<{ ackedLsn: number }> };
        return group.mirrors.every((m) => m.ackedLsn >= lastLsn);
      }, 30_000);
      const stored = [];
      for (let from = 1; from <= lastLsn; from = (stored[stored.length - 1]?.lsn ?? from) + 1) {
        stored.push(...(await client.readAll({ fromLsn: from, maxCount: 1000 })));
      }
      await client.close();
      for (const m of members) await kill(m);

      const logs = await Promise.all(serverMembers.map((m) => logOf(m.dataDir)));
      for (const log of logs.slice(1)) expect(log.slice(0, lastLsn)).toEqual(logs[0]!.slice(0, lastLsn));
      const ids = stored.map((e) => e.id);
      expect(new Set(ids).size).toBe(ids.length);
      for (const id of acked.keys()) expect(ids).toContain(id);
      console.log(`failover: ${KILLS} kills, ${acked.size} acked, ${failed} failed or indeterminate, ${lastLsn} records`);
    }, 240_000);
  });
}

/** Connects once the servers listen. */
async function connectWithin(urls: string[]): Promise<KilnClient> {
  let client: KilnClient | undefined;
  await pollUntil('a server to connect to', async () => {
    client = await connect(urls, { transports: [tcpTransport()], reconnectWindowMs: 20_000, requestTimeoutMs: 20_000 }).catch(() => undefined);
    return client !== undefined;
  }, 20_000, 100);
  return client!;
}
