// What an operator sees of a mirror group through the `kiln` binary, with real processes: `kiln
// status --config` after a mirror and then a voter are SIGKILLed, the active's progress lines
// while a mirror catches up, and the log of an election that cannot complete.
import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KilnClient } from '@kiln/core/client';
import { cluster, connectWithin, inSyncActive, kill, KILN_BIN, launch, pollUntil, seededRandom, statusOf, type Member } from './support/cluster.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kiln-group-live-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A running 2-server + voter group, its active once both servers are in sync, and a client. */
async function runningGroup(seed: number, persistence: 'restartable' | 'memory') {
  const root = await tempDir();
  const { file, members } = await cluster(2, 1, root, seededRandom(seed), persistence);
  for (const m of members) launch(file, m);
  // Runs before the temp dir goes: every member is gone, so none writes into it any more.
  cleanups.push(() => Promise.all(members.map((m) => kill(m))));
  const servers = members.filter((m) => !m.voter);
  const active = await inSyncActive(servers);
  const client = await connectWithin(servers.map((m) => m.client));
  cleanups.push(() => client.close());
  return { root, file, active, mirror: servers.find((m) => m !== active)!, voter: members.find((m) => m.voter)!, client };
}

/** The parts of `kiln status --config F --json` these tests read. */
interface ClusterStatus {
  stripes: Array<{ name: string; members: Array<{ name: string; state: string; reachable: boolean; ackedLsn: number | null; lag: number | null; inSync: boolean | null }> }>;
  voters: Array<{ name: string; reachable: boolean; term: number | null; terms: Record<string, number> | null }>;
}

const kiln = (...args: string[]) => spawnSync(process.execPath, [KILN_BIN, ...args], { encoding: 'utf8', timeout: 30_000 });

/** What a member wrote to stderr so far. */
const logText = (root: string, member: Member): Promise<string> => readFile(join(root, `${member.name}.log`), 'utf8').catch(() => '');

/** Appends `count` one-event transactions, `concurrency` at a time. */
async function appendMany(client: KilnClient, count: number, concurrency = 64, bytes = 16): Promise<void> {
  const data = { text: 'x'.repeat(bytes) };
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, lane) => {
      while (next < count) {
        next++;
        await client.append(`load-${lane}`, [{ type: 'Loaded', data }]);
      }
    }),
  );
}

describe('kiln with a mirror group, as an operator sees it', () => {
  it('status --config shows a SIGKILLed mirror as unreachable with its last acknowledged LSN, then a killed voter as unreachable', async () => {
    const { file, active, mirror, voter, client } = await runningGroup(7101, 'memory');
    await appendMany(client, 20, 4);
    const activeStatus = (await statusOf(active.client))!;
    const lastLsn = activeStatus.lastLsn;
    await pollUntil('the mirror acknowledged everything', async () => (await statusOf(active.client))?.group?.mirrors.find((m) => m.name === mirror.name)?.ackedLsn === lastLsn);

    await kill(mirror);
    // The active goes on alone once the mirror falls out of the in-sync set: these put it behind.
    await appendMany(client, 5, 1);
    const now = (await statusOf(active.client))!;
    expect(now.lastLsn).toBe(lastLsn + 5);

    const text = kiln('status', '--config', file);
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`^${mirror.name}\\s+unreachable\\s+-\\s+-\\s+${lastLsn}\\s+5\\s+no$`, 'm'));
    expect(text.stdout).toMatch(new RegExp(`^${voter.name}\\s+yes\\s+${now.term}$`, 'm'));
    const json = JSON.parse(kiln('status', '--config', file, '--json').stdout) as ClusterStatus;
    expect(json.stripes[0]!.members.find((m) => m.name === mirror.name)).toMatchObject({ state: 'unreachable', reachable: false, ackedLsn: lastLsn, lag: 5, inSync: false });
    expect(json.voters).toEqual([{ name: voter.name, reachable: true, term: now.term, terms: { [json.stripes[0]!.name]: now.term } }]);
    // The active's own status says the same of its mirror.
    const single = kiln('status', active.client);
    expect(single.stdout).toMatch(new RegExp(`${mirror.name}\\s+unreachable: last acked LSN ${lastLsn}, 5 records behind`));

    await kill(voter);
    const withoutVoter = JSON.parse(kiln('status', '--config', file, '--json').stdout) as ClusterStatus;
    expect(withoutVoter.voters).toEqual([{ name: voter.name, reachable: false, term: null, terms: null }]);
    expect(kiln('status', '--config', file).stdout).toMatch(new RegExp(`^${voter.name}\\s+no\\s+-$`, 'm'));
  }, 120_000);

  it('the active logs progress lines while a restarted mirror catches up: records to go, rate, time left', async () => {
    const { root, file, active, mirror, client } = await runningGroup(7102, 'restartable');
    const progress = /kiln: mirror (\S+) catching up: (\d+) records to go at (\d+) records\/s, (about \d+ s left|time left unknown until it acknowledges)/;
    // The active looks every second and reports a mirror as soon as it sees it catching up (then
    // every 5 s): appends go on while the mirror catches up (it closes the gap only as fast as it
    // outruns them), and a catch-up over before a look is tried again with a bigger backlog.
    let seen: RegExpExecArray | null = null;
    for (const backlog of [5000, 20_000, 50_000]) {
      await kill(mirror);
      await appendMany(client, backlog, 64, 512);
      launch(file, mirror);
      let caughtUp = false;
      const lookedAt = pollUntil('a progress line, or the mirror in sync again', async () => {
        seen = progress.exec(await logText(root, active));
        caughtUp = (await statusOf(active.client))?.group?.inSync.includes(mirror.name) === true;
        return seen !== null || caughtUp;
      }, 120_000, 200);
      let looking = true;
      void lookedAt.finally(() => (looking = false)).catch(() => undefined);
      const load = (async () => {
        while (looking) await appendMany(client, 256, 64, 512);
      })();
      await lookedAt;
      await load;
      if (seen) break;
      expect(caughtUp).toBe(true);
    }
    expect(seen, 'no progress line while the mirror caught up').not.toBeNull();
    const [, name, toGo] = seen!;
    expect(name).toBe(mirror.name);
    expect(Number(toGo)).toBeGreaterThan(0);
  }, 300_000);

  it('an election that cannot complete logs how many voting members are reachable out of how many it needs', async () => {
    const { root, active, mirror, voter } = await runningGroup(7103, 'memory');
    await kill(voter);
    await kill(active);
    await pollUntil('the survivor says why it cannot elect', async () => /election for term \d+ cannot complete: 1 of 3 voting members reachable, 2 needed/.test(await logText(root, mirror)), 30_000, 200);
  }, 120_000);

  it('an election among members that are connected but do not answer (paused) says how many answered, not that enough are reachable', async () => {
    const { root, active, mirror, voter } = await runningGroup(7104, 'memory');
    active.process!.kill('SIGSTOP');
    voter.process!.kill('SIGSTOP');
    try {
      await pollUntil('the survivor says why it cannot elect', async () => /election for term \d+ cannot complete: 1 of 3 voting members answered within \d+ ms \(3 connected\), 2 needed/.test(await logText(root, mirror)), 30_000, 200);
    } finally {
      active.process!.kill('SIGCONT');
      voter.process!.kill('SIGCONT');
    }
  }, 120_000);
});
