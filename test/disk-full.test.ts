// A full disk (ENOSPC) under client load, on small ext4 images (loop devices, see loop-image.ts):
// real `kiln` processes whose data directory's file system fills up. Nothing acknowledged may be
// lost or doubled; the server whose disk is full stops in one line naming the disk full and its
// data directory; on a disk still full it refuses to start in one line; once space is freed it
// starts, and rejoins its group. Runs as root only; in CI (CI=true) a missing capability fails it.
import { open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkLog, Ledger, readWholeLog } from './support/processes/load.js';
import { cluster, inSyncActive, kiln, launch, pollUntil, seededRandom, startKiln, statusOf } from './support/cluster.js';
import { startLedgerWriters } from './support/ledger-writers.js';
import { makeImage, runsOnLoopImages } from './support/loop-image.js';
import { loopImageTests } from './support/loop-image-tests.js';
import { mirrorsMatch } from './support/power-cut.js';

const SEED = Number(process.env.KILN_DISK_SEED ?? Math.floor(Math.random() * 2 ** 31));
const RUNS = runsOnLoopImages('the disk-full tests');
/** Small, so that the load fills what the filler leaves within a second or two. */
const IMAGE_MIB = 16;
/** What the filler leaves free for the load to fill. */
const LEFT_FREE_BYTES = 1 << 20;
/** Events this large fill the space left in a few hundred appends. */
const PAD_BYTES = 2000;
/** The line a server whose disk filled ends with. */
const DISK_FULL_LINE = /^kiln: store failure, exiting: the disk is full \(ENOSPC\)/;

const { tempRoot, clientOf, groupMembers } = loopImageTests(RUNS, 'kiln-disk-');

/** Fills the file system `file` is on with it, then gives `LEFT_FREE_BYTES` back: the load fills the rest. */
async function fillDisk(file: string): Promise<void> {
  const handle = await open(file, 'w');
  const chunk = Buffer.alloc(1 << 20, 1);
  try {
    for (;;) await handle.write(chunk);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  }
  const { size } = await handle.stat();
  await handle.truncate(Math.max(0, size - LEFT_FREE_BYTES));
  await handle.close();
}

describe.skipIf(!RUNS)('a full disk (ext4 images on loop devices)', () => {
  console.log(`disk-full seed ${SEED} (replay with KILN_DISK_SEED=${SEED})`);

  it('a lone server stops in one line naming the full disk; on a disk still full it refuses to start in one line; with space freed it starts with every acknowledged append', async () => {
    const random = seededRandom(SEED);
    const root = await tempRoot();
    const dataDir = join(root, 'mnt');
    await makeImage(join(root, 'disk.img'), dataDir, IMAGE_MIB);
    const server = await startKiln({ dataDir });
    const filler = join(dataDir, 'filler');
    await fillDisk(filler);
    const ledger = new Ledger();
    const writers = startLedgerWriters(clientOf, [server.url], ledger, 'lone', random, { padBytes: PAD_BYTES, connections: 2, inFlight: 3 });

    const last = await server.waitForLine(/store failure/, 30_000);
    expect(last).toMatch(DISK_FULL_LINE);
    expect(last).toContain(dataDir);
    expect((await server.exited).code).toBe(1);
    // No request hangs: each writer meets an error (the connection the exit closed, or the server's refusal) and stops.
    await pollUntil('every writer to meet its error', () => ![...ledger.txns.values()].some((txn) => txn.state === 'pending'), 10_000);
    await writers.stop();
    expect([...ledger.errorCounts.keys()].filter((name) => name !== 'ConnectionClosedError' && name !== 'ServerFailedError')).toEqual([]);
    expect(ledger.ackedCount).toBeGreaterThan(0);

    const onFull = await kiln('start', '--listen', 'tcp://127.0.0.1:0', '--data', dataDir);
    const lines = onFull.stderr.trimEnd().split('\n');
    expect(onFull.status).toBe(1);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^kiln: the disk is full \(ENOSPC\): cannot open the store at /);
    expect(lines[0]).toContain(dataDir);

    await rm(filler);
    const restarted = await startKiln({ dataDir });
    const reader = await clientOf([restarted.url]);
    // Every acknowledged append once, at its LSN and versions; each record whole (nothing half-written).
    expect(checkLog(await readWholeLog(reader), ledger, ledger.acked())).toEqual([]);
    expect((await reader.append('after-full', [{ id: 'after-full-0', type: 'Power', data: {} }])).firstVersion).toBe(0);
    console.log(`lone server: ${ledger.ackedCount} appends acknowledged before the disk filled, all present after freeing space; on the full disk: ${lines[0]}`);
  }, 30_000);

  it("a mirror whose disk fills stops in one line; the active drops it and carries on; with space freed it restarts and rejoins with the active's log", async () => {
    const random = seededRandom(SEED + 1);
    const root = await tempRoot();
    const { file, members } = await cluster(2, 1, root, random, 'restartable');
    groupMembers.push(...members);
    const servers = members.filter((m) => !m.voter);
    // Member logs go beside the data directories, off the images, so that a full disk keeps them.
    for (const m of servers) await makeImage(join(root, `${m.name}.img`), m.dataDir, IMAGE_MIB);
    for (const m of members) launch(file, m);
    const active = await inSyncActive(servers);
    const mirror = servers.find((m) => m !== active)!;
    const filler = join(mirror.dataDir, 'filler');
    await fillDisk(filler);
    const ledger = new Ledger();
    const writers = startLedgerWriters(clientOf, servers.map((m) => m.client), ledger, 'group', random, { padBytes: PAD_BYTES, connections: 2, inFlight: 3 });

    const exited = await new Promise<number | null>((resolve) => mirror.process!.once('exit', resolve));
    expect(exited).toBe(1);
    const logFile = join(root, `${mirror.name}.log`);
    let last = '';
    await pollUntil(`${mirror.name}'s last line`, async () => {
      last = (await readFile(logFile, 'utf8')).trimEnd().split('\n').at(-1)!;
      return DISK_FULL_LINE.test(last);
    }, 5000).catch(async (error: unknown) => {
      // What it said instead, for the failure to show.
      throw new Error(`${(error as Error).message}; its last lines:\n${(await readFile(logFile, 'utf8')).trimEnd().split('\n').slice(-8).join('\n')}`);
    });
    expect(last).toContain(mirror.dataDir);
    // The active carries on without it, and no writer met an error.
    await ledger.waitForAcks(ledger.ackedCount + 200, 20_000);
    expect((await statusOf(active.client))?.group?.inSync).toEqual([active.name]);
    expect([...ledger.errorCounts]).toEqual([]);

    await rm(filler);
    launch(file, mirror);
    expect(await inSyncActive(servers)).toBe(active);
    await writers.stop();
    const events = await readWholeLog(await clientOf([active.client]));
    expect(checkLog(events, ledger, ledger.acked())).toEqual([]);
    await mirrorsMatch(active, servers, events.at(-1)!.lsn);
    console.log(`mirror's full disk: ${ledger.ackedCount} appends acknowledged, all on ${active.name} and on ${mirror.name} after it rejoined`);
  }, 40_000);
});
