// Power loss in restartable mode, on loop-device images (RELIABILITY.md §2.2, scenarios 10 and 11).
// kill -9 keeps the page cache; here each server's data directory is an ext4 image of its own, and
// a power cut is a copy of the image file: the disk as the device holds it, without what was
// written but never fsynced. The server is stopped (SIGSTOP) for the copy, so that the copy is one
// moment's disk, then killed; the test restarts it on the copy, after fsck, as a boot would.
//
// Every append the writers saw acknowledged before the cut must be in the log after the restart,
// once, at the LSN and versions its acknowledgement gave; nothing that was never sent may be there.
// Runs as root only (losetup, mount); elsewhere the file is skipped with a message, and in CI
// (CI=true) a missing capability fails it.
import { open, readdir, readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkLog, Ledger, readWholeLog, type LedgerTxn } from './support/processes/load.js';
import { startLedgerWriters } from './support/ledger-writers.js';
import {
  cluster,
  inSyncActive,
  kill,
  launch,
  pollUntil,
  seededRandom,
  startKiln,
  statusOf,
  type KilnProcess,
  type Member,
} from './support/cluster.js';
import { copyImage, makeImage, mountCopy, runsOnLoopImages, unmountImage, type LoopImage } from './support/loop-image.js';
import { loopImageTests } from './support/loop-image-tests.js';
import { mirrorsMatch, powerCut, restartOnCopies } from './support/power-cut.js';

const SEED = Number(process.env.KILN_POWER_SEED ?? Math.floor(Math.random() * 2 ** 31));
/** Root, or CI (which must fail, not skip, without loop devices). */
const RUNS = runsOnLoopImages('the power-loss tests');
/** Power cuts of the lone server, each at a different moment. */
const CUTS = 3;

const { tempRoot, clientOf, groupMembers } = loopImageTests(RUNS, 'kiln-power-');

/** Writers for a power cut, on clients this file closes. */
function startWriters(urls: string[], ledger: Ledger, tag: string, random: ReturnType<typeof seededRandom>): { stop(): Promise<void> } {
  return startLedgerWriters(clientOf, urls, ledger, tag, random);
}

/** The transactions acknowledged before `cutAtMs`: those the cut must not lose. */
function ackedBefore(ledger: Ledger, cutAtMs: number): LedgerTxn[] {
  return ledger.acked().filter((txn) => txn.ackedAtMs! < cutAtMs);
}

describe.skipIf(!RUNS)('power loss in restartable mode (loop-device images)', () => {
  console.log(`power-loss seed ${SEED} (replay with KILN_POWER_SEED=${SEED})`);

  it('the copy of an image holds what was fsynced and not what was only written (the harness models power loss)', async () => {
    const root = await tempRoot();
    const mnt = join(root, 'mnt');
    const image = await makeImage(join(root, 'probe.img'), mnt);
    const synced = await open(join(mnt, 'synced'), 'w');
    await synced.writeFile('synced');
    await synced.sync();
    await synced.close();
    await writeFile(join(mnt, 'written'), 'written');
    await copyImage(image, join(root, 'probe-cut.img'));
    await unmountImage(image);
    await mountCopy(join(root, 'probe-cut.img'), mnt);
    expect(await readFile(join(mnt, 'synced'), 'utf8')).toBe('synced');
    expect(await readdir(mnt)).not.toContain('written');
  });

  it(`a lone server keeps every acknowledged append through ${CUTS} power cuts, and starts on the copy without repair`, async () => {
    const random = seededRandom(SEED);
    const root = await tempRoot();
    const mnt = join(root, 'mnt');
    let image = await makeImage(join(root, 'disk0.img'), mnt);
    let server: KilnProcess = await startKiln({ dataDir: mnt });
    const ledger = new Ledger();
    for (let cut = 1; cut <= CUTS; cut++) {
      const writers = startWriters([server.url], ledger, `cut${cut}`, random);
      await ledger.waitForAcks(ledger.ackedCount + random.int(50, 800));
      const copy = join(root, `disk${cut}.img`);
      const cutAtMs = await powerCut([server.pid], [{ image, copy }]);
      await server.stop('SIGKILL');
      await writers.stop();

      await unmountImage(image);
      image = await mountCopy(copy, mnt);
      server = await startKiln({ dataDir: mnt });
      const events = await readWholeLog(await clientOf(server.url));
      const mustHold = ackedBefore(ledger, cutAtMs);
      expect(checkLog(events, ledger, mustHold)).toEqual([]);
      const unacknowledged = events.filter((e) => ledger.byEvent.get(e.id)!.state !== 'acked').length;
      console.log(`power cut ${cut}: ${mustHold.length} transactions acknowledged before the cut, all present; ${events.length} events in the log, ${unacknowledged} of them never acknowledged`);
    }
    // The server serves after the last restart too.
    const after = await (await clientOf(server.url)).append('after-cuts', [{ id: 'after-cuts-0', type: 'Power', data: {} }]);
    expect(after.firstVersion).toBe(0);
  }, 60_000);
});

/** A restartable group of two servers and a voter, each member's data directory on an image of its own, writers running. */
async function groupOnImages(random: ReturnType<typeof seededRandom>): Promise<{ root: string; members: Member[]; servers: Member[]; file: string; images: Map<Member, LoopImage> }> {
  const root = await tempRoot();
  const { file, members } = await cluster(2, 1, root, random, 'restartable');
  groupMembers.push(...members);
  const images = new Map<Member, LoopImage>();
  for (const m of members) images.set(m, await makeImage(join(root, `${m.name}-0.img`), m.dataDir));
  for (const m of members) launch(file, m);
  const servers = members.filter((m) => !m.voter);
  await inSyncActive(servers);
  return { root, members, servers, file, images };
}

describe.skipIf(!RUNS)('power loss of a mirror group (loop-device images)', () => {
  it('a coordinated power cut of every member loses nothing acknowledged; the group elects and serves, and the mirror catches up', async () => {
    const random = seededRandom(SEED + 1);
    const { root, members, servers, file, images } = await groupOnImages(random);
    const ledger = new Ledger();
    const writers = startWriters(servers.map((m) => m.client), ledger, 'group', random);
    await ledger.waitForAcks(random.int(200, 800), 30_000);
    const copies = new Map(members.map((m) => [m, join(root, `${m.name}-1.img`)]));
    const cutAtMs = await powerCut(
      members.map((m) => m.process!.pid!),
      members.map((m) => ({ image: images.get(m)!, copy: copies.get(m)! })),
    );
    for (const m of members) await kill(m);
    await writers.stop();

    await restartOnCopies(file, images, copies);
    const active = await inSyncActive(servers);
    const events = await readWholeLog(await clientOf(active.client));
    const mustHold = ackedBefore(ledger, cutAtMs);
    expect(checkLog(events, ledger, mustHold)).toEqual([]);
    await mirrorsMatch(active, servers, events.at(-1)!.lsn);
    const after = await (await clientOf(servers.map((m) => m.client))).append('after-cut', [{ id: 'after-cut-0', type: 'Power', data: {} }]);
    expect(after.lsn).toBe(events.at(-1)!.lsn + 1);
    console.log(`coordinated cut: ${mustHold.length} transactions acknowledged before it, all present on ${active.name} and its mirror`);
  }, 60_000);

  it('a power cut of the active alone: the mirror takes over, the old active rejoins from its copy, nothing acknowledged is lost', async () => {
    const random = seededRandom(SEED + 2);
    const { root, servers, file, images } = await groupOnImages(random);
    const ledger = new Ledger();
    const before = startWriters(servers.map((m) => m.client), ledger, 'before', random);
    await ledger.waitForAcks(random.int(200, 800), 30_000);
    const old = (await Promise.all(servers.map(async (m) => ((await statusOf(m.client))?.state === 'ACTIVE-COORDINATOR' ? m : undefined)))).find(Boolean)!;
    const mirror = servers.find((m) => m !== old)!;
    const copy = join(root, `${old.name}-1.img`);
    const cutAtMs = await powerCut([old.process!.pid!], [{ image: images.get(old)!, copy }]);
    await kill(old);
    await before.stop();

    await pollUntil(`${mirror.name} to take over`, async () => (await statusOf(mirror.client))?.state === 'ACTIVE-COORDINATOR', 30_000, 100);
    // The new active takes writes while the old one is down and while it rejoins.
    const during = startWriters([mirror.client], ledger, 'during', random);
    const rejoinFrom = ledger.ackedCount;
    await ledger.waitForAcks(rejoinFrom + 100, 30_000);
    await restartOnCopies(file, images, new Map([[old, copy]]));
    expect(await inSyncActive(servers)).toBe(mirror);
    await during.stop();

    const events = await readWholeLog(await clientOf(mirror.client));
    const mustHold = [...ackedBefore(ledger, cutAtMs), ...ledger.acked().filter((txn) => txn.key.startsWith('during-'))];
    expect(checkLog(events, ledger, mustHold)).toEqual([]);
    await mirrorsMatch(mirror, servers, events.at(-1)!.lsn);
    console.log(`active's power cut: ${mustHold.length} acknowledged transactions present on ${mirror.name} and on ${old.name}, rejoined as its mirror`);
  }, 60_000);
});

/** Damage to one LevelDB file of a stopped server's copy (NATS's bitflip and truncate nemeses, RELIABILITY.md scenario 11). */
const DAMAGES = [
  { kind: 'flip', ext: 'log' },
  { kind: 'truncate', ext: 'log' },
  { kind: 'flip', ext: 'ldb' },
  { kind: 'truncate', ext: 'ldb' },
] as const;

/** Flips one byte, or cuts the file short, somewhere in the middle half of the newest `.ext` file in `dir`; returns what it did. */
async function damage(dir: string, { kind, ext }: (typeof DAMAGES)[number], random: ReturnType<typeof seededRandom>): Promise<string> {
  const name = (await readdir(dir)).filter((f) => f.endsWith(`.${ext}`)).sort().at(-1);
  if (!name) throw new Error(`no .${ext} file in ${dir}`);
  const path = join(dir, name);
  const bytes = await readFile(path);
  const at = random.int(bytes.length >> 2, (3 * bytes.length) >> 2);
  if (kind === 'flip') {
    bytes[at]! ^= 1 << random.int(0, 7);
    await writeFile(path, bytes);
    return `flipped a bit of byte ${at} of ${name} (${bytes.length} bytes)`;
  }
  await truncate(path, at);
  return `cut ${name} from ${bytes.length} to ${at} bytes`;
}

describe.skipIf(!RUNS)('damage after a power cut (loop-device images)', () => {
  it(`a server whose copy has a damaged .log or .ldb file refuses to start in one line naming its directory, or repairs from its group; nothing acknowledged is lost`, async () => {
    const random = seededRandom(SEED + 3);
    const { root, members, servers, file, images } = await groupOnImages(random);
    const ledger = new Ledger();
    // A restart first, so that each store holds a table file (LevelDB writes its log out at open) as well as a log.
    const first = startWriters(servers.map((m) => m.client), ledger, 'first', random);
    await ledger.waitForAcks(random.int(100, 300), 30_000);
    for (const m of members) await kill(m);
    await first.stop();
    for (const m of members) launch(file, m);
    await inSyncActive(servers);
    const second = startWriters(servers.map((m) => m.client), ledger, 'second', random);
    await ledger.waitForAcks(ledger.ackedCount + random.int(100, 300), 30_000);
    const cuts = new Map(members.map((m) => [m, join(root, `${m.name}-cut.img`)]));
    const cutAtMs = await powerCut(
      members.map((m) => m.process!.pid!),
      members.map((m) => ({ image: images.get(m)!, copy: cuts.get(m)! })),
    );
    for (const m of members) await kill(m);
    await second.stop();
    const mustHold = ackedBefore(ledger, cutAtMs);

    for (const [n, harm] of DAMAGES.entries()) {
      // Each harm starts from the same cut, on fresh copies of it.
      const copies = new Map(await Promise.all(members.map(async (m) => [m, await copyImage(cuts.get(m)!, join(root, `${m.name}-${n}.img`))] as const)));
      const victim = servers[random.int(0, 1)]!;
      const other = servers.find((m) => m !== victim)!;
      let done = '';
      await restartOnCopies(file, images, copies, async (m) => {
        if (m === victim) done = await damage(m.dataDir, harm, random);
      });
      const what = `${harm.kind} .${harm.ext} of ${victim.name} (${done})`;
      let refused = false;
      await pollUntil(`${what}: ${victim.name} to exit or the group to be in sync`, async () => {
        refused = victim.process!.exitCode !== null;
        if (refused) return true;
        const active = (await Promise.all(servers.map((m) => statusOf(m.client)))).find((s) => s?.state === 'ACTIVE-COORDINATOR');
        return servers.every((m) => active?.group?.inSync.includes(m.name));
      }, 30_000, 100);

      if (refused) {
        const lines = (await readFile(join(root, `${victim.name}.log`), 'utf8')).trimEnd().split('\n');
        console.log(`${what}: refused to start, exit ${victim.process!.exitCode}: ${lines.at(-1)}`);
        expect(victim.process!.exitCode, what).toBe(1);
        expect(lines.at(-1), what).toMatch(/^kiln: /);
        expect(lines.at(-1), what).toContain(victim.dataDir);
        await pollUntil(`${other.name} to serve with the voter`, async () => (await statusOf(other.client))?.state === 'ACTIVE-COORDINATOR', 30_000, 100);
        expect(checkLog(await readWholeLog(await clientOf(other.client)), ledger, mustHold), what).toEqual([]);
      } else {
        const active = await inSyncActive(servers);
        const events = await readWholeLog(await clientOf(active.client));
        expect(checkLog(events, ledger, mustHold), what).toEqual([]);
        await mirrorsMatch(active, servers, events.at(-1)!.lsn);
        console.log(`${what}: started; ${active.name} is active and both servers hold the same ${events.at(-1)!.lsn} records`);
      }
      for (const m of members) await kill(m);
    }
  }, 90_000);
});
