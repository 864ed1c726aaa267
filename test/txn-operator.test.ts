// Transactions over several stripes when a stripe does not answer, each stripe one standalone
// server over TCP: a part whose coordinator is lost is in doubt (its streams, and only they, fail
// with TransactionInDoubtError), `kiln txn list` shows it and `kiln txn resolve` ends it, kept in
// the diverged report; a coordinator whose participant does not vote aborts after txnTimeoutMs.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeRecord, Decision, RecordKind, TimeoutError, TransactionInDoubtError, type Store } from '@kiln/core';
import { connect, type KilnClient } from '@kiln/core/client';
import { memoryStore } from '@kiln/store-memory';
import { tcpTransport } from '@kiln/transport-tcp';
import { afterEach, describe, expect, it } from 'vitest';
import { kiln } from './support/cluster.js';
import { holdableStore, startStripes, streamsByStripe, type Stripes } from './support/stripes.js';

const TXN_TIMEOUT_MS = 400;

let stripes: Stripes | undefined;
const cleanups: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await stripes?.close();
  stripes = undefined;
});

async function open(url: string): Promise<KilnClient> {
  const client = await connect(url, { transports: [tcpTransport()], reconnectWindowMs: 2000, requestTimeoutMs: 10_000, busyRetries: 0 });
  cleanups.push(() => client.close());
  return client;
}

async function clusterFile(s: Stripes): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kiln-txn-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'cluster.json');
  await writeFile(file, JSON.stringify(s.config));
  return file;
}

/** Polls `attempt` until it settles the way `done` wants, for at most `withinMs`. */
async function eventually<T>(attempt: () => Promise<T>, done: (outcome: { value?: T; error?: unknown }) => boolean, withinMs = 10_000): Promise<{ value?: T; error?: unknown }> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const outcome: { value?: T; error?: unknown } = await attempt().then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    );
    if (done(outcome)) return outcome;
    if (Date.now() > deadline) throw new Error(`still not there after ${withinMs} ms: ${JSON.stringify(outcome.error ?? outcome.value)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Every record of a store, decoded. */
async function recordsIn(store: Store) {
  const records = await store.read(1, { direction: 'forward', maxCount: 10_000, maxBytes: 64 << 20 });
  return records.map(({ lsn, bytes }) => decodeRecord(bytes, lsn));
}

describe('a transaction in doubt', () => {
  it('fails its streams alone with TransactionInDoubtError, is listed, and ends by kiln txn resolve --abort, kept in the diverged report', async () => {
    const stores = [memoryStore(), memoryStore()];
    stripes = await startStripes(2, stores.map((s) => () => s), { txnTimeoutMs: TXN_TIMEOUT_MS });
    const file = await clusterFile(stripes);
    const [, [held, other]] = streamsByStripe(stripes.layout, 'doubt', 2) as [[string], [string, string]];
    const client = await open(stripes.urls[1]!);
    await client.append(held, [{ type: 'Opened', data: 1 }]);
    // Beta prepares a part for a transaction coordinated by alpha, then alpha's server is gone.
    const txnId = 'lost#1/1.1';
    await (client as unknown as { router: { request(stripe: number, op: string, args: unknown): Promise<unknown> } }).router.request(1, 'prepare', {
      txnId,
      coordinator: 0,
      participants: [0, 1],
      part: { clientId: 'lost', seq: 1, appends: [{ stream: held, expectedVersion: 0 }] },
    });
    const started = Date.now();
    await stripes.stop(0);

    const { error } = await eventually(
      () => client.append(held, [{ type: 'X', data: 2 }]),
      ({ error }) => error instanceof TransactionInDoubtError,
    );
    expect(Date.now() - started, 'in doubt once the coordinator was unreachable for txnTimeoutMs').toBeGreaterThanOrEqual(TXN_TIMEOUT_MS);
    expect(error).toMatchObject({ txnId, stripe: 'alpha', retryable: true });
    const readStarted = Date.now();
    await expect(client.read(held)).rejects.toMatchObject({ name: 'TransactionInDoubtError', txnId, stripe: 'alpha' });
    expect(Date.now() - readStarted, 'a read of a stream in doubt fails at once').toBeLessThan(TXN_TIMEOUT_MS);
    // Every other stream of beta keeps working.
    await client.append(other, [{ type: 'Y', data: 1 }]);
    expect((await client.read(other)).map((e) => e.type)).toEqual(['Y']);

    const listed = await kiln('txn', 'list', '--config', file, '--json');
    // stdout is the JSON alone; the stripe not asked is named on stderr, so "none open" and "not asked" differ.
    expect(listed.stderr).toBe('stripe alpha: no active answered; its transactions are not listed\n');
    expect(listed.status).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([{ txnId, coordinator: 'alpha', participants: ['alpha', 'beta'], state: 'prepared', ageMs: expect.any(Number), preparedOn: ['beta'], inDoubt: true }]);
    const table = await kiln('txn', 'list', '--config', file);
    expect(table.stdout).toMatch(/stripe alpha: no active answered/);
    expect(table.stdout).toMatch(new RegExp(`${txnId}\\s+alpha\\s+alpha,beta\\s+prepared\\s+[\\d.]+ s\\s+beta\\s+yes`));

    const unknown = await kiln('txn', 'resolve', 'nobody#1/1.1', '--abort', '--config', file);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toMatch(/InvalidArgumentError: .*no stripe holds a prepared part of transaction nobody#1\/1\.1/);
    const resolveStarted = Date.now();
    const resolved = await kiln('txn', 'resolve', txnId, '--abort', '--config', file);
    expect(resolved.stderr).toBe('');
    expect(resolved.status).toBe(0);
    expect(resolved.stdout).toMatch(/stripe beta: ended its part with the forced decision/);
    expect(resolved.stdout).toMatch(/stripe alpha: no active answered; not asked/);

    // The stream works again, and the part wrote nothing.
    await client.append(held, [{ type: 'Z', data: 3 }]);
    expect((await client.read(held)).map((e) => e.type)).toEqual(['Opened', 'Z']);
    const outcome = (await recordsIn(stores[1]!)).find((r) => r.kind === RecordKind.Outcome);
    expect(outcome?.txn).toMatchObject({ id: txnId, decision: Decision.Abort });
    expect(JSON.parse((await kiln('txn', 'list', '--config', file, '--json')).stdout)).toEqual([]);

    // The forced decision is in beta's diverged report: the transaction, the decision, by an operator, and when.
    const report = [];
    for await (const entry of client.diverged()) report.push(entry);
    expect(report).toHaveLength(1);
    expect(report[0]).toMatchObject({ forcedByOperator: { txnId, decision: 'abort' }, clientId: 'lost', seq: 1 });
    expect(report[0]!.atMs).toBeGreaterThanOrEqual(resolveStarted);
    expect(report[0]!.atMs).toBeLessThanOrEqual(Date.now());
    const printed = await kiln('diverged', stripes.urls[1]!);
    expect(printed.stdout).toMatch(new RegExp(`transaction ${txnId}: an operator forced abort at `));

    // No stripe answers: neither command may pass for an answer ("[]" and exit 0 did, for list).
    await stripes.stop(1);
    const unasked = await kiln('txn', 'list', '--config', file, '--json');
    expect(unasked.stdout).toBe('');
    expect(unasked.stderr).toMatch(/stripe alpha: no active answered.*\nstripe beta: no active answered.*\nkiln: no stripe has an active answering: no transaction was listed\n$/);
    expect(unasked.status).toBe(5);
    const unresolved = await kiln('txn', 'resolve', txnId, '--commit', '--config', file);
    expect(unresolved.stderr).toBe(`kiln: no stripe has an active answering: transaction ${txnId} was not resolved\n`);
    expect(unresolved.status).toBe(5);
  });
});

describe('kiln txn resolve --commit', () => {
  it('writes the part of a transaction whose coordinator was lost writing its decision', async () => {
    const alpha = holdableStore();
    const betaStore = memoryStore();
    stripes = await startStripes(2, [() => alpha.store, () => betaStore], { txnTimeoutMs: TXN_TIMEOUT_MS });
    const file = await clusterFile(stripes);
    const [[a], [b]] = streamsByStripe(stripes.layout, 'won') as [[string], [string]];
    const client = await open(stripes.urls[0]!);
    await client.read(b); // dials beta first
    // Beta votes yes; alpha's decide never reaches its store, and alpha's server is lost.
    alpha.hold();
    const lost = client.transact([
      { stream: a, events: [{ type: 'A', data: 1 }] },
      { stream: b, events: [{ type: 'B', data: 1 }] },
    ]);
    lost.catch(() => undefined);
    await eventually(
      () => recordsIn(betaStore),
      ({ value }) => value?.some((r) => r.kind === RecordKind.Prepare) ?? false,
    );
    alpha.lose();
    await stripes.stop(0);
    const txnId = (await recordsIn(betaStore)).find((r) => r.kind === RecordKind.Prepare)!.txn!.id;

    const resolved = await kiln('txn', 'resolve', txnId, '--commit', '--config', file);
    expect(resolved.stderr).toBe('');
    expect(resolved.stdout).toMatch(/stripe beta: ended its part with the forced decision/);
    const beta = await open(stripes.urls[1]!);
    expect((await beta.read(b)).map((e) => e.type)).toEqual(['B']);
    const report = [];
    for await (const entry of beta.diverged()) report.push(entry);
    expect(report).toMatchObject([{ forcedByOperator: { txnId, decision: 'commit' }, events: [{ stream: b, type: 'B' }] }]);
  });
});

describe('kiln txn resolve while the coordinator decides', () => {
  it('leaves the part and exits 1 (not 0) with TxnNotResolvedError; the coordinator then ends it', async () => {
    const gamma = holdableStore();
    stripes = await startStripes(3, [() => memoryStore(), () => memoryStore(), () => gamma.store], { txnTimeoutMs: 20_000 });
    const file = await clusterFile(stripes);
    const [[a], [b], [c]] = streamsByStripe(stripes.layout, 'undecided') as [[string], [string], [string]];
    const client = await open(stripes.urls[0]!);
    await Promise.all([client.read(b), client.read(c)]); // dials both first
    // Beta prepares and votes; gamma's prepare is not committed, so alpha waits for its vote.
    gamma.hold();
    const committing = client.transact([
      { stream: a, events: [{ type: 'A', data: 1 }] },
      { stream: b, events: [{ type: 'B', data: 1 }] },
      { stream: c, events: [{ type: 'C', data: 1 }] },
    ]);
    const { value: listed } = await eventually(
      () => kiln('txn', 'list', '--config', file, '--json'),
      ({ value }) => (JSON.parse(value?.stdout || '[]') as Array<{ preparedOn: string[] }>)[0]?.preparedOn.includes('beta') ?? false,
    );
    const { txnId, state } = (JSON.parse(listed!.stdout) as Array<{ txnId: string; state: string }>)[0]!;
    expect(state).toBe('deciding');

    const resolved = await kiln('txn', 'resolve', txnId, '--abort', '--config', file);
    expect(resolved.stdout).toMatch(/stripe beta: its coordinator answered that it is still deciding; the part stays/);
    expect(resolved.stderr).toBe(`kiln: transaction ${txnId} was not resolved on beta: its coordinator is still deciding it (it aborts an undecided one after its txnTimeoutMs); try again then\n`);
    expect(resolved.status).toBe(1);

    // The operator's abort was not taken: the coordinator commits once gamma votes.
    gamma.release();
    await committing;
    expect((await client.read(b)).map((e) => e.type)).toEqual(['B']);
  });
});

describe('kiln txn list', () => {
  it('shows a transaction its coordinator is deciding, and nothing once it committed', async () => {
    const beta = holdableStore();
    stripes = await startStripes(2, [() => memoryStore(), () => beta.store], { txnTimeoutMs: 20_000 });
    const file = await clusterFile(stripes);
    const [[a], [b]] = streamsByStripe(stripes.layout, 'listed') as [[string], [string]];
    const client = await open(stripes.urls[0]!);
    await client.read(b); // dials beta first
    beta.hold();
    const committing = client.transact([
      { stream: a, events: [{ type: 'A', data: 1 }] },
      { stream: b, events: [{ type: 'B', data: 1 }] },
    ]);
    const { value: deciding } = await eventually(
      () => client.openTransactions(),
      ({ value }) => (value?.length ?? 0) > 0,
    );
    expect(deciding).toEqual([{ txnId: expect.stringMatching(/#1\//), coordinator: 'alpha', participants: ['alpha', 'beta'], state: 'deciding', ageMs: expect.any(Number), inDoubt: false }]);
    const listed = await kiln('txn', 'list', '--config', file, '--json');
    expect(listed.status).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([{ txnId: deciding![0]!.txnId, coordinator: 'alpha', participants: ['alpha', 'beta'], state: 'deciding', ageMs: expect.any(Number), preparedOn: [], inDoubt: false }]);

    beta.release();
    await committing;
    await eventually(
      () => kiln('txn', 'list', '--config', file),
      ({ value }) => value?.stdout === 'no open transactions\n',
    );
  });
});

describe('txnTimeoutMs', () => {
  it('aborts a transaction whose participant does not vote in time with TimeoutError, writing nothing; the participant then ends its part with abort', async () => {
    const alphaStore = memoryStore();
    const beta = holdableStore();
    stripes = await startStripes(2, [() => alphaStore, () => beta.store], { txnTimeoutMs: TXN_TIMEOUT_MS });
    const [[a], [b]] = streamsByStripe(stripes.layout, 'slow') as [[string], [string]];
    const client = await open(stripes.urls[0]!);
    await client.read(b); // dials beta first
    // Beta's writes wait: its prepare is not committed, so it does not vote.
    beta.hold();
    const started = Date.now();
    const attempt = client.transact([
      { stream: a, events: [{ type: 'A', data: 1 }] },
      { stream: b, events: [{ type: 'B', data: 1 }] },
    ]);
    await expect(attempt).rejects.toBeInstanceOf(TimeoutError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(TXN_TIMEOUT_MS - 20);
    const alphaLog = await recordsIn(alphaStore);
    expect(alphaLog.map((r) => [r.kind, r.txn?.decision, r.appends.length])).toEqual([[RecordKind.Decide, Decision.Abort, 0]]);
    expect(await client.read(a)).toEqual([]);

    // Beta writes its prepare at last; asking alpha, it learns the abort and ends the part.
    beta.release();
    await eventually(
      () => recordsIn(beta.store),
      ({ value }) => value?.some((r) => r.kind === RecordKind.Outcome) ?? false,
    );
    const betaLog = await recordsIn(beta.store);
    expect(betaLog.map((r) => [r.kind, r.txn?.decision])).toEqual([
      [RecordKind.Prepare, Decision.None],
      [RecordKind.Outcome, Decision.Abort],
    ]);
    expect(betaLog[1]!.appends).toEqual([]);
    expect(await client.read(b)).toEqual([]);
    await client.append(b, [{ type: 'Free', data: 1 }]);
    expect((await client.read(b)).map((e) => e.type)).toEqual(['Free']);
  });
});
