// What a client sees when the coordinator's active loses office in the middle of a transaction
// over two stripes, on real processes (2 stripes x 2 servers + 1 voter, restartable): deposed
// (paused past its lease, its mirror takes office) while it waits for a vote that never comes,
// and deposed (it loses its lease) after writing its decide and before committing it. The
// client's own resend commits the transaction exactly once; with resends off it gets a typed,
// retryable StripeUnavailableError saying the transaction may have committed, never
// ClientClosedError. Either way each stream holds the transaction's event once or not at all,
// both or neither, and no transaction is left open on either stripe.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SlotTable } from '@kiln/core';
import { connect, StripeUnavailableError, type KilnClient } from '@kiln/core/client';
import type { TransactionResult } from '@kiln/core';
import { tcpTransport } from '@kiln/transport-tcp';
import { inSyncActive, killAllMembers, launch, pollUntil, seededRandom, statusOf, stripedCluster, writeStripedFile, type Member } from './support/cluster.js';
import { streamsByStripe } from './support/stripes.js';

/** Long enough that the coordinator still waits for the vote when it is deposed. */
const TXN_TIMEOUT_MS = 8000;
const dirs: string[] = [];
const clients: KilnClient[] = [];
let members: Member[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => undefined)));
  // A paused member is resumed first, in case a test failed while it was stopped: SIGKILL ends it either way.
  for (const m of members) m.process?.kill('SIGCONT');
  killAllMembers();
});

afterAll(async () => {
  if (!process.env.KILN_KEEP) await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function open(urls: readonly string[], options: { reconnectWindowMs: number; serverSilenceMs?: number }): Promise<KilnClient> {
  // No busy retries: a resend of the transaction is the link's alone.
  const client = await connect([...urls], { transports: [tcpTransport()], requestTimeoutMs: 60_000, busyRetries: 0, ...options });
  clients.push(client);
  return client;
}

const [[onAlpha], [onBravo]] = streamsByStripe({ slotTable: SlotTable.initial(2) }, 'acct') as [[string], [string]];

/** A running cluster with both stripes in sync, each stream opened (version 0) by a transaction over both. */
async function startCluster(seed: number) {
  const root = await mkdtemp(join(tmpdir(), 'kiln-txn-stepdown-'));
  dirs.push(root);
  console.log(`txn-stepdown: logs in ${root} (kept with KILN_KEEP=1)`);
  members = (await stripedCluster(2, 2, 1, root, seededRandom(seed), 'restartable')).members;
  const file = await writeStripedFile(root, members, 'restartable', { txnTimeoutMs: TXN_TIMEOUT_MS });
  for (const m of members) launch(file, m);
  const alpha = members.filter((m) => m.stripe === 'alpha');
  const bravo = members.filter((m) => m.stripe === 'bravo');
  const a1 = await inSyncActive(alpha);
  await inSyncActive(bravo);
  const servers = members.filter((m) => !m.voter);
  // Both actives' links to each other are made here: the transaction under test meets them open.
  const setup = await open(servers.map((m) => m.client), { reconnectWindowMs: 15_000 });
  await setup.transact([{ stream: onAlpha, events: [{ type: 'Opened', data: 0 }] }, { stream: onBravo, events: [{ type: 'Opened', data: 0 }] }]);
  return { root, alpha, bravo, a1, a2: alpha.find((m) => m !== a1)!, v1: members.find((m) => m.voter)!, servers };
}

/**
 * The transaction under test, from a client that reaches alpha's active first (with a long
 * `serverSilenceMs`, it stays on it while it is paused: what it sees is what that server did).
 */
async function transfer(first: Member, servers: readonly Member[], options: { reconnectWindowMs: number; serverSilenceMs?: number }): Promise<{ outcome: Promise<{ result?: TransactionResult; error?: unknown }> }> {
  const client = await open([first.client, ...servers.filter((m) => m !== first).map((m) => m.client)], options);
  await client.read(onAlpha);
  const outcome = client
    .transact([
      { stream: onAlpha, events: [{ type: 'T', data: 1 }], expectedVersion: 0 },
      { stream: onBravo, events: [{ type: 'T', data: 1 }], expectedVersion: 0 },
    ])
    .then(
      (result) => ({ result }),
      (error: unknown) => ({ error }),
    );
  return { outcome };
}

/**
 * How many times each stream holds the transaction's event, once both reads are served: a read of
 * a stream held by a part in doubt fails at once (TransactionInDoubtError) until its coordinator's
 * stripe answers again.
 */
async function copies(servers: readonly Member[]): Promise<number[]> {
  const reader = await open(servers.map((m) => m.client), { reconnectWindowMs: 15_000 });
  let counts: number[] = [];
  await pollUntil('both streams read', async () => {
    const read = (s: string) => reader.read(s).then((events) => events.filter((e) => e.type === 'T').length);
    counts = await Promise.all([read(onAlpha), read(onBravo)]).catch(() => []);
    return counts.length === 2;
    // Under a loaded machine, alpha's election after the SIGCONTs and the participant's question to it can take long.
  }, 60_000, 200);
  return counts;
}

/** No transaction open on either stripe's active (20 s at most). */
async function noneOpen(stripes: ReadonlyArray<readonly Member[]>): Promise<void> {
  let last: unknown;
  await pollUntil('no transaction open', async () => {
    const lists = await Promise.all(
      stripes.map(async (servers) => {
        const active = await inSyncActive(servers);
        const client = await connect(active.client, { transports: [tcpTransport()], reconnectWindowMs: 0 });
        try {
          return await client.openTransactions();
        } finally {
          await client.close();
        }
      }),
    ).catch((error: unknown) => [error]);
    last = lists;
    return lists.every((list) => Array.isArray(list) && list.length === 0);
  }, 20_000, 200).catch((error: Error) => {
    throw new Error(`${error.message}; last: ${JSON.stringify(last)}`);
  });
}

async function steppedDown(member: Member): Promise<void> {
  await pollUntil(`${member.name} out of office`, async () => (await statusOf(member.client))?.state !== 'ACTIVE-COORDINATOR', 20_000, 100);
}

describe('a coordinator that loses office in the middle of a transaction over two stripes', () => {
  it('deposed while it waits for a vote: the client resends, and the new active commits it once', async () => {
    const { alpha, bravo, a1, a2, servers } = await startCluster(31);
    const observer = await open([a1.client], { reconnectWindowMs: 0 });
    // Bravo's servers stopped: the prepare reaches no one who answers, and bravo elects no one.
    for (const m of bravo) m.process!.kill('SIGSTOP');
    const { outcome } = await transfer(a1, servers, { reconnectWindowMs: 15_000, serverSilenceMs: 30_000 });
    await pollUntil('a1 waiting for the vote', async () => (await observer.openTransactions()).some((t) => t.state === 'deciding'), 10_000);
    const { term } = (await statusOf(a1.client))!;
    a1.process!.kill('SIGSTOP');
    await pollUntil('a2 in office', async () => {
      const status = await statusOf(a2.client);
      return status?.state === 'ACTIVE-COORDINATOR' && status.term > term;
    }, 20_000, 100);
    a1.process!.kill('SIGCONT');
    await steppedDown(a1);
    for (const m of bravo) m.process!.kill('SIGCONT');

    const { result, error } = await outcome;
    expect(error).toBeUndefined();
    expect(result!.streams.map((s) => [s.stream, s.firstVersion])).toEqual([[onAlpha, 1], [onBravo, 1]]);
    expect(await copies(servers)).toEqual([1, 1]);
    await noneOpen([alpha, bravo]);
  }, 120_000);

  for (const reconnectWindowMs of [0, 15_000]) {
    it(`deposed after writing its decide, before committing it (client window ${reconnectWindowMs} ms): ${reconnectWindowMs === 0 ? 'the error says the transaction may have committed' : 'the resend gets the one result'}`, async () => {
      const { root, alpha, bravo, a1, a2, v1, servers } = await startCluster(37 + reconnectWindowMs);
      // Alpha's mirror and the voter stopped: the decide is written and shipped, never acknowledged,
      // and a1, hearing from no majority, steps down with it uncommitted.
      a2.process!.kill('SIGSTOP');
      v1.process!.kill('SIGSTOP');
      const { outcome } = await transfer(a1, servers, { reconnectWindowMs });
      await steppedDown(a1);
      const settled = reconnectWindowMs === 0 ? await outcome : undefined;
      a2.process!.kill('SIGCONT');
      v1.process!.kill('SIGCONT');
      const { result, error } = settled ?? (await outcome);

      expect(await readFile(join(root, `${a1.name}.log`), 'utf8')).toMatch(/a1: steps down from term 1/);
      const [inAlpha, inBravo] = await copies(servers);
      expect(inAlpha, 'all or nothing').toBe(inBravo);
      expect(inAlpha).toBeLessThanOrEqual(1);
      if (reconnectWindowMs === 0) {
        expect(result).toBeUndefined();
        expect(error).toBeInstanceOf(StripeUnavailableError);
        expect(error).toMatchObject({ stripe: 'alpha', retryable: true, transactionFate: 'unknown' });
        expect((error as Error).message).toMatch(/may have committed/);
      } else {
        expect(error).toBeUndefined();
        expect(result!.streams.map((s) => [s.stream, s.firstVersion])).toEqual([[onAlpha, 1], [onBravo, 1]]);
        expect(inAlpha).toBe(1);
      }
      await noneOpen([alpha, bravo]);
    }, 120_000);
  }
});
