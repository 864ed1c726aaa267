// kiln backup --from-mirror on real processes and real LevelDB (2 servers + a voter): the records
// come from an in-sync mirror, through the end the active committed when the backup began, and
// the file is the one a backup of the same range from the active writes, but for the header's
// server; it restores to a server with every record. A mirror named wrong, the active, or a
// mirror out of sync is refused in one line before anything is written; a mirror killed, or
// leaving the in-sync set, during the backup fails it in one line, leaving no FILE; a mirror
// serves nothing past what it knows is committed.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { access, readdir, readFile, rm, writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type KilnClient, type RecordedEvent } from '@kiln/core/client';
import { tcpTransport } from '@kiln/transport-tcp';
import { cluster, connectWithin, inSyncActive, KILN_BIN, kilnWith, kill, killAllKilns, killAllMembers, launch, pollUntil, seededRandom, startKiln, statusOf, wholeLog, type Member } from './support/cluster.js';

const dirs: string[] = [];
let root: string;
let file: string;
let servers: Member[];
let members: Member[];
let client: KilnClient;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'kiln-backup-mirror-'));
  dirs.push(root);
  const random = seededRandom(Number(process.env.KILN_BACKUP_SEED ?? Math.floor(Math.random() * 2 ** 31)));
  const made = await cluster(2, 1, root, random);
  // Pages of a few records: a backup of a few hundred takes many round trips, so one can be caught in the middle.
  const config = JSON.parse(await readFile(made.file, 'utf8')) as Record<string, unknown>;
  await writeFile(made.file, JSON.stringify({ ...config, limits: { readBytesMax: 1024 } }));
  file = made.file;
  members = made.members;
  servers = members.filter((m) => !m.voter);
  for (const m of members) launch(file, m);
  client = await connectWithin(servers.map((s) => s.client));
  await inSyncActive(servers);
}, 120_000);

afterAll(async () => {
  await client?.close();
  killAllMembers();
  await killAllKilns();
  if (!process.env.KILN_KEEP) await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** `kiln backup --config FILE ARGS`; its exit status, output and the last LSN it says it holds. */
async function backup(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string; lastLsn: number }> {
  const run = await kilnWith(['backup', '--config', file, ...args]);
  return { ...run, lastLsn: Number(/^backup .*: LSN \d+ through (\d+) of stripe/m.exec(run.stdout)?.[1] ?? NaN) };
}

/** Appends `count` events of about 200 bytes to a few streams, 20 at a time. */
async function appendSome(count: number): Promise<void> {
  for (let i = 0; i < count; i += 20) {
    await Promise.all(Array.from({ length: 20 }, (_, j) => client.append(`m${(i + j) % 7}`, [{ type: 'E', data: { n: i + j, pad: 'p'.repeat(200) } }])));
  }
}

/** A backup file's header, and the bytes of its records (between the header and the trailer). */
async function partsOf(path: string): Promise<{ header: Record<string, unknown>; records: Buffer }> {
  const bytes = await readFile(path);
  const headerEnd = 16 + bytes.readUInt32LE(12);
  return { header: JSON.parse(bytes.subarray(16, headerEnd).toString('utf8')) as Record<string, unknown>, records: bytes.subarray(headerEnd, bytes.length - 40) };
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}

/** The active and the other server, once both are in sync. */
async function roles(): Promise<{ active: Member; mirror: Member }> {
  const active = await inSyncActive(servers);
  return { active, mirror: servers.find((s) => s !== active)! };
}

const shown = (events: readonly RecordedEvent[]): unknown[] => events.map((e) => [e.lsn, e.stream, e.version, e.id, e.type, e.data, e.timestampMs]);

describe('kiln backup --from-mirror', () => {
  it('writes the file a backup of the same range from the active writes, but for the header naming the mirror', { timeout: 120_000 }, async () => {
    await appendSome(300);
    const { active, mirror } = await roles();
    const fromActive = await backup('--out', join(root, 'active.kbak'));
    const named = await backup('--out', join(root, 'named.kbak'), '--from-mirror', mirror.name);
    const any = await backup('--out', join(root, 'any.kbak'), '--from-mirror');
    for (const run of [fromActive, named, any]) {
      expect(run.stderr, run.stderr).not.toMatch(/^kiln: /m);
      expect(run.status).toBe(0);
      expect(run.lastLsn).toBeGreaterThanOrEqual(300);
    }
    expect(named.stdout).toMatch(new RegExp(`from ${mirror.name}\\): `));
    const expected = await partsOf(join(root, 'active.kbak'));
    expect(expected.header.server).toBe(active.name);
    for (const name of ['named.kbak', 'any.kbak']) {
      const got = await partsOf(join(root, name));
      expect({ ...got.header, createdAtMs: 0 }).toEqual({ ...expected.header, server: mirror.name, createdAtMs: 0 });
      expect(got.records.equals(expected.records)).toBe(true);
    }
    // An incremental one from the mirror joins the full one from the active.
    await appendSome(40);
    const inc = await backup('--out', join(root, 'inc.kbak'), '--from-lsn', String(fromActive.lastLsn + 1), '--from-mirror', mirror.name);
    expect(inc.status).toBe(0);
    const restored = await kilnWith(['restore', '--in', join(root, 'active.kbak'), join(root, 'inc.kbak'), '--data-dir', join(root, 'joined')]);
    expect(restored.stdout).toMatch(new RegExp(`LSN 1 through ${inc.lastLsn} of stripe`));
  });

  it('taken while writers append, restores to a server holding every record through its LSN', { timeout: 120_000 }, async () => {
    const { mirror } = await roles();
    let writing = true;
    const writer = (async () => {
      for (let n = 0; writing; n++) await client.append('live', [{ type: 'E', data: { n } }]);
    })();
    await appendSome(100);
    const out = join(root, 'live.kbak');
    const run = await backup('--out', out, '--from-mirror', mirror.name);
    expect(run.stderr, run.stderr).not.toMatch(/^kiln: /m);
    writing = false;
    await writer;
    expect((await client.serverStatus()).commitIndex).toBeGreaterThan(run.lastLsn);
    const dataDir = join(root, 'restored');
    expect((await kilnWith(['restore', '--in', out, '--data-dir', dataDir])).status).toBe(0);
    const copy = await startKiln({ dataDir });
    const copyClient = await connect(copy.url, { transports: [tcpTransport()] });
    try {
      expect((await copyClient.serverStatus()).lastLsn).toBe(run.lastLsn);
      const source = (await wholeLog(client)).filter((e) => e.lsn <= run.lastLsn);
      expect(source.length).toBeGreaterThan(400);
      expect(shown(await wholeLog(copyClient))).toEqual(shown(source));
    } finally {
      await copyClient.close();
    }
  });

  it('a mirror serves nothing past what it knows is committed, and only as an in-sync mirror', { timeout: 60_000 }, async () => {
    const { active, mirror } = await roles();
    const { commitIndex } = await client.serverStatus();
    const direct = async (url: string): Promise<KilnClient> => connect(url, { transports: [tcpTransport()], reconnectWindowMs: 0 });
    const onMirror = await direct(mirror.client);
    const onActive = await direct(active.client);
    try {
      const page = await onMirror.backupPage({ fromLsn: 1, throughLsn: commitIndex, fromMirror: true });
      expect(page.records.length).toBeGreaterThan(0);
      // Past the commit index: the mirror waits mirrorTimeoutMs for the active to commit that far, then refuses.
      await expect(onMirror.backupPage({ fromLsn: 1, throughLsn: commitIndex + 1000, fromMirror: true })).rejects.toMatchObject({ name: 'MirrorBehindError', server: mirror.name, throughLsn: commitIndex + 1000, retryable: true });
      await expect(onActive.backupPage({ fromLsn: 1, throughLsn: commitIndex, fromMirror: true })).rejects.toMatchObject({ name: 'MirrorNotInSyncError', server: active.name, state: 'ACTIVE-COORDINATOR' });
      await expect(onMirror.backupPage({ fromLsn: 1, throughLsn: 0, fromMirror: true })).rejects.toMatchObject({ name: 'InvalidArgumentError', field: 'throughLsn' });
      // The mirror still serves after the refusals.
      expect((await onMirror.backupPage({ fromLsn: 1, throughLsn: commitIndex, fromMirror: true })).records).toEqual(page.records);
    } finally {
      await onMirror.close();
      await onActive.close();
    }
  });

  it('refuses a server not in the stripe, the active and a mirror out of sync, in one line, writing nothing', { timeout: 120_000 }, async () => {
    const { active, mirror } = await roles();
    const out = join(root, 'refused.kbak');
    const refused = async (args: string[], line: RegExp): Promise<void> => {
      const run = await backup('--out', out, ...args);
      expect(run.stderr).toMatch(line);
      expect(run.stderr.trim().split('\n').filter((l) => l.startsWith('kiln: '))).toHaveLength(1);
      expect(run.status).toBe(1);
      expect(await exists(out)).toBe(false);
      expect(await exists(`${out}.partial`)).toBe(false);
    };
    await refused(['--from-mirror', 'nobody'], /^kiln: InvalidArgumentError: --from-mirror: stripe \S+ has no server nobody \(its servers: s1, s2\)$/m);
    await refused(['--from-mirror', 'v1'], /^kiln: InvalidArgumentError: --from-mirror: v1 is a voter of stripe \S+: it holds no log \(its servers: s1, s2\)$/m);
    await refused(['--from-mirror', active.name], new RegExp(`^kiln: InvalidArgumentError: --from-mirror: ${active.name} is the stripe's active`, 'm'));
    await kill(mirror);
    await pollUntil('the active to drop the mirror from the in-sync set', async () => (await statusOf(active.client))?.group?.inSync.includes(mirror.name) === false, 30_000, 100);
    await refused(['--from-mirror', mirror.name], new RegExp(`^kiln: InvalidArgumentError: --from-mirror: ${mirror.name} is not in the in-sync set of stripe \\S+, so it may lack committed records \\(in sync: ${active.name}\\)`, 'm'));
    await refused(['--from-mirror'], /^kiln: InvalidArgumentError: --from-mirror: stripe \S+ has no mirror in sync/m);
    launch(file, mirror);
    await roles();
  });

  /** `kiln backup --from-mirror MIRROR` to `out`, once it has started writing; its stderr so far as `stderr()`. */
  async function backupWriting(out: string, mirror: string) {
    const child = spawn(process.execPath, [KILN_BIN, 'backup', '--config', file, '--out', out, '--from-mirror', mirror], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exit = once(child, 'exit');
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    await pollUntil('the backup to start writing', () => /backup: writing /.test(stderr) || child.exitCode !== null, 30_000, 5);
    return { child, exit, stderr: () => stderr };
  }

  it('a mirror killed during the backup fails it in one line, leaving no FILE', { timeout: 120_000 }, async () => {
    await appendSome(400);
    const { mirror } = await roles();
    const out = join(root, 'killed.kbak');
    const { exit, stderr } = await backupWriting(out, mirror.name);
    // Stopped first, so the backup is surely waiting on it when it dies.
    mirror.process!.kill('SIGSTOP');
    await kill(mirror);
    const [code] = (await exit) as [number | null];
    const lines = stderr().split('\n').filter((l) => l.startsWith('kiln: '));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^kiln: BackupFileError: \\S*killed\\.kbak\\.partial at LSN \\d+: the connection to mirror ${mirror.name} dropped during the backup .*take the backup again$`));
    expect(code).toBe(1);
    // The writer removes what it wrote of a failed backup; no FILE.
    expect(await readdir(root)).not.toContain('killed.kbak');
    expect(await exists(`${out}.partial`)).toBe(false);
    launch(file, mirror);
    await roles();
  });

  // Last: the group keeps one server afterwards.
  it('a mirror leaving the in-sync set during the backup fails it in one line, leaving no FILE', { timeout: 120_000 }, async () => {
    const { mirror } = await roles();
    const out = join(root, 'left.kbak');
    const { child, exit, stderr } = await backupWriting(out, mirror.name);
    // The backup held still while the mirror leaves: its next page is surely asked of a mirror that left.
    child.kill('SIGSTOP');
    try {
      const removed = await kilnWith(['admin', 'remove-mirror', '--config', file, '--name', mirror.name]);
      expect(removed.status, removed.stderr).toBe(0);
      await pollUntil('the mirror to know it left', async () => (await statusOf(mirror.client))?.group?.removed === true, 20_000, 50);
    } finally {
      child.kill('SIGCONT');
    }
    const [code] = (await exit) as [number | null];
    const lines = stderr().split('\n').filter((l) => l.startsWith('kiln: '));
    expect(lines).toEqual([`kiln: MirrorNotInSyncError: ${mirror.name} is not an in-sync mirror of its stripe (it is removed): it serves no reads of a mirror`]);
    expect(code).toBe(1);
    expect(await exists(out)).toBe(false);
    expect(await exists(`${out}.partial`)).toBe(false);
  });
});
