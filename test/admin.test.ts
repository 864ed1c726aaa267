// `kiln admin` with real processes: a server started with --join is added to a running group
// under load and catches up, a mirror is removed, and the group then fails over with its new
// membership, losing nothing acknowledged.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { cluster, connectWithin, kill, killAllMembers, KILN_BIN, launch, pollUntil, seededRandom } from './support/cluster.js';

const run = promisify(execFile);
const kiln = (...args: string[]): Promise<{ stdout: string; stderr: string }> => run(process.execPath, [KILN_BIN, ...args], { timeout: 120_000 });

const dirs: string[] = [];
afterAll(async () => {
  killAllMembers();
  if (!process.env.KILN_KEEP) await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** What `kiln status --config F --json` prints. */
interface ClusterStatusJson {
  clusterId: string;
  stripes: Array<{ name: string; active: string | null; term: number | null; members: Array<{ name: string; state: string; term: number | null; lastLsn: number | null; lag: number | null; inSync: boolean | null; reachable: boolean }> }>;
  voters: Array<{ name: string; reachable: boolean; term: number | null; terms: Record<string, number> | null }>;
}

describe('kiln admin', () => {
  it('adds a joining server under load, removes a mirror, and the group fails over with its new membership', { timeout: 240_000 }, async () => {
    const random = seededRandom(Number(process.env.KILN_ADMIN_SEED ?? Math.floor(Math.random() * 2 ** 31)));
    const root = await mkdtemp(join(tmpdir(), 'kiln-admin-'));
    dirs.push(root);
    // The file with s3 is the new one; the group starts from the same file without s3.
    const { file, members } = await cluster(3, 1, root, random);
    const withS3 = JSON.parse(await readFile(file, 'utf8')) as { servers: Array<{ name: string }> };
    const oldFile = join(root, 'old.config.json');
    await writeFile(oldFile, JSON.stringify({ ...withS3, servers: withS3.servers.filter((s) => s.name !== 's3') }));
    const [s1, s2, s3, v1] = members as [typeof members[0], typeof members[0], typeof members[0], typeof members[0]];
    for (const m of [s1, s2, v1]) launch(oldFile, m);
    const client = await connectWithin([s1.client, s2.client]);
    let acked = 0;
    let running = true;
    const writer = (async () => {
      while (running) {
        await client.append('load', [{ type: 'E', data: acked }], { expectedVersion: acked === 0 ? 'no-stream' : acked - 1 });
        acked++;
      }
    })();
    await pollUntil('some load', () => acked >= 200, 60_000);

    launch(file, s3, true);
    const added = await kiln('admin', 'add-mirror', '--config', file, '--name', 's3', '--wait');
    expect(added.stdout).toMatch(/view \d+ recorded: servers s1, s2, s3; voters v1; in sync s1, s2/);
    expect(added.stdout).toMatch(/mirror s3 +in sync/);
    const status = await kiln('status', s3.client, '--json');
    expect(JSON.parse(status.stdout)).toMatchObject({ state: 'PASSIVE-STANDBY', group: { inSync: ['s1', 's2', 's3'], removed: false } });
    // Every member at a glance: one block per stripe (here one), asked of each server, and the voters.
    const whole = JSON.parse((await kiln('status', '--config', file, '--json')).stdout) as ClusterStatusJson;
    const [stripe] = whole.stripes;
    expect(whole.stripes).toHaveLength(1);
    expect(stripe!.members.map((r) => r.name)).toEqual(['s1', 's2', 's3']);
    expect(stripe!.members.filter((r) => r.state === 'ACTIVE-COORDINATOR').map((r) => r.name)).toEqual([stripe!.active]);
    expect(stripe!.members.every((r) => r.inSync === true && r.reachable && typeof r.lag === 'number')).toBe(true);
    expect(whole.voters).toEqual([{ name: 'v1', reachable: true, term: stripe!.term, terms: { [stripe!.name]: stripe!.term } }]);
    expect(whole.clusterId).toBe((await client.serverStatus()).clusterId);
    const table = (await kiln('status', '--config', file)).stdout;
    expect(table).toMatch(/^stripe \S+: active s\d, term \d+$/m);
    expect(table).toMatch(/^member +state +term +last LSN +acked LSN +lag +in sync$/m);
    expect(table).toMatch(/^s3 +PASSIVE-STANDBY +\d+ +\d+ +\d+ +\d+ +yes$/m);
    expect(table).toMatch(/^v1 +yes +\d+$/m);

    const active = String((await client.serverStatus()).name);
    const leaving = active === 's1' ? s2 : s1;
    const removed = await kiln('admin', 'remove-mirror', '--config', file, '--name', leaving.name);
    expect(removed.stdout).toMatch(/recorded: servers .*; in sync/);
    expect(removed.stdout).not.toMatch(new RegExp(`servers[^;]*${leaving.name}`));
    await pollUntil('the removed server to know it', async () => JSON.parse((await kiln('status', leaving.client, '--json')).stdout).group.removed === true, 20_000, 100);
    await expect(kiln('admin', 'remove-mirror', '--config', file, '--name', active)).rejects.toMatchObject({ stderr: expect.stringMatching(/is the active/) });

    // The active dies: the remaining server (with the voter) takes over; nothing acknowledged is lost.
    const before = acked;
    await kill(members.find((m) => m.name === active)!);
    await pollUntil('appends on the new active', () => acked >= before + 100, 60_000, 50);
    running = false;
    await writer;
    // Only s3 is left to take over; the client was given s1 and s2 only and learned s3 from the group.
    const newActive = await client.serverStatus();
    expect(newActive).toMatchObject({ state: 'ACTIVE-COORDINATOR', name: 's3' });
    const after = (JSON.parse((await kiln('status', '--config', file, '--json')).stdout) as ClusterStatusJson).stripes[0]!;
    expect(after.members.find((r) => r.name === active)).toMatchObject({ state: 'unreachable', reachable: false });
    expect(after.members.find((r) => r.name === 's3')?.state).toBe('ACTIVE-COORDINATOR');
    expect(after.active).toBe('s3');
    let read = 0;
    for (let page = await client.read('load', { maxCount: 4096 }); page.length > 0; page = await client.read('load', { fromVersion: read, maxCount: 4096 })) {
      for (const event of page) expect(event.data).toBe(read++);
    }
    expect(read).toBe(acked);
    await client.close();
  });
});
