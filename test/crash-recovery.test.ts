// Crash recovery of a real `kiln start` process on a real LevelDB: killed with SIGKILL under load
// and restarted on the same data directory, it keeps every acknowledged transaction exactly once,
// with dense LSNs and versions and every record passing its CRC; a garbled or cut tail is dropped
// back to the last whole record, and the log goes on from there.
import { mkdtemp, readdir, rm, stat, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode } from '@msgpack/msgpack';
import { Level } from 'level';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { checkedStore, decodeRecord, defaultLogLimits, type LogRecord } from '@kiln/core';
import { connect, type KilnClient } from '@kiln/core/client';
import { levelStore } from '@kiln/store-level';
import { tcpTransport } from '@kiln/transport-tcp';
import { checkLog, Ledger, readWholeLog, startLoad, type LedgerTxn, type SeenEvent } from './support/processes/load.js';
import { freeFixedPort, killAllKilns, seededRandom, startKiln, type KilnProcess } from './support/cluster.js';

const SEED = Number(process.env.KILN_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
const KILLS = 24;

const dirs: string[] = [];
const clients: KilnClient[] = [];

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kiln-crash-'));
  dirs.push(dir);
  return dir;
}

async function client(url: string): Promise<KilnClient> {
  const c = await connect(url, { transports: [tcpTransport()], reconnectWindowMs: 200, requestTimeoutMs: 20_000 });
  clients.push(c);
  return c;
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await killAllKilns();
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});
afterAll(killAllKilns);

/** Reads every record of a stopped server's data directory through the checked layer (length and CRC verified on read). */
async function readStoreDirectly(path: string): Promise<{ records: LogRecord[]; dropped: number; lastLsn: number; indexOf: (stream: string) => Promise<Array<[number, number, number]>> }> {
  const store = checkedStore(levelStore({ path }), defaultLogLimits);
  const { droppedRecords } = await store.open();
  const records: LogRecord[] = [];
  try {
    for (let from = 1; ; ) {
      const page = await store.readRecords(from, { direction: 'forward', maxCount: 1000, maxBytes: 1 << 20 });
      if (page.length === 0) break;
      records.push(...page);
      from = page[page.length - 1]!.lsn + 1;
    }
    const index = new Map<string, Array<[number, number, number]>>();
    for (const stream of new Set(records.flatMap((r) => r.appends.map((a) => a.stream)))) {
      const entries: Array<[number, number, number]> = [];
      for (let v = 0; ; ) {
        const page = await store.readStreamIndex(stream, v, { direction: 'forward', maxCount: 4096 });
        const fresh = page.filter((e) => e.firstVersion >= v);
        if (fresh.length === 0) break;
        entries.push(...fresh.map((e): [number, number, number] => [e.lsn, e.firstVersion, e.eventCount]));
        const lastEntry = fresh[fresh.length - 1]!;
        v = lastEntry.firstVersion + lastEntry.eventCount;
      }
      index.set(stream, entries);
    }
    return { records, dropped: droppedRecords, lastLsn: store.lastPosition.lsn, indexOf: async (s) => index.get(s) ?? [] };
  } finally {
    await store.close();
  }
}

/** The events the records hold, in the shape reads return, so the two can be compared. */
function eventsOfRecords(records: readonly LogRecord[]): SeenEvent[] {
  return records.flatMap((r) =>
    r.appends.flatMap((a) => (decode(a.events) as unknown[][]).map((row, k) => ({ lsn: r.lsn, stream: a.stream, version: a.firstVersion + k, id: row[0] as string }))),
  );
}

/** Checks what a stopped server left on disk: dense LSNs, every CRC good, the same events reads returned, an index that agrees, each (clientId, seq) once. */
async function expectStoreMatches(path: string, read: readonly SeenEvent[]): Promise<number> {
  const { records, dropped, lastLsn, indexOf } = await readStoreDirectly(path);
  expect(dropped, 'a clean shutdown leaves no torn tail').toBe(0);
  expect(records.map((r) => r.lsn)).toEqual(Array.from({ length: lastLsn }, (_, i) => i + 1));
  expect(eventsOfRecords(records)).toEqual(read);
  const tags = new Set(records.map((r) => `${r.clientId}#${r.seq}`));
  expect(tags.size, 'each (clientId, seq) commits once').toBe(records.length);
  for (const stream of new Set(read.map((e) => e.stream))) {
    const fromRecords = records.flatMap((r) => r.appends.filter((a) => a.stream === stream).map((a): [number, number, number] => [r.lsn, a.firstVersion, a.eventCount]));
    expect(await indexOf(stream), `stream index of ${stream}`).toEqual(fromRecords);
  }
  return lastLsn;
}

describe('crash recovery of a kiln server process on LevelDB', () => {
  it(`keeps every acknowledged transaction exactly once across ${KILLS} SIGKILLs under load (seed ${SEED})`, async () => {
    console.log(`crash-recovery seed ${SEED} (replay with KILN_CRASH_SEED=${SEED})`);
    const random = seededRandom(SEED);
    const dataDir = await tempDir();
    // A fixed port, so clients find the restarted server where the old one was.
    const port = await freeFixedPort(() => random.int(0, 1 << 30));
    let server: KilnProcess = await startKiln({ dataDir, port });
    const ledger = new Ledger();
    const load = startLoad({ url: server.url, ledger, seed: SEED + 1, resendingWriters: 3, reconnectingWriters: 2 });
    let stopped = false;
    try {
      let verifiedEvents = 0;
      for (let kill = 1; kill <= KILLS; kill++) {
        // Kill after a random number of further acknowledgements; now and then at once, before
        // the writers have even reconnected.
        const more = random.next() < 0.15 ? 0 : random.int(1, 150);
        await ledger.waitForAcks(ledger.ackedCount + more, 30_000);
        server.child.kill('SIGKILL');
        const exit = await server.exited;
        expect(exit.signal).toBe('SIGKILL');
        const acked = ledger.acked();

        server = await startKiln({ dataDir, port });
        const verifier = await client(server.url);
        const events = await readWholeLog(verifier);
        expect(checkLog(events, ledger, acked), `after kill ${kill} (seed ${SEED})`).toEqual([]);
        verifiedEvents = events.length;
        await verifier.close();
      }
      expect(verifiedEvents).toBeGreaterThan(0);

      await load.stop();
      stopped = true;
      expect(ledger.unexpected, 'errors a kill cannot explain').toEqual([]);
      const final = await readWholeLog(await client(server.url));
      const acked = ledger.acked();
      expect(checkLog(final, ledger, acked)).toEqual([]);
      const states = [...ledger.txns.values()].reduce<Record<string, number>>((n, t) => ((n[t.state] = (n[t.state] ?? 0) + 1), n), {});
      console.log(`crash-recovery: ${KILLS} kills, ${ledger.txns.size} transactions ${JSON.stringify(states)}, ${final.length} events in the log; errors ${JSON.stringify([...ledger.errorCounts])}`);
      expect(states.pending ?? 0).toBe(0);
      // The resending writers' in-flight transactions survived restarts, so most were acknowledged.
      expect(acked.length).toBeGreaterThan(KILLS * 20);

      await Promise.all(clients.splice(0).map((c) => c.close()));
      expect((await server.stop('SIGTERM')).code).toBe(0);
      const lastLsn = await expectStoreMatches(dataDir, final);
      expect(lastLsn).toBe(final[final.length - 1]!.lsn);
    } finally {
      if (!stopped) await load.stop().catch(() => {});
    }
  }, 120_000);

  /** Writes `count` one-event transactions to stream `torn`, one after another, so record i holds event e(i-1). */
  async function writeRecords(url: string, count: number): Promise<void> {
    const c = await client(url);
    for (let i = 0; i < count; i++) {
      const result = await c.append('torn', [{ id: `e${i}`, type: 'T', data: i }], { expectedVersion: i === 0 ? 'no-stream' : i - 1 });
      expect(result.lsn).toBe(i + 1);
    }
    await c.close();
  }

  /**
   * The LevelDB key of the chunk of records that starts at an LSN: 'R' then the LSN as 8 bytes
   * big-endian (packages/store-level/src/keys.ts). Here each append is a group commit of its own,
   * so the chunk at LSN N holds just the record at N.
   */
  function chunkKey(lsn: number): Uint8Array {
    const key = new Uint8Array(9);
    key[0] = 0x52;
    new DataView(key.buffer).setBigUint64(1, BigInt(lsn));
    return key;
  }

  /** A chunk of one record: u32 count, u32 byte length, the record (packages/store-level/src/record-chunks.ts). */
  function chunkOfOne(record: Uint8Array): Uint8Array {
    const chunk = new Uint8Array(8 + record.length);
    new DataView(chunk.buffer).setUint32(0, 1);
    new DataView(chunk.buffer).setUint32(4, record.length);
    chunk.set(record, 8);
    return chunk;
  }

  const garbles: Array<[string, (bytes: Uint8Array) => Uint8Array]> = [
    ['a flipped byte in its body', (b) => b.map((x, i) => (i === b.length - 3 ? x ^ 0x10 : x))],
    ['a flipped byte in its CRC', (b) => b.map((x, i) => (i === 5 ? x ^ 0x01 : x))],
    ['a flipped byte in its length prefix', (b) => b.map((x, i) => (i === 0 ? x ^ 0x04 : x))],
    ['its last 5 bytes cut off', (b) => b.slice(0, b.length - 5)],
    ['only 3 bytes left', (b) => b.slice(0, 3)],
  ];

  for (const [name, garble] of garbles) {
    it(`drops a last record with ${name} and goes on from the record before it`, async () => {
      const N = 12;
      const dataDir = await tempDir();
      const first = await startKiln({ dataDir });
      await writeRecords(first.url, N);
      await Promise.all(clients.splice(0).map((c) => c.close()));
      expect((await first.stop('SIGTERM')).code).toBe(0);

      const db = new Level<Uint8Array, Uint8Array>(dataDir, { keyEncoding: 'view', valueEncoding: 'view' });
      await db.open();
      try {
        const chunk = await db.get(chunkKey(N));
        expect(chunk, 'the record at LSN N is where keys.ts says').toBeDefined();
        const record = chunk!.subarray(8);
        expect(Buffer.from(chunkOfOne(record)).equals(Buffer.from(chunk!)), 'a chunk of that one record').toBe(true);
        expect(decodeRecord(record, N).lsn).toBe(N);
        await db.put(chunkKey(N), chunkOfOne(garble(record)), { sync: true } as object);
      } finally {
        await db.close();
      }

      const second = await startKiln({ dataDir });
      await second.waitForLine(/recovery dropped 1 torn record/, 5_000);
      const c = await client(second.url);
      const status = await c.serverStatus();
      expect(status.lastLsn).toBe(N - 1);
      expect(status.commitIndex).toBe(N - 1);
      expect((await c.read('torn')).map((e) => e.id)).toEqual(Array.from({ length: N - 1 }, (_, i) => `e${i}`));
      // The stream head went back with the log: the next event takes the dropped one's version.
      const next = await c.append('torn', [{ id: 'after', type: 'T', data: null }], { expectedVersion: N - 2 });
      expect(next).toEqual({ lsn: N, firstVersion: N - 1, lastVersion: N - 1 });
      const all = await readWholeLog(c);
      expect(all.map((e) => e.id)).toEqual([...Array.from({ length: N - 1 }, (_, i) => `e${i}`), 'after']);
      await Promise.all(clients.splice(0).map((cl) => cl.close()));
      expect((await second.stop('SIGTERM')).code).toBe(0);
      expect(await expectStoreMatches(dataDir, all)).toBe(N);
    });
  }

  for (const [label, cutMin, cutMax] of [
    ['a few bytes', 1, 64],
    ['several kilobytes', 2_000, 20_000],
  ] as const) {
    it(`recovers a dense prefix after ${label} are cut off LevelDB's write-ahead log following a SIGKILL (seed ${SEED})`, async () => {
      const random = seededRandom(SEED ^ cutMin);
      const dataDir = await tempDir();
      const port = await freeFixedPort(() => random.int(0, 1 << 30));
      const ledger = new Ledger();
      let server = await startKiln({ dataDir, port });
      const load = startLoad({ url: server.url, ledger, seed: SEED + cutMin, resendingWriters: 0, reconnectingWriters: 3, sharedStreams: 3 });
      let stopped = false;
      try {
        // Run 1, killed under load. LevelDB turns the write-ahead log it recovers into a table
        // when it opens, so run 1's records are out of reach of the cut below.
        await ledger.waitForAcks(150, 30_000);
        server.child.kill('SIGKILL');
        await server.exited;
        const ackedInRun1 = ledger.acked();
        // Run 2, killed under load: its records sit in the newest write-ahead log.
        server = await startKiln({ dataDir, port });
        await ledger.waitForAcks(ledger.ackedCount + 300, 30_000);
        server.child.kill('SIGKILL');
        await server.exited;
        await load.stop();
        stopped = true;

        const logs = (await readdir(dataDir)).filter((f) => f.endsWith('.log')).sort();
        const wal = join(dataDir, logs[logs.length - 1]!);
        const { size } = await stat(wal);
        const cut = Math.min(random.int(cutMin, cutMax), size - 1);
        expect(size).toBeGreaterThan(cut);
        await truncate(wal, size - cut);
        console.log(`cut ${cut} of ${size} bytes off ${logs[logs.length - 1]}`);

        server = await startKiln({ dataDir, port });
        const c = await client(server.url);
        const events = await readWholeLog(c);
        // Everything from run 1 must be there; run 2's acknowledged tail may be lost with the
        // bytes we destroyed, but what is there is whole, in place and not duplicated.
        expect(checkLog(events, ledger, ackedInRun1)).toEqual([]);
        const status = await c.serverStatus();
        const lastLsn = events[events.length - 1]!.lsn;
        expect(status.lastLsn).toBe(lastLsn);
        expect(lastLsn).toBeGreaterThanOrEqual(Math.max(...ackedInRun1.map((t: LedgerTxn) => t.result!.lsn)));
        const after = await c.append('after-cut', [{ id: 'after-cut-0', type: 'T', data: null }]);
        expect(after.lsn).toBe(lastLsn + 1);
        const all = await readWholeLog(c);
        await Promise.all(clients.splice(0).map((cl) => cl.close()));
        expect((await server.stop('SIGTERM')).code).toBe(0);
        expect(await expectStoreMatches(dataDir, all)).toBe(lastLsn + 1);
      } finally {
        if (!stopped) await load.stop().catch(() => {});
      }
    }, 90_000);
  }
});
