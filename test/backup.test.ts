// kiln backup and kiln restore on real processes and real LevelDB: a backup taken while writers
// append holds exactly the committed log through its LSN, an incremental one joins it, and the
// restored directory serves the same reads, alone or as a new mirror of a group that then ships
// it only what it lacks. A damaged, cut or missing file is refused in one line naming the file
// and the LSN, and changes nothing; a killed backup leaves only FILE.partial; auth asks for admin.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { access, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connect, type KilnClient, type RecordedEvent } from '@kiln/core/client';
import { tcpTransport } from '@kiln/transport-tcp';
import { authConfig, PASSWORDS, TOKENS } from './support/auth.js';
import { cluster, connectWithin, digestOf, KILN_BIN, kilnWith, killAllKilns, killAllMembers, launch, pollUntil, seededRandom, startKiln, statusOf, wholeLog, type KilnProcess } from './support/cluster.js';

const dirs: string[] = [];
afterAll(async () => {
  killAllMembers();
  await killAllKilns();
  if (!process.env.KILN_KEEP) await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function tempRoot(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'kiln-backup-'));
  dirs.push(root);
  return root;
}

/** `kiln backup ARGS`, which must succeed; the last LSN it says it holds. */
async function backup(...args: string[]): Promise<number> {
  const run = await kilnWith(['backup', ...args]);
  expect(run.stderr, run.stderr).not.toMatch(/^kiln: /m);
  expect(run.status).toBe(0);
  return Number(/^backup .*: LSN \d+ through (\d+) of stripe/m.exec(run.stdout)![1]);
}

/** A lone restartable server from a one-server cluster file (with `auth` and `limits` when given). */
async function loneServer(root: string, extra: Record<string, unknown> = {}): Promise<KilnProcess> {
  const file = join(root, 'lone.config.json');
  await writeFile(file, JSON.stringify({ cluster: 'lone', persistence: 'restartable', servers: [{ name: 'a', listen: ['tcp://127.0.0.1:0'], dataDir: join(root, 'a') }], ...extra }));
  return startKiln({ args: ['--config', file] });
}

const dial = (url: string, credentials?: { username: string; password: string }): Promise<KilnClient> => connect(url, { transports: [tcpTransport()], ...(credentials && { credentials }) });

/** Writers appending to streams of their own until stopped; `acked` counts acknowledged appends. */
function writers(client: KilnClient, count: number): { acked: () => number; stop: () => Promise<void> } {
  let acked = 0;
  let running = true;
  const loops = Array.from({ length: count }, async (_, w) => {
    for (let version = 0; running; version++) {
      await client.append(`w${w}`, [{ type: 'E', data: { w, version, pad: 'x'.repeat(200) } }], { expectedVersion: version === 0 ? 'no-stream' : version - 1 });
      acked++;
    }
  });
  return {
    acked: () => acked,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

/** What a read of the whole log shows, event by event. */
const shown = (events: readonly RecordedEvent[]): unknown[] => events.map((e) => [e.lsn, e.stream, e.version, e.id, e.type, e.data, e.timestampMs]);

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}

/** The byte offset in backup file `bytes` where the record of `lsn` starts (header first, then records in order). */
function recordOffset(bytes: Buffer, lsn: number): number {
  let at = 16 + bytes.readUInt32LE(12);
  const header = JSON.parse(bytes.subarray(16, at).toString('utf8')) as { firstLsn: number };
  for (let l = header.firstLsn; l < lsn; l++) at += 8 + bytes.readUInt32LE(at);
  return at;
}

describe('kiln backup and kiln restore', () => {
  it('a backup taken while writers append holds the committed log through its LSN, exactly; an incremental one joins it; the restored server reads as the source', { timeout: 120_000 }, async () => {
    const root = await tempRoot();
    const source = await loneServer(root);
    const client = await dial(source.url);
    const load = writers(client, 3);
    await pollUntil('some load', () => load.acked() >= 300, 30_000);
    const full = join(root, 'full.kbak');
    const fullLast = await backup('--url', source.url, '--out', full);
    expect(fullLast).toBeGreaterThanOrEqual(300);
    expect(await readdir(root)).not.toContain('full.kbak.partial');
    await pollUntil('more load', () => load.acked() >= fullLast + 300, 30_000);
    const inc = join(root, 'inc.kbak');
    const incLast = await backup('--url', source.url, '--out', inc, '--from-lsn', String(fullLast + 1));
    expect(incLast).toBeGreaterThan(fullLast);
    await load.stop();
    // The writers went on past both backups: the restore must hold what the backups held, no more.
    expect((await client.serverStatus()).commitIndex).toBeGreaterThan(incLast);

    const restored = join(root, 'restored');
    const restore = await kilnWith(['restore', '--in', full, inc, '--data-dir', restored]);
    expect(restore.stderr).toBe('');
    expect(restore.stdout).toMatch(new RegExp(`^restored .*: LSN 1 through ${incLast} of stripe lone .*from 2 file\\(s\\)$`, 'm'));
    expect(await readdir(root)).not.toContain('restored.partial');
    const copy = await startKiln({ dataDir: restored });
    const copyClient = await dial(copy.url);
    try {
      expect((await copyClient.serverStatus()).lastLsn).toBe(incLast);
      expect(await digestOf(copy.url, incLast)).toEqual(await digestOf(source.url, incLast));
      const sourceEvents = (await wholeLog(client)).filter((e) => e.lsn <= incLast);
      expect(shown(await wholeLog(copyClient))).toEqual(shown(sourceEvents));
      // A stream read, and the stream heads: the restored server takes appends where the source stood at the backup.
      const lastOfW0 = sourceEvents.filter((e) => e.stream === 'w0').at(-1)!;
      expect(shown(await copyClient.read('w0', { maxCount: 4096 }))).toEqual(shown(sourceEvents.filter((e) => e.stream === 'w0')));
      await copyClient.append('w0', [{ type: 'After', data: 1 }], { expectedVersion: lastOfW0.version });
    } finally {
      await copyClient.close();
      await client.close();
    }
  });

  it('refuses a flipped bit, a cut file, a file without its trailer, a missing middle file and a non-empty directory, in one line naming the file and the LSN, and changes nothing', { timeout: 120_000 }, async () => {
    const root = await tempRoot();
    const source = await loneServer(root);
    const client = await dial(source.url);
    const append = async (count: number): Promise<void> => {
      for (let i = 0; i < count; i++) await client.append(`s${i % 5}`, [{ type: 'E', data: { i, pad: 'y'.repeat(100) } }]);
    };
    await append(100);
    const full = join(root, 'full.kbak');
    await backup('--url', source.url, '--out', full);
    await append(50);
    const inc1 = join(root, 'inc1.kbak');
    await backup('--url', source.url, '--out', inc1, '--from-lsn', '101');
    await append(50);
    const inc2 = join(root, 'inc2.kbak');
    await backup('--url', source.url, '--out', inc2, '--from-lsn', '151');
    await client.close();
    const bytes = await readFile(full);
    const damaged = async (name: string, content: Buffer): Promise<string> => {
      const file = join(root, name);
      await writeFile(file, content);
      return file;
    };
    const flipped = Buffer.from(bytes);
    flipped[recordOffset(bytes, 42) + 20]! ^= 0x10;
    const headerFlipped = Buffer.from(bytes);
    // A digit of the header's createdAtMs: still a well-formed header, caught by the trailer.
    const digit = bytes.indexOf('"createdAtMs":') + '"createdAtMs":'.length + 3;
    headerFlipped[digit] = headerFlipped[digit] === 0x31 ? 0x32 : 0x31;
    const cases: Array<[string[], RegExp]> = [
      [[await damaged('flipped.kbak', flipped)], /^kiln: BackupFileError: \S*flipped\.kbak at LSN 42: the record is damaged: CRC mismatch\n$/],
      [[await damaged('cut.kbak', bytes.subarray(0, recordOffset(bytes, 77) + 30))], /^kiln: BackupFileError: \S*cut\.kbak at LSN 77: the file is cut short inside the record\n$/],
      [[await damaged('no-trailer.kbak', bytes.subarray(0, bytes.length - 40))], /^kiln: BackupFileError: \S*no-trailer\.kbak at LSN 100: the file is cut short after its last record: it has no trailer/],
      [[await damaged('header.kbak', headerFlipped)], /^kiln: BackupFileError: \S*header\.kbak: the trailer's SHA-256 does not match the file/],
      [[full, inc2], /^kiln: BackupFileError: \S*inc2\.kbak at LSN 151: starts at LSN 151, but the files before it end at LSN 100: a backup of LSN 101 through 150 is missing between them\n$/],
      [[inc1, inc2], /^kiln: BackupFileError: \S*inc1\.kbak at LSN 101: is an incremental backup: a restore starts from a full backup/],
      [[full, inc1, inc1], /^kiln: BackupFileError: \S*inc1\.kbak at LSN 101: starts at LSN 101, but the files before it end at LSN 150: they overlap\n$/],
    ];
    const target = join(root, 'target');
    for (const [files, refusal] of cases) {
      const run = await kilnWith(['restore', '--in', ...files, '--data-dir', target]);
      expect(run.stderr, files.join(' ')).toMatch(refusal);
      expect(run.status).toBe(1);
      expect(await exists(target)).toBe(false);
      expect(await exists(`${target}.partial`)).toBe(false);
    }

    // A directory that holds anything is never written into.
    await mkdir(target);
    await writeFile(join(target, 'keep.txt'), 'mine');
    const nonEmpty = await kilnWith(['restore', '--in', full, '--data-dir', target]);
    expect(nonEmpty.stderr).toMatch(/^kiln: ConfigError: --data-dir: \S*target is not empty: restore only into a new or empty directory\n$/);
    expect(nonEmpty.status).toBe(3);
    expect(await readdir(target)).toEqual(['keep.txt']);
    // The good files restore, into an empty directory too.
    await rm(join(target, 'keep.txt'));
    const good = await kilnWith(['restore', '--in', full, inc1, inc2, '--data-dir', target]);
    expect(good.stdout).toMatch(/LSN 1 through 200 of stripe lone/);
  });

  it('a backup killed on the way leaves only FILE.partial, which restore refuses; the next backup replaces it, as does one started while another runs', { timeout: 120_000 }, async () => {
    const root = await tempRoot();
    // Small read pages: the backup takes many round trips, so it is surely still running when killed.
    const source = await loneServer(root, { limits: { readBytesMax: 64 * 1024 } });
    const client = await dial(source.url);
    const events = Array.from({ length: 20 }, (_, i) => ({ type: 'E', data: { i, pad: 'z'.repeat(1000) } }));
    for (let i = 0; i < 400; i++) await client.append(`k${i % 10}`, events);
    await client.close();
    const out = join(root, 'killed.kbak');
    const child = spawn(process.execPath, [KILN_BIN, 'backup', '--url', source.url, '--out', out], { stdio: ['ignore', 'ignore', 'pipe'] });
    const exit = once(child, 'exit');
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    await pollUntil('the backup to start writing', () => /backup: writing /.test(stderr) || child.exitCode !== null, 30_000, 5);
    child.kill('SIGKILL');
    const [, signal] = (await exit) as [number | null, NodeJS.Signals | null];
    expect(signal).toBe('SIGKILL');
    expect(await readdir(root)).toContain('killed.kbak.partial');
    expect(await exists(out)).toBe(false);
    const refused = await kilnWith(['restore', '--in', `${out}.partial`, '--data-dir', join(root, 'r')]);
    expect(refused.stderr).toMatch(/^kiln: BackupFileError: \S*killed\.kbak\.partial at LSN \d+: the file is cut short/);
    expect(refused.status).toBe(1);

    expect(await backup('--url', source.url, '--out', out)).toBe(400);
    expect(await readdir(root)).not.toContain('killed.kbak.partial');

    // Two backups of one FILE at once (a cron job overlapping the last run): the later one replaces
    // the FILE.partial the first writes, so the first fails and the FILE is the later one's, whole.
    // Both wrote into one FILE.partial: the first said it was taken, of a FILE that failed its digest.
    const twice = join(root, 'twice.kbak');
    const slow = spawn(process.execPath, [KILN_BIN, 'backup', '--url', source.url, '--out', twice, '--max-rate', '2'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const slowExit = once(slow, 'exit');
    let slowErr = '';
    slow.stderr.on('data', (chunk: Buffer) => (slowErr += chunk.toString()));
    await pollUntil('the first backup to start writing', () => /backup: writing /.test(slowErr) || slow.exitCode !== null, 30_000, 5);
    expect(await backup('--url', source.url, '--out', twice)).toBe(400);
    const [slowCode] = (await slowExit) as [number | null];
    expect(slowErr.split('\n').filter((l) => l.startsWith('kiln: '))).toEqual([
      `kiln: BackupFileError: ${twice}.partial: another backup of ${twice} started while this one ran, and writes ${twice}.partial now: this one is not taken`,
    ]);
    expect(slowCode).toBe(1);
    expect((await kilnWith(['restore', '--in', twice, '--data-dir', join(root, 'from-twice')])).stdout).toMatch(/LSN 1 through 400 of stripe lone/);
    expect(await readdir(root)).not.toContain('twice.kbak.partial');
  });

  it('--max-rate holds a backup to its rate and writes the same file; a rate that is no positive number, too small to end or given twice is refused before anything is read; so is an --out that cannot be created', { timeout: 120_000 }, async () => {
    const root = await tempRoot();
    const source = await loneServer(root, { limits: { readBytesMax: 64 * 1024 } });
    const client = await dial(source.url);
    const events = Array.from({ length: 20 }, (_, i) => ({ type: 'E', data: { i, pad: 'p'.repeat(1000) } }));
    for (let i = 0; i < 60; i++) await client.append(`m${i % 6}`, events);
    await client.close();
    const plain = join(root, 'plain.kbak');
    expect(await backup('--url', source.url, '--out', plain)).toBe(60);
    const size = (await readFile(plain)).length;
    // About 1.2 MB at 1 MiB a second: a page at a time, the copy cannot end before its bytes were due.
    const paced = join(root, 'paced.kbak');
    const startedMs = performance.now();
    expect(await backup('--url', source.url, '--out', paced, '--max-rate', '1')).toBe(60);
    const tookMs = performance.now() - startedMs;
    const lastPageMs = ((size - 64 * 1024 * 2) / (1024 * 1024)) * 1000;
    expect(tookMs, `${size} bytes at 1 MiB/s`).toBeGreaterThanOrEqual(lastPageMs);
    // Everything but the header's creation time is the same.
    const records = (file: Buffer): Buffer => file.subarray(16 + file.readUInt32LE(12), file.length - 40); // past the header, before the trailer
    expect(records(await readFile(paced)).equals(records(await readFile(plain)))).toBe(true);
    for (const rate of ['0', '-1', 'fast', 'Infinity']) {
      const run = await kilnWith(['backup', '--url', source.url, '--out', join(root, 'never.kbak'), `--max-rate=${rate}`]);
      expect(run.stderr).toMatch(new RegExp(`^kiln: --max-rate must be a positive number of MiB a second, not '${rate}'`, 'm'));
      expect(run.status).toBe(2);
    }
    // Below 32 KiB a second a page's wait passes Node's timer limit: such a backup hung, silent.
    const tiny = await kilnWith(['backup', '--url', source.url, '--out', join(root, 'never.kbak'), '--max-rate', '1e-9'], {}, 15_000);
    expect(tiny.stderr).toMatch(/^kiln: --max-rate must be at least 0.03125 MiB \(32 KiB\) a second, not '1e-9'/m);
    expect(tiny.status).toBe(2);
    // parseArgs keeps the last of a flag given twice: this one ran unpaced.
    const twice = await kilnWith(['backup', '--url', source.url, '--out', join(root, 'never.kbak'), '--max-rate', '1', '--max-rate', '1e12']);
    expect(twice.stderr).toMatch(/^kiln: --max-rate is given twice \(see kiln backup --help\)$/m);
    expect(twice.status).toBe(2);
    expect(await readdir(root)).not.toContain('never.kbak.partial');
    expect(await readdir(root)).not.toContain('never.kbak');
    // An --out that cannot be created: one line naming it, not a stack.
    await writeFile(join(root, 'a-file'), 'x');
    const cases: Array<[string, RegExp]> = [
      [join(root, 'no', 'such', 'dir', 'a.kbak'), /^kiln: ConfigError: --out: cannot create \S*no\/such\/dir\/a\.kbak\.partial: its directory does not exist\n$/],
      [join(root, 'a-file', 'a.kbak'), /^kiln: ConfigError: --out: cannot create \S*a-file\/a\.kbak\.partial: a part of its path is not a directory\n$/],
    ];
    for (const [out, line] of cases) {
      const run = await kilnWith(['backup', '--url', source.url, '--out', out]);
      expect(run.stderr.replace(/^backup: .*\n/gm, '')).toMatch(line);
      expect(run.status).toBe(3);
    }
  });

  it('with auth, a backup needs admin on "*": read on every stream is not enough', { timeout: 60_000 }, async () => {
    const root = await tempRoot();
    const source = await loneServer(root, { auth: await authConfig() });
    const client = await dial(source.url, { username: 'ops', password: PASSWORDS.ops });
    await client.append('orders-1', [{ type: 'E', data: 1 }]);
    await client.close();
    const out = join(root, 'auth.kbak');
    const refusals: Array<[Record<string, string>, string[], RegExp]> = [
      [{}, [], /^kiln: AuthenticationError: /],
      [{ KILN_PASSWORD: PASSWORDS.reader }, ['--user', 'reader'], /^kiln: PermissionDeniedError: .*admin/],
      // The token's role reads every stream, but a backup is an operator's.
      [{ KILN_TOKEN: TOKENS.billing }, [], /^kiln: PermissionDeniedError: .*admin/],
    ];
    for (const [env, flags, refusal] of refusals) {
      const run = await kilnWith(['backup', '--url', source.url, '--out', out, ...flags], env);
      expect(run.stderr).toMatch(refusal);
      expect(run.status).toBe(1);
      expect(await readdir(root)).not.toContain('auth.kbak.partial');
      expect(await exists(out)).toBe(false);
    }
    const allowed = await kilnWith(['backup', '--url', source.url, '--out', out, '--user', 'ops'], { KILN_PASSWORD: PASSWORDS.ops });
    expect(allowed.stdout).toMatch(/LSN 1 through 1 of stripe lone/);
  });

  it('a restored directory starts as a new mirror holding the backup of the log, joins the running group and catches up the rest', { timeout: 240_000 }, async () => {
    const random = seededRandom(Number(process.env.KILN_BACKUP_SEED ?? Math.floor(Math.random() * 2 ** 31)));
    const root = await tempRoot();
    const { file, members } = await cluster(3, 1, root, random);
    const [s1, s2, s3, v1] = members as [(typeof members)[0], (typeof members)[0], (typeof members)[0], (typeof members)[0]];
    // The group runs from the file without s3; s3 joins later with the whole file.
    const withS3 = JSON.parse(await readFile(file, 'utf8')) as { servers: Array<{ name: string }> };
    const oldFile = join(root, 'old.config.json');
    await writeFile(oldFile, JSON.stringify({ ...withS3, servers: withS3.servers.filter((s) => s.name !== 's3') }));
    for (const m of [s1, s2, v1]) launch(oldFile, m);
    const client = await connectWithin([s1.client, s2.client]);
    const load = writers(client, 2);
    await pollUntil('some load', () => load.acked() >= 300, 60_000);
    const out = join(root, 'group.kbak');
    const backedUp = await backup('--config', oldFile, '--out', out);
    const restore = await kilnWith(['restore', '--in', out, '--data-dir', s3.dataDir]);
    expect(restore.status).toBe(0);
    await pollUntil('more load', () => load.acked() >= backedUp + 200, 60_000);

    launch(file, s3, true);
    // It starts from the restored log, outside the group until added.
    await pollUntil('s3 to answer', async () => (await statusOf(s3.client)) !== undefined, 30_000, 100);
    expect((await statusOf(s3.client))!.lastLsn).toBe(backedUp);
    const added = await kilnWith(['admin', 'add-mirror', '--config', file, '--name', 's3', '--wait']);
    expect(added.stdout).toMatch(/view \d+ recorded: servers s1, s2, s3/);
    await load.stop();
    const { commitIndex } = await client.serverStatus();
    await client.close();
    await pollUntil('s3 to hold the whole log', async () => ((await statusOf(s3.client))?.lastLsn ?? 0) >= commitIndex, 60_000, 100);
    expect(await digestOf(s3.client, commitIndex)).toEqual(await digestOf(s1.client, commitIndex));
    expect((await digestOf(s3.client, commitIndex)).throughLsn).toBe(commitIndex);
  });
});
