// Money moved between accounts on two stripes, with real processes: two restartable stripes of
// two servers and a shared voter. Clients transfer between accounts on different stripes (read
// both, then one transaction over both with expected versions); the active of the coordinator's
// stripe and of the participant's is killed with SIGKILL again and again; a checker reads every
// account all the while. No read is fractured (a transfer seen on one account is seen, by every
// later read, on the other), the money never changes in total, nothing acknowledged is lost or
// doubled, and every server of a stripe ends with the same log.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SlotTable } from '@kiln/core';
import { connect, KilnError } from '@kiln/core/client';
import { tcpTransport } from '@kiln/transport-tcp';
import { inSyncActive, kill, killAllMembers, launch, pollUntil, seededRandom, stripedCluster } from './support/cluster.js';
import { checkerPass, movementsOf, tally, type Movement } from './support/bank.js';
import { streamsByStripe } from './support/stripes.js';

const KILLS_PER_STRIPE = 10;
const ACCOUNTS_PER_STRIPE = 3;
const OPENING = 1000;

const dirs: string[] = [];
afterAll(async () => {
  killAllMembers();
  if (!process.env.KILN_KEEP) await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('transfers between accounts on two stripes under SIGKILL of either active', () => {
  it('keep the total, never fracture a read, and lose or double nothing acknowledged', async () => {
    const seed = Number(process.env.KILN_BANK_SEED ?? Math.floor(Math.random() * 2 ** 31));
    console.log(`bank seed ${seed} (replay with KILN_BANK_SEED=${seed})`);
    const random = seededRandom(seed);
    const root = await mkdtemp(join(tmpdir(), 'kiln-bank-'));
    dirs.push(root);
    const { file, members, stripeNames } = await stripedCluster(2, 2, 1, root, random, 'restartable');
    for (const m of members) launch(file, m);
    const stripeServers = stripeNames.map((name) => members.filter((m) => m.stripe === name));
    await Promise.all(stripeServers.map(inSyncActive));

    const accounts = streamsByStripe({ slotTable: SlotTable.initial(2) }, 'acct', ACCOUNTS_PER_STRIPE);
    const all = accounts.flat();
    const client = await connect(members[0]!.client, { transports: [tcpTransport()], reconnectWindowMs: 20_000, requestTimeoutMs: 60_000 });
    for (const account of all) await client.append(account, [{ type: 'Opened', data: { transfer: 'opening', delta: OPENING } }], { expectedVersion: 'no-stream' });

    const acknowledged = new Set<string>();
    const indeterminate = new Set<string>();
    let running = true;
    const transferer = async (w: number): Promise<void> => {
      const mine = await connect(members[w % 4]!.client, { transports: [tcpTransport()], reconnectWindowMs: 20_000, requestTimeoutMs: 60_000 });
      for (let i = 0; running; i++) {
        const from = accounts[w % 2]![random.int(0, ACCOUNTS_PER_STRIPE - 1)]!;
        const to = accounts[(w + 1) % 2]![random.int(0, ACCOUNTS_PER_STRIPE - 1)]!;
        const transfer = `t${w}-${i}`;
        try {
          const [a, b] = await Promise.all([movementsOf(mine, from), movementsOf(mine, to)]);
          const amount = random.int(1, 20);
          await mine.transact([
            { stream: from, events: [{ type: 'Debited', data: { transfer, delta: -amount, other: to } }], expectedVersion: a.length - 1 },
            { stream: to, events: [{ type: 'Credited', data: { transfer, delta: amount, other: from } }], expectedVersion: b.length - 1 },
          ]);
          acknowledged.add(transfer);
        } catch (error) {
          if (!(error instanceof KilnError)) throw error;
          // A conflict or a busy stream wrote nothing; a failover's error may have committed.
          if (!['WrongExpectedVersionError', 'StreamBusyError'].includes(error.name)) indeterminate.add(transfer);
        }
      }
      await mine.close();
    };

    // The checker reads every account in turn, again and again. A transfer seen on an account must
    // be seen on its other account by a read that comes later (else the read is fractured); one
    // seen only on the account read later committed between the two reads. Leaving out those, every
    // pass adds up to the same total.
    const fractured: string[] = [];
    const totals: number[] = [];
    const checker = async (): Promise<void> => {
      while (running) {
        const pass = await checkerPass(client, all);
        if (!pass) continue;
        fractured.push(...pass.fractured);
        totals.push(pass.total);
      }
    };

    const workers = [0, 1, 2, 3].map(transferer);
    const checking = checker();
    for (let round = 0; round < KILLS_PER_STRIPE; round++) {
      for (const servers of stripeServers) {
        const before = acknowledged.size;
        await pollUntil('transfers before the kill', () => acknowledged.size >= before + random.int(3, 15), 60_000);
        const active = await inSyncActive(servers);
        await kill(active);
        const after = acknowledged.size;
        await pollUntil('transfers after the kill', () => acknowledged.size > after + 3, 60_000);
        launch(file, active);
      }
    }
    running = false;
    await Promise.all([...workers, checking]);

    // Every transaction ends: no part is left prepared once the stripes are in sync again.
    await Promise.all(stripeServers.map(inSyncActive));
    const final = new Map<string, Movement[]>();
    for (const account of all) final.set(account, await movementsOf(client, account));
    const { parts, total } = tally(final);
    expect(total, 'the money in total').toBe(OPENING * all.length);
    // Each transfer is on both of its accounts or on neither, once each.
    expect([...parts].filter(([, n]) => n !== 2), 'transfers on one side only, or twice').toEqual([]);
    expect([...acknowledged].filter((t) => !parts.has(t)), 'acknowledged transfers lost').toEqual([]);
    expect(fractured, 'fractured reads').toEqual([]);
    expect(totals.length, 'checker passes').toBeGreaterThan(10);
    expect(totals.filter((t) => t !== OPENING * all.length), 'passes whose total was off').toEqual([]);
    await client.close();
    for (const m of members) await kill(m);
    console.log(`bank: ${acknowledged.size} transfers acknowledged, ${indeterminate.size} indeterminate, ${parts.size} committed; ${totals.length} checker passes, 0 fractured`);
  }, 600_000);
});
