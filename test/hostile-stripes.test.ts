// A hostile client of a cluster of stripes, and a careless operator. Below the client library, the
// operations one stripe's servers send another (prepare, decide) are on the wire for anyone to
// send, and must not let a stripe take a stream the slot table gives another: every stream lives
// on exactly one stripe. And a cluster file whose address reaches a server of another cluster
// must not make `kiln status` take that server for the member the file names. And transactions
// queued behind prepares to a stripe gone out of reach fail with typed errors, never ClientClosedError.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode } from '@msgpack/msgpack';
import { clusterLayoutOf, createServer, defaultConnectionLimits, validateClusterConfig, type KilnServer } from '@kiln/core';
import { connect, StripeUnavailableError, TimeoutError, type KilnClient } from '@kiln/core/client';
import { memoryStore } from '@kiln/store-memory';
import { tcpTransport } from '@kiln/transport-tcp';
import { afterEach, describe, expect, it } from 'vitest';
import { connectWithin, kill, kiln, killAllMembers, launch, pollUntil, seededRandom, stripedCluster, type Member } from './support/cluster.js';
import { holdableStore, startStripes, streamsByStripe, type Stripes } from './support/stripes.js';
import { HELLO, RawTcp, rawSession } from './support/wire.js';

const tcp = tcpTransport();
let stripes: Stripes | undefined;
const clients: KilnClient[] = [];
const cleanups: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  for (const client of clients.splice(0)) await client.close();
  await stripes?.close();
  stripes = undefined;
});

async function open(url: string): Promise<KilnClient> {
  const client = await connect(url, { transports: [tcp], reconnectWindowMs: 2000, requestTimeoutMs: 10_000 });
  clients.push(client);
  return client;
}

describe("a stripe's part of a transaction over several", () => {
  // A participant prepared, and on a decide committed, a part whose streams the slot table gives
  // another stripe: the forged part below put an event of alpha's stream into beta's log, where
  // alpha's own reads of that stream never see it.
  it('is refused with WrongStripeError when it names a stream of another stripe, and beta writes nothing', async () => {
    stripes = await startStripes(2);
    const [[alphaStream]] = streamsByStripe(stripes.layout, 'owned') as [[string]];
    const beta = await rawSession(tcp, stripes.urls[1]!);
    const txnId = 'forged#1/1.1';
    const part = ['forger', 1, [[alphaStream, 'any', encode([['smuggled-1', 'Smuggled', 1]])]]];
    const prepared = beta.request('prepare', [txnId, 0, [0, 1], part]).then(
      () => 'prepared',
      (error: { body?: { name?: string } }) => error.body?.name,
    );
    // Before the fix beta prepares; the decide then writes the part.
    if ((await prepared) === 'prepared') await beta.request('decide', [txnId, 1]);
    beta.connection.close('test done');

    const client = await open(stripes.urls[0]!);
    const betaLog = await client.readAll({ stripe: 'beta' });
    expect(betaLog.filter((e) => e.stream === alphaStream), "alpha's stream in beta's log").toEqual([]);
    expect(await prepared).toBe('WrongStripeError');
  });
});

describe('a malformed prepare or decide', () => {
  // Servers read these frames by hand (txn-frames.ts); one the hand reader does not take goes to
  // the general decoder, which refuses it for that request alone.
  it('is refused with InvalidArgumentError: nothing is prepared or written, and the session and the stripes go on', async () => {
    stripes = await startStripes(2);
    const [[alphaStream], [betaStream]] = streamsByStripe(stripes.layout, 'malformed') as [[string], [string]];
    const beta = await rawSession(tcp, stripes.urls[1]!);
    const part = ['forger', 1, [[betaStream, 'any', encode([['forged-1', 'Forged', 1]])]]];
    const refusal = (op: string, args: unknown): Promise<unknown> => beta.request(op, args).then(() => 'served', (error: { body?: { name?: string } }) => error.body?.name);
    const malformed: Array<[string, unknown]> = [
      ['prepare', ['forged#1/0.1.1', 1, [0, 1], part]], // the coordinator is not the first participant
      ['prepare', ['forged#1/0.1.1', 0, [0], part]],
      ['prepare', ['forged#1/7.1.1', 7, [7, 1], part]], // no stripe 7: nobody would ever decide it
      ['prepare', ['forged#1/0.1.1', 0, [0, 1, 2], part]],
      ['prepare', ['', 0, [0, 1], part]],
      ['prepare', ['forged\uD800#1/0.1.1', 0, [0, 1], part]], // the log's UTF-8 has no lone surrogate: it would come back as another id
      ['prepare', ['forged#1/0.1.1', 0, [0, 1], ['forger', 1, [[betaStream, 'sometime']]]]],
      ['prepare', ['forged#1/0.1.1', 0, [0, 1]]],
      ['decide', ['forged#1/0.1.1', 3]],
      ['decide', ['t'.repeat(201), 1]],
    ];
    for (const [op, args] of malformed) expect(await refusal(op, args), JSON.stringify(args)).toBe('InvalidArgumentError');
    // The same session is still served: a decide of a transaction never prepared here is done at once.
    expect(await beta.request('decide', ['forged#2/0.1.1', 2])).toBeNull();
    beta.connection.close('test done');

    const client = await open(stripes.urls[0]!);
    expect(await client.openTransactions()).toEqual([]);
    expect((await client.readAll({ stripe: 'beta' })).filter((e) => e.stream === betaStream)).toEqual([]);
    await client.transact([
      { stream: alphaStream, events: [{ type: 'Debited', data: 1 }] },
      { stream: betaStream, events: [{ type: 'Credited', data: 1 }] },
    ]);
    expect((await client.readAll({ stripe: 'beta' })).filter((e) => e.stream === betaStream).map((e) => e.type)).toEqual(['Credited']);
  });
});

describe('two clients with one client id, sending transactions over several stripes under one seq', () => {
  // The coordinator handed the second the first's result (naming streams it never wrote) and
  // dropped its writes, while it was being decided and after: a one-stripe transaction gets
  // SequenceReusedError there.
  it('refuse the second with SequenceReusedError, writing nothing of it, and a true resend still gets the original result', async () => {
    stripes = await startStripes(2);
    const [[a1, a2], [b1, b2]] = streamsByStripe(stripes.layout, 'twin', 2) as [[string, string], [string, string]];
    const [first, second] = await Promise.all([rawSession(tcp, stripes.urls[0]!), rawSession(tcp, stripes.urls[0]!)]);
    const transaction = (a: string, b: string, type: string) => ['twin', 1, [[a, 'any', encode([[`${type}-a`, type, 1]])], [b, 'any', encode([[`${type}-b`, type, 1]])]]];
    const outcome = (attempt: Promise<unknown>): Promise<unknown> => attempt.then((result) => result, (error: { body?: { name?: string } }) => error.body?.name);
    const racing = [outcome(first.request('transact', transaction(a1, b1, 'First'))), outcome(second.request('transact', transaction(a2, b2, 'Second')))];
    const [original, raced] = await Promise.all(racing);
    expect(original).toEqual([1, [[a1, 0, 1], [b1, 0, 1]]]);
    expect(raced).toBe('SequenceReusedError');
    // Decided: the same refusal, and the first's resend its result.
    expect(await outcome(second.request('transact', transaction(a2, b2, 'Second')))).toBe('SequenceReusedError');
    expect(await outcome(first.request('transact', transaction(a1, b1, 'First')))).toEqual(original);
    first.connection.close('test done');
    second.connection.close('test done');
    const client = await open(stripes.urls[0]!);
    for (const stream of [a2, b2]) expect(await client.read(stream), stream).toEqual([]);
    for (const stream of [a1, b1]) expect((await client.read(stream)).map((e) => e.type), stream).toEqual(['First']);
  });
});

describe('a client that pipelines thousands of transactions over several stripes and never reads', () => {
  // One link carries all of alpha's prepares to beta: the flood's 1,024 (its connection's cap) took
  // it to its in-flight cap, and another client's transaction failed with TooManyInFlightError.
  it("holds no more than its connection's cap, other clients' transactions go through, and every held stream is released", async () => {
    const beta = holdableStore();
    stripes = await startStripes(2, [() => memoryStore(), () => beta.store]);
    const count = 5_000;
    const [floodA, floodB] = streamsByStripe(stripes.layout, 'flood', count) as [string[], string[]];
    const [[a], [b]] = streamsByStripe(stripes.layout, 'bystander') as [[string], [string]];
    const bystander = await open(stripes.urls[0]!);
    await bystander.read(b); // dials beta first
    // Beta writes nothing for now: every prepare alpha sends it stays unanswered.
    beta.hold();
    const flood = await RawTcp.open(stripes.urls[0]!);
    cleanups.push(async () => flood.destroy());
    flood.send(HELLO);
    await flood.waitFrames(1);
    flood.socket.pause();
    for (let i = 0; i < count; i++) {
      const appends = [[floodA[i]!, 'any', encode([[`a-${i}`, 'A', i]])], [floodB[i]!, 'any', encode([[`b-${i}`, 'B', i]])]];
      flood.send(encode([1, i + 1, 'transact', ['flood', i + 1, appends]]));
    }
    await pollUntil('alpha deciding as many as the flood may have in flight', async () => (await bystander.openTransactions()).length === 1_024);
    const committing = bystander.transact([
      { stream: a, events: [{ type: 'Debited', data: 1 }] },
      { stream: b, events: [{ type: 'Credited', data: 1 }] },
    ]);
    beta.release();
    await committing;
    expect((await bystander.read(b)).map((e) => e.type)).toEqual(['Credited']);
    await pollUntil('no transaction open on alpha', async () => (await bystander.openTransactions()).length === 0);
    // The flood's parts were all decided and ended on beta too: their streams are free.
    const onBeta = await open(stripes.urls[1]!);
    await pollUntil('no part open on beta', async () => (await onBeta.openTransactions()).length === 0);
    flood.destroy();
    await bystander.append(floodB[0]!, [{ type: 'After', data: 1 }]);
  }, 60_000);
});

describe('transactions over several stripes waiting for room behind prepares to a stripe gone', () => {
  // Alpha's link to beta gave up and failed its calls; a prepare waiting for room went out on that
  // dying link, failed with its close, and the client got ClientClosedError ('the client is
  // closed', as a RemoteError) for a transaction alpha had aborted.
  it("each fail with a typed error saying beta could not vote, never ClientClosedError, and write nothing", async () => {
    stripes = await startStripes(2, [], { inFlightMax: 2, txnTimeoutMs: 1000 });
    const [onAlpha, onBeta] = streamsByStripe(stripes.layout, 'queued', 3) as [string[], string[]];
    // One client each: a connection takes two requests at a time here.
    const senders = [await open(stripes.urls[0]!), await open(stripes.urls[0]!), await open(stripes.urls[0]!)];
    await senders[0]!.transact([{ stream: onAlpha[0]!, events: [{ type: 'Opened', data: 0 }] }, { stream: onBeta[0]!, events: [{ type: 'Opened', data: 0 }] }]);
    await stripes.stop(1);
    const since = performance.now();
    const transfer = (i: number) =>
      senders[i]!.transact([{ stream: onAlpha[i]!, events: [{ type: 'T', data: i }] }, { stream: onBeta[i]!, events: [{ type: 'T', data: i }] }]).catch((error: unknown) => error);
    // Alpha's calls to beta fill its two slots, and the next prepares wait for room, the last one from half a window later.
    const outcomes = [transfer(0), transfer(1)];
    await pollUntil('half a txnTimeoutMs', () => performance.now() - since >= 500);
    outcomes.push(transfer(2));
    for (const error of await Promise.all(outcomes)) {
      expect(error).toSatisfy((e) => (e instanceof StripeUnavailableError && e.stripe === 'beta' && e.transactionFate === 'not-committed') || (e instanceof TimeoutError && e.operation === 'prepare'));
    }
    for (const stream of onAlpha) expect((await senders[0]!.read(stream)).filter((e) => e.type === 'T')).toEqual([]);
    expect(await senders[0]!.openTransactions()).toEqual([]);
  });
});

describe('a transaction over several stripes of exactly frameBytesMax', () => {
  // Its part for beta goes on in a prepare that carries the transaction's id, the client id in it:
  // a frame over the limit, and the client was told FrameTooLargeError of a frame it never sent.
  it('whose part does not fit a prepare is refused with InvalidArgumentError naming the part; nothing is written or held', async () => {
    stripes = await startStripes(2);
    const [[a], [b]] = streamsByStripe(stripes.layout, 'edge') as [[string], [string]];
    const raw = await rawSession(tcp, stripes.urls[0]!);
    const args = (n: number): unknown[] => ['\u20ac'.repeat(90), 1, [[a, 'no-stream'], [b, 'any', encode([['e', 'E', 'x'.repeat(n)]])]]];
    const frameBytesMax = defaultConnectionLimits.frameBytesMax;
    const refusal = await raw.request('transact', args(2 * frameBytesMax - 1_000 - encode([1, 1, 'transact', args(frameBytesMax - 1_000)]).length)).then(
      () => undefined,
      (error: { body?: unknown }) => error.body,
    );
    raw.connection.close('test done');
    expect(refusal).toMatchObject({ name: 'InvalidArgumentError', fields: { field: 'appends', rule: expect.stringMatching(/^the part for stripe 1 takes a prepare of \d+ bytes, over frameBytesMax/) } });
    const client = await open(stripes.urls[0]!);
    expect(await client.openTransactions()).toEqual([]);
    await client.transact([
      { stream: a, events: [{ type: 'A', data: 1 }], expectedVersion: 'no-stream' },
      { stream: b, events: [{ type: 'B', data: 1 }], expectedVersion: 'no-stream' },
    ]);
  });
});

describe('a transaction over several stripes sent to a stripe that is not the lowest', () => {
  it("is refused with WrongStripeError naming the lowest stripe and its active, as a single stream's refusal is", async () => {
    // It named the stripe but no active (null), so a client had to fetch the topology to follow it.
    // Real processes: stripes learn each other's actives over their peer links.
    const root = await mkdtemp(join(tmpdir(), 'kiln-hostile-route-'));
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    cleanups.push(async () => killAllMembers());
    const { file, members } = await stripedCluster(2, 1, 0, root, seededRandom(Date.now()), 'memory');
    for (const member of members) launch(file, member);
    const [alpha, bravo] = members as [Member, Member];
    const client = await connectWithin([bravo.client]);
    clients.push(client);
    await pollUntil("bravo knows alpha's active", async () => (await client.topology()).stripes[0]!.active === alpha.name);
    const layout = clusterLayoutOf(validateClusterConfig(JSON.parse(await readFile(file, 'utf8'))));
    const [[alphaStream], [bravoStream]] = streamsByStripe(layout, 'routed') as [[string], [string]];
    const raw = await rawSession(tcp, bravo.client);
    const refusal = (attempt: Promise<unknown>): Promise<unknown> => attempt.then(() => expect.fail('bravo served it'), (e: { body?: unknown }) => e.body);
    const blob = encode([['routed-1', 'Routed', 1]]);
    expect(await refusal(raw.request('transact', ['router', 1, [[alphaStream, 'any', blob]]]))).toMatchObject({ name: 'WrongStripeError', fields: { stripe: 'alpha', active: alpha.client } });
    const spanning = await refusal(raw.request('transact', ['router', 2, [[alphaStream, 'any', blob], [bravoStream, 'any', blob]]]));
    expect(spanning).toMatchObject({ name: 'WrongStripeError', fields: { stripe: 'alpha', active: alpha.client } });
    raw.connection.close('test done');
  });
});

/**
 * A lone server named b1 on a port the OS picks, not one `listed` names: the stripes' peer addresses
 * are in their file but not bound, and the OS handed the stranger one of them once (the file then
 * failed its check for addresses used twice).
 */
async function serverOnUnlistedPort(listed: string): Promise<KilnServer> {
  for (let attempt = 1; ; attempt++) {
    const server = await createServer({ name: 'b1', store: memoryStore(), transports: [tcp], listen: ['tcp://127.0.0.1:0'] });
    if (!listed.includes(`:${new URL(server.urls[0]!).port}"`) || attempt === 10) return server;
    await server.close();
  }
}

describe('kiln status --config, with a server of another cluster at a member\'s address', () => {
  it('does not take it for that member, nor for its stripe\'s active', async () => {
    stripes = await startStripes(2);
    // A lone server of a cluster of its own, where the file puts beta's server: a stale or mistyped file.
    const config = structuredClone(stripes.config);
    const stranger = await serverOnUnlistedPort(JSON.stringify(config));
    cleanups.push(() => stranger.close());
    config.stripes[1]!.servers[0]!.listen = [stranger.urls[0]!];
    const dir = await mkdtemp(join(tmpdir(), 'kiln-hostile-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'cluster.json');
    await writeFile(file, JSON.stringify(config));

    const result = await kiln('status', '--config', file, '--json');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const status = JSON.parse(result.stdout) as { stripes: Array<{ name: string; active: string | null; members: Array<{ name: string; state: string; reachable: boolean }> }> };
    expect(status.stripes[0]).toMatchObject({ name: 'alpha', active: 'a1', members: [{ name: 'a1', state: 'ACTIVE-COORDINATOR', reachable: true }] });
    // Before the fix: beta's active 'b1', ACTIVE-COORDINATOR, as the stranger said of itself.
    expect(status.stripes[1]!.active).toBeNull();
    expect(status.stripes[1]!.members[0]!.state).toMatch(/^another cluster's server b1 \(cluster [0-9a-f-]+\)$/);
    const table = await kiln('status', '--config', file);
    expect(table.stdout).toMatch(/stripe beta: NO ACTIVE/);
  });
});

describe('kiln status --config of a voter of several stripes', () => {
  it("shows its term in each stripe, beside the first stripe's term it showed alone", async () => {
    const root = await mkdtemp(join(tmpdir(), 'kiln-hostile-terms-'));
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    cleanups.push(async () => killAllMembers());
    const { file, members } = await stripedCluster(2, 1, 1, root, seededRandom(Date.now()), 'restartable');
    for (const member of members) launch(file, member);
    const [, b1] = members as [Member, Member, Member];
    type Status = { stripes: Array<{ name: string; active: string | null; term: number | null }>; voters: Array<{ name: string; reachable: boolean; term: number | null; terms: Record<string, number> | null }> };
    const status = async (): Promise<Status> => JSON.parse((await kiln('status', '--config', file, '--json')).stdout) as Status;
    let now = await status();
    await pollUntil('both stripes have an active', async () => (now = await status()).stripes.every((s) => s.active !== null), 30_000, 100);
    // Bravo elects again after its server restarts: its term moves past alpha's.
    const bravoTerm = now.stripes[1]!.term!;
    await kill(b1);
    launch(file, b1);
    await pollUntil('bravo elected in a later term', async () => ((now = await status()).stripes[1]!.term ?? 0) > bravoTerm, 30_000, 100);
    await pollUntil("the voter's terms are the stripes'", async () => {
      now = await status();
      return now.voters[0]?.terms?.bravo === now.stripes[1]!.term;
    }, 10_000, 100);
    const [alpha, bravo] = now.stripes as [Status['stripes'][0], Status['stripes'][0]];
    expect(bravo.term).not.toBe(alpha.term);
    expect(now.voters).toEqual([{ name: 'v1', reachable: true, term: alpha.term, terms: { alpha: alpha.term, bravo: bravo.term } }]);
    const table = (await kiln('status', '--config', file)).stdout;
    expect(table).toMatch(/^voter +reachable +term alpha +term bravo$/m);
    expect(table).toMatch(new RegExp(`^v1 +yes +${alpha.term} +${bravo.term}$`, 'm'));
  }, 90_000);
});
