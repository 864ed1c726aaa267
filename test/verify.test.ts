// `kiln verify` with real processes and real LevelDB: a healthy group under load verifies clean;
// a mirror whose stored record fails its CRC is reported damaged at that LSN; a record altered with
// a valid CRC is judged by the majority of the servers: the one server outside it differs there,
// the active too, and two copies (or three) that all differ blame none; a server down is
// unreachable, never agreeing; a user without `admin` is refused, even one who reads every stream.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { afterAll, describe, expect, it } from 'vitest';
import { crc32c } from '@kiln/core';
import { connect } from '@kiln/core/client';
import { tcpTransport } from '@kiln/transport-tcp';
import { authConfig, PASSWORDS, TOKENS } from './support/auth.js';
import { cluster, connectWithin, freeFixedPort, inSyncActive, kill, killAllKilns, killAllMembers, kilnWith, launch, pollUntil, seededRandom, startKiln, type Member } from './support/cluster.js';

const dirs: string[] = [];
afterAll(async () => {
  killAllMembers();
  await killAllKilns();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

interface VerifyJson {
  stripes: Array<{ name: string; active: string; fromLsn: number; throughLsn: number; servers: Array<{ name: string; result: string; active: boolean; checkedThroughLsn: number | null; damagedLsn: number | null; differsFromLsn: number | null; majority: string[] | null; detail: string | null }> }>;
}

async function verify(file: string, ...flags: string[]): Promise<{ status: number | null; json: VerifyJson; stderr: string }> {
  const run = await kilnWith(['verify', '--config', file, '--json', ...flags]);
  return { status: run.status, json: JSON.parse(run.stdout) as VerifyJson, stderr: run.stderr };
}

const serverOf = (json: VerifyJson, name: string) => json.stripes[0]!.servers.find((s) => s.name === name)!;

/** Bytes of filler after the marked records: more than the newest records the level store checks at open (24 MiB). */
const FILLER_BYTES = 30 * 1024 * 1024;
const MARKS = { damaged: 'MARK-damaged-record', altered: 'MARK-altered-record', later: 'MARK-later-record' } as const;

/**
 * Changes one byte of the stored record holding `mark` in the stopped server's LevelDB; with
 * `recrc`, writes the record's CRC again so that it passes its check. @returns the record's LSN
 */
async function alterRecord(dataDir: string, mark: string, recrc: boolean): Promise<number> {
  const db = new Level<Uint8Array, Uint8Array>(dataDir, { keyEncoding: 'view', valueEncoding: 'view' });
  try {
    for await (const [key, value] of db.iterator()) {
      const at = Buffer.from(value).indexOf(mark);
      if (key[0] !== 0x52 || at < 0) continue; // 'R': a chunk of records, u64 first LSN, then u32 count and u32 lengths
      const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
      let start = 4 + 4 * view.getUint32(0);
      for (let i = 0; ; i++) {
        const length = view.getUint32(4 + 4 * i);
        if (at < start + length) {
          value[at + mark.length - 1]! ^= 0x01;
          // A record: u32le body length, u32le CRC-32C of the body, then the body.
          if (recrc) view.setUint32(start + 4, crc32c(value.subarray(start + 8, start + length)), true);
          await db.put(key, value);
          return Number(Buffer.from(key).readBigUInt64BE(1)) + i;
        }
        start += length;
      }
    }
    throw new Error(`no record holds ${mark}`);
  } finally {
    await db.close();
  }
}

describe('kiln verify', () => {
  it('verifies a healthy group under load; finds a damaged and an altered record on a mirror, and a server down', { timeout: 300_000 }, async () => {
    const root = await mkdtemp(join(tmpdir(), 'kiln-verify-'));
    dirs.push(root);
    const { file, members } = await cluster(2, 1, root, seededRandom(Number(process.env.KILN_VERIFY_SEED ?? Math.floor(Math.random() * 2 ** 31))));
    for (const m of members) launch(file, m);
    const servers = members.filter((m) => !m.voter);
    const client = await connectWithin(servers.map((m) => m.client));
    // Two marked records among small ones, then enough filler that the open-time check does not reach them.
    for (let i = 0; i < 20; i++) await client.append(`early-${i % 3}`, [{ type: 'E', data: i === 5 ? MARKS.damaged : i === 12 ? MARKS.altered : `plain-${i}` }]);
    const filler = 'x'.repeat(512 * 1024);
    for (let bytes = 0; bytes < FILLER_BYTES; bytes += filler.length) await client.append('filler', [{ type: 'F', data: filler }]);
    let running = true;
    let acked = 0;
    const load = (async () => {
      while (running) {
        await client.append(`load-${acked % 7}`, [{ type: 'L', data: acked }]);
        acked++;
      }
    })();
    try {
      const active = await inSyncActive(servers);
      const mirror = servers.find((m) => m !== active)!;
      await pollUntil('some load', () => acked >= 100, 60_000);

      // Healthy, under load: both agree through the active's commit index, and it exits 0.
      const healthy = await verify(file);
      expect(healthy.status, healthy.stderr).toBe(0);
      expect(healthy.json.stripes[0]).toMatchObject({ active: active.name, fromLsn: 1 });
      expect(healthy.json.stripes[0]!.throughLsn).toBeGreaterThan(80);
      for (const m of servers) expect(serverOf(healthy.json, m.name)).toMatchObject({ result: 'ok', checkedThroughLsn: healthy.json.stripes[0]!.throughLsn });

      // The mirror stopped, one record flipped (its CRC now fails), one altered and its CRC written again; restarted.
      await kill(mirror);
      const damagedLsn = await alterRecord(mirror.dataDir, MARKS.damaged, false);
      const alteredLsn = await alterRecord(mirror.dataDir, MARKS.altered, true);
      expect(alteredLsn).toBeGreaterThan(damagedLsn);

      // A server down is unreachable, not agreeing: exit 5.
      const down = await verify(file);
      expect(down.status, down.stderr).toBe(5);
      expect(serverOf(down.json, mirror.name)).toMatchObject({ result: 'unreachable' });
      expect(serverOf(down.json, active.name)).toMatchObject({ result: 'ok', active: true });

      launch(file, mirror);
      await inSyncActive(servers);
      const damaged = await verify(file);
      expect(damaged.status, damaged.stderr + JSON.stringify(damaged.json)).toBe(6);
      expect(serverOf(damaged.json, mirror.name)).toMatchObject({ result: 'damaged', damagedLsn });
      expect(serverOf(damaged.json, active.name)).toMatchObject({ result: 'ok' });
      // Past the damaged record, the altered one: its CRC holds, its bytes are not the active's. Two
      // servers that differ leave no majority to tell which is right: both differ, neither is blamed.
      const altered = await verify(file, '--from-lsn', String(damagedLsn + 1));
      expect(altered.status, altered.stderr).toBe(6);
      for (const m of servers) expect(serverOf(altered.json, m.name)).toMatchObject({ result: 'differs', differsFromLsn: alteredLsn, majority: [] });
      const text = await kilnWith(['verify', '--config', file, '--from-lsn', String(damagedLsn + 1)]);
      for (const m of servers) expect(text.stdout).toMatch(new RegExp(`^  ${m.name}  DIFFERS: s1 and s2 differ from LSN ${alteredLsn}, no majority to tell which is right$`, 'm'));
      expect(text.stdout).toMatch(new RegExp(`^  no majority: compare the records of s1 and s2 from LSN ${alteredLsn} with a backup`, 'm'));
      expect(text.stdout).not.toMatch(/DIFFERS from the active/);
    } finally {
      running = false;
      await load.catch(() => undefined);
      await client.close();
    }
  });

  it('judges by the majority: a mirror outside it differs, an active outside it too, and three copies that all differ blame none', { timeout: 300_000 }, async () => {
    const root = await mkdtemp(join(tmpdir(), 'kiln-verify-majority-'));
    dirs.push(root);
    const { file, members } = await cluster(3, 0, root, seededRandom(Number(process.env.KILN_VERIFY_SEED ?? Math.floor(Math.random() * 2 ** 31))));
    for (const m of members) launch(file, m);
    const client = await connectWithin(members.map((m) => m.client));
    try {
      for (let i = 0; i < 20; i++) await client.append(`early-${i % 3}`, [{ type: 'E', data: i === 5 ? MARKS.altered : i === 12 ? MARKS.later : `plain-${i}` }]);
    } finally {
      await client.close();
    }
    const active = await inSyncActive(members);
    const [first, second] = members.filter((m) => m !== active) as [Member, Member];
    const namesOf = (...chosen: Member[]) => members.filter((m) => chosen.includes(m)).map((m) => m.name);
    /** Stops a mirror, alters its record holding `mark` (with a valid CRC) and waits for it back in sync under the same active. */
    const alter = async (mirror: Member, mark: string) => {
      await kill(mirror);
      const lsn = await alterRecord(mirror.dataDir, mark, true);
      launch(file, mirror);
      expect((await inSyncActive(members)).name).toBe(active.name);
      return lsn;
    };
    const textOf = async () => (await kilnWith(['verify', '--config', file])).stdout;

    // One mirror differs: the active and the other mirror outvote it, and it is reported against the active, as before.
    const alteredLsn = await alter(first, MARKS.altered);
    const mirrorDiffers = await verify(file);
    expect(mirrorDiffers.status, mirrorDiffers.stderr).toBe(6);
    expect(mirrorDiffers.json.stripes[0]!.active).toBe(active.name);
    expect(serverOf(mirrorDiffers.json, first.name)).toMatchObject({ result: 'differs', differsFromLsn: alteredLsn, majority: namesOf(active, second) });
    for (const m of [active, second]) expect(serverOf(mirrorDiffers.json, m.name)).toMatchObject({ result: 'ok', majority: namesOf(active, second) });
    const mirrorText = await textOf();
    expect(mirrorText).toMatch(new RegExp(`^  ${first.name}  DIFFERS from the active from LSN ${alteredLsn}$`, 'm'));
    expect(mirrorText).toMatch(new RegExp(`^  ${active.name}  OK, the active`, 'm'));
    expect(mirrorText).not.toMatch(/itself differs|no majority/);

    // Both mirrors hold the same altered record: the active is the odd one out, and the one reported; the mirrors are OK.
    await alter(second, MARKS.altered);
    const activeDiffers = await verify(file);
    expect(activeDiffers.status, activeDiffers.stderr).toBe(6);
    expect(activeDiffers.json.stripes[0]!.active).toBe(active.name);
    expect(serverOf(activeDiffers.json, active.name)).toMatchObject({ result: 'differs', active: true, differsFromLsn: alteredLsn, majority: namesOf(first, second) });
    const end = activeDiffers.json.stripes[0]!.throughLsn;
    for (const m of [first, second]) expect(serverOf(activeDiffers.json, m.name)).toMatchObject({ result: 'ok', checkedThroughLsn: end, differsFromLsn: null, majority: namesOf(first, second) });
    const activeText = await textOf();
    expect(activeText).toMatch(new RegExp(`^  ${active.name}  DIFFERS from the majority \\(${namesOf(first, second).join(', ')}\\) from LSN ${alteredLsn}$`, 'm'));
    for (const m of [first, second]) expect(activeText).toMatch(new RegExp(`^  ${m.name}  OK \\(checked through LSN ${end}\\)$`, 'm'));
    expect(activeText).toMatch(new RegExp(`^  the active ${active.name} itself differs from the majority: fail over away from it`, 'm'));

    // A later record of the second mirror altered too: three copies that all differ, no majority, none blamed.
    const laterLsn = await alter(second, MARKS.later);
    expect(laterLsn).toBeGreaterThan(alteredLsn);
    const allDiffer = await verify(file);
    expect(allDiffer.status, allDiffer.stderr).toBe(6);
    for (const m of members) expect(serverOf(allDiffer.json, m.name)).toMatchObject({ result: 'differs', differsFromLsn: alteredLsn, majority: [] });
    const splitText = await textOf();
    for (const m of members) expect(splitText).toMatch(new RegExp(`^  ${m.name}  DIFFERS: s1, s2 and s3 differ from LSN ${alteredLsn}, no majority to tell which is right$`, 'm'));
    expect(splitText).not.toMatch(/itself differs/);
  });

  it('refuses a user without admin, and verifies for one with it', { timeout: 60_000 }, async () => {
    const root = await mkdtemp(join(tmpdir(), 'kiln-verify-auth-'));
    dirs.push(root);
    const random = seededRandom(Math.floor(Math.random() * 2 ** 31));
    const url = `tcp://127.0.0.1:${await freeFixedPort(() => random.int(20_000, 30_000))}`;
    const file = join(root, 'cluster.json');
    await writeFile(file, JSON.stringify({ cluster: 'c', persistence: 'restartable', servers: [{ name: 'a', listen: [url], dataDir: join(root, 'a') }], auth: await authConfig() }));
    await startKiln({ args: ['--config', file] });
    const ops = await connect(url, { transports: [tcpTransport()], credentials: { username: 'ops', password: PASSWORDS.ops } });
    for (let i = 0; i < 10; i++) await ops.append('orders-1', [{ type: 'E', data: i }]);
    await ops.close();

    // The token reads every stream ("*"), and may still not verify: that takes admin.
    const refused = await kilnWith(['verify', '--config', file], { KILN_TOKEN: TOKENS.billing });
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/PermissionDeniedError: .*admin/);
    const allowed = await kilnWith(['verify', '--config', file, '--user', 'ops', '--json'], { KILN_PASSWORD: PASSWORDS.ops });
    expect(allowed.status, allowed.stderr).toBe(0);
    expect((JSON.parse(allowed.stdout) as VerifyJson).stripes[0]).toMatchObject({ throughLsn: 10, servers: [{ name: 'a', result: 'ok', active: true, checkedThroughLsn: 10 }] });
  });
});
