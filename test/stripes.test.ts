// Stripes with real processes: two stripes of two servers and one shared voter, in both modes,
// under a write load on streams of both stripes, through one client given one server's URL. Each
// stripe's active is killed with SIGKILL and restarted, then every server of one stripe is killed:
// the other stripe's writers never see a failed operation, the lost stripe's operations fail with
// StripeUnavailableError once the client's window runs out, and when its servers return it serves
// again in the same client. Every acknowledged event is then there exactly once, versions dense,
// and every server of a stripe holds the same log (in memory mode the lost stripe starts over
// empty, under a new epoch, as that mode promises). A merged subscription of `$all` runs through it
// all: it delivers each event once, in each stream's order, through every failover, ends with
// StripeUnavailableError once bravo is lost (never a silent gap), and a read from the last
// position it delivered returns exactly the rest (in memory mode, StripeEpochChangedError); a
// subscription of an alpha stream delivers it whole.
import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SlotTable } from '@kiln/core';
import { connect, KilnError, StripeEpochChangedError, StripeUnavailableError, type KilnClient, type PositionedEvent } from '@kiln/core/client';
import { tcpTransport } from '@kiln/transport-tcp';
import { digestOf, inSyncActive, KILN_BIN, kill, killAllMembers, launch, pollUntil, seededRandom, statusOf, stripedCluster } from './support/cluster.js';
import { streamsByStripe } from './support/stripes.js';

const dirs: string[] = [];
afterAll(async () => {
  killAllMembers();
  if (!process.env.KILN_KEEP) await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** The client's window: it outlasts a stripe's failover, and bounds how long a lost stripe's operations wait. */
const WINDOW_MS = 10_000;

/** Every event of `streams`, read to the end: ids in version order per stream. */
async function readAllOf(client: KilnClient, streams: readonly string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const stream of streams) {
    const ids: string[] = [];
    for (;;) {
      const page = await client.read(stream, { fromVersion: ids.length, maxCount: 1000 });
      if (page.length === 0) break;
      page.forEach((e, i) => expect(e.version, `${stream} versions dense`).toBe(ids.length + i));
      ids.push(...page.map((e) => e.id));
    }
    out.set(stream, ids);
  }
  return out;
}

// Both modes at once, each its own cluster and ports: most of a case is waiting on failovers and
// on the client's window.
for (const persistence of ['restartable', 'memory'] as const) {
  describe.concurrent(`two ${persistence} stripes of two servers and a shared voter`, () => {
    it('isolates the loss of a stripe, follows failovers in each, and loses nothing acknowledged', async () => {
      const seed = Number(process.env.KILN_STRIPES_SEED ?? Math.floor(Math.random() * 2 ** 31));
      console.log(`stripes seed ${seed} (replay with KILN_STRIPES_SEED=${seed})`);
      const random = seededRandom(seed);
      const root = await mkdtemp(join(tmpdir(), 'kiln-stripes-'));
      dirs.push(root);
      const { file, members, stripeNames } = await stripedCluster(2, 2, 1, root, random, persistence);
      for (const m of members) launch(file, m);
      const stripeServers = stripeNames.map((name) => members.filter((m) => m.stripe === name));
      await Promise.all(stripeServers.map(inSyncActive));

      // One client, given one server's URL: it learns the cluster and routes every stream.
      const client = await connect(members[0]!.client, { transports: [tcpTransport()], reconnectWindowMs: WINDOW_MS, requestTimeoutMs: 60_000 });
      expect((await client.topology()).stripes.map((s) => s.name)).toEqual(stripeNames);
      const streams = streamsByStripe({ slotTable: SlotTable.initial(2) }, 'acct', 2);
      const delivered: PositionedEvent[] = [];
      let subscriptionEnd: unknown;
      client.subscribeAll().subscribe({ next: (event) => delivered.push(event), error: (error: unknown) => (subscriptionEnd = error) });
      // And one of an alpha stream, which alpha's failovers must not end or break.
      const alphaStream = streams[0]![0]!;
      const alphaSeen: string[] = [];
      let alphaEnd: unknown;
      client.subscribe(alphaStream).subscribe({ next: (event) => alphaSeen.push(event.id), error: (error: unknown) => (alphaEnd = error) });
      /** Per stream: each acknowledged event's id, with when it was acknowledged. */
      const acked = new Map<string, Map<string, number>>();
      const failures: Array<{ stripe: number; error: string; atMs: number }> = [];
      let running = true;
      const writer = async (stripe: number, stream: string): Promise<void> => {
        acked.set(stream, new Map());
        for (let i = 0; running; i++) {
          const id = `${stream}-${i}`;
          try {
            await client.append(stream, [{ id, type: 'E', data: i }]);
            acked.get(stream)!.set(id, Date.now());
          } catch (error) {
            if (!(error instanceof KilnError)) throw error;
            failures.push({ stripe, error: error.name, atMs: Date.now() });
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
        }
      };
      const writers = streams.flatMap((list, stripe) => list.map((stream) => writer(stripe, stream)));
      const total = (stripe: number): number => streams[stripe]!.reduce((sum, s) => sum + (acked.get(s)?.size ?? 0), 0);

      // Each stripe's active dies twice; the client follows each failover within its window.
      for (let round = 0; round < 2; round++) {
        for (const [stripe, servers] of stripeServers.entries()) {
          const before = total(stripe);
          await pollUntil('progress on the stripe', () => total(stripe) >= before + random.int(5, 40), 30_000);
          const active = await inSyncActive(servers);
          await kill(active);
          const after = total(stripe);
          await pollUntil(`progress on stripe ${stripeNames[stripe]} after its active died`, () => total(stripe) > after + 5, 30_000);
          launch(file, active);
        }
      }
      expect(failures, 'failovers inside the window fail nothing').toEqual([]);

      // Every server of bravo dies: alpha carries on untouched; bravo's operations fail after the window.
      await Promise.all(stripeServers.map(inSyncActive));
      const lossAt = Date.now();
      for (const m of stripeServers[1]!) await kill(m);
      const alphaBefore = total(0);
      await pollUntil('bravo operations to fail', () => failures.some((f) => f.stripe === 1), WINDOW_MS + 20_000);
      const firstFailure = failures.find((f) => f.stripe === 1)!;
      expect(firstFailure.error).toBe(StripeUnavailableError.name);
      expect(firstFailure.atMs - lossAt).toBeGreaterThanOrEqual(WINDOW_MS - 1_000);
      await pollUntil('alpha progress while bravo is gone', () => total(0) > alphaBefore + 100, 30_000);
      expect(failures.filter((f) => f.stripe === 0), 'alpha never fails').toEqual([]);
      expect(failures.every((f) => f.error === StripeUnavailableError.name)).toBe(true);
      await pollUntil('the merged subscription to end', () => subscriptionEnd !== undefined, 30_000);
      expect(subscriptionEnd).toMatchObject({ name: StripeUnavailableError.name, stripe: 'bravo' });

      // Bravo's servers return: the same client writes there again, nothing restarted elsewhere.
      const bravoEpoch = (await client.topology()).stripes[1]!.epoch;
      const returnAt = Date.now();
      for (const m of stripeServers[1]!) launch(file, m);
      await inSyncActive(stripeServers[1]!);
      const bravoBack = total(1);
      await pollUntil('bravo progress after its return', () => total(1) > bravoBack + 20, 60_000);
      running = false;
      await Promise.all(writers);
      expect(failures.filter((f) => f.stripe === 0)).toEqual([]);

      // Everything acknowledged is there exactly once (a lost memory stripe keeps only what came after).
      const stored = await readAllOf(client, streams.flat());
      for (const [stream, ids] of stored) {
        expect(new Set(ids).size, `${stream}: no duplicates`).toBe(ids.length);
        const held = new Set(ids);
        const lostStripe = persistence === 'memory' && streams[1]!.includes(stream);
        const missing = [...acked.get(stream)!].filter(([id, atMs]) => !held.has(id) && !(lostStripe && atMs < returnAt)).map(([id]) => id);
        expect(missing, `${stream}: acknowledged events missing`).toEqual([]);
      }
      if (persistence === 'memory') expect((await client.topology()).stripes[1]!.epoch).not.toBe(bravoEpoch);
      // The subscription delivered each stream's events once, in order, with no gap, and a read from
      // where it ended returns the rest of them.
      const last = delivered[delivered.length - 1]!.position;
      const rest: PositionedEvent[] = [];
      let restRefused: unknown;
      try {
        for (let from = last; ; ) {
          const page = await client.readAll({ from, maxCount: 500 });
          if (page.length === 0) break;
          rest.push(...page);
          from = page[page.length - 1]!.position;
        }
      } catch (error) {
        restRefused = error;
      }
      if (persistence === 'restartable') expect(restRefused).toBeUndefined();
      else expect(restRefused).toMatchObject({ name: StripeEpochChangedError.name, stripe: 'bravo' });
      for (const [stream, ids] of stored) {
        const seen = [...delivered, ...rest].filter((e) => e.stream === stream);
        expect(seen.map((e) => e.version), `${stream}: each event once, in order`).toEqual(seen.map((_, i) => i));
        // In memory mode bravo's first life is gone, and a read cannot go on past it: alpha's events are those stored, as far as delivered.
        const lostStripe = persistence === 'memory' && streams[1]!.includes(stream);
        if (persistence === 'restartable') expect(seen.map((e) => e.id), `${stream}: delivered, then read from the last position`).toEqual(ids);
        else if (!lostStripe) expect(seen.map((e) => e.id), `${stream}: delivered`).toEqual(ids.slice(0, seen.length));
      }
      await pollUntil(`the subscription of ${alphaStream} to catch up`, () => alphaSeen.length >= stored.get(alphaStream)!.length || alphaEnd !== undefined, 30_000);
      expect(alphaEnd).toBeUndefined();
      expect(alphaSeen).toEqual(stored.get(alphaStream));
      // Every server of each stripe holds the same log.
      for (const servers of stripeServers) {
        let lastLsn = 0;
        await pollUntil('every server of the stripe at the same LSN', async () => {
          const lsns = await Promise.all(servers.map(async (m) => (await statusOf(m.client))?.lastLsn ?? -1));
          lastLsn = lsns[0]!;
          return lsns.every((l) => l === lastLsn && l > 0);
        }, 30_000, 100);
        const digests = await Promise.all(servers.map((m) => digestOf(m.client, lastLsn)));
        expect(digests.every((d) => d.digest === digests[0]!.digest && d.throughLsn === lastLsn), `stripe ${servers[0]!.stripe}: the same log on every server`).toBe(true);
      }
      // The operator's view: one block per stripe, each with its active, and the voter.
      const status = JSON.parse(execFileSync(process.execPath, [KILN_BIN, 'status', '--config', file, '--json'], { encoding: 'utf8' })) as {
        clusterId: string;
        stripes: Array<{ name: string; active: string | null; members: Array<{ name: string; reachable: boolean; inSync: boolean | null }> }>;
        voters: Array<{ name: string; reachable: boolean; term: number | null }>;
      };
      expect(status.clusterId).toBe((await client.topology()).clusterId);
      expect(status.stripes.map((s) => s.name)).toEqual(stripeNames);
      for (const [i, stripe] of status.stripes.entries()) {
        expect(stripeServers[i]!.map((m) => m.name)).toContain(stripe.active);
        expect(stripe.members.every((m) => m.reachable && m.inSync === true)).toBe(true);
      }
      expect(status.voters).toMatchObject([{ name: 'v1', reachable: true }]);
      await client.close();
      for (const m of members) await kill(m);
      console.log(`stripes (${persistence}): alpha ${total(0)} acked, bravo ${total(1)} acked; ${failures.length} bravo operations failed while it had no server`);
    }, 300_000);
  });
}
