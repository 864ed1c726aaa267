// A cluster's identity on disk: every server of a two-stripe layout reports one cluster id, keeps
// it across restarts, and refuses to start from a file whose stripes differ from what it recorded
// (leaving its store closed and untouched). A server answers the topology and refuses streams of
// the other stripe, and transactions over both, writing nothing.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode, encode } from '@msgpack/msgpack';
import {
  clusterIdOf,
  clusterLayoutOf,
  ConfigError,
  createServer,
  slotOf,
  validateClusterConfig,
  type ClusterLayout,
  type KilnServer,
  type StoredRecord,
} from '@kiln/core';
import { connect, type KilnClient } from '@kiln/core/client';
import { levelStore } from '@kiln/store-level';
import { tcpTransport } from '@kiln/transport-tcp';
import { exchange, rawSession } from './support/wire.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** `count` distinct free ports: bound on port 0 together, read, then released. */
async function freePorts(count: number): Promise<number[]> {
  const probes: NetServer[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const probe = createNetServer();
      probes.push(probe);
      await new Promise<void>((resolve, reject) => probe.once('error', reject).listen({ host: '127.0.0.1', port: 0 }, resolve));
    }
    return probes.map((p) => (p.address() as { port: number }).port);
  } finally {
    await Promise.all(probes.map((p) => new Promise((resolve) => p.close(resolve))));
  }
}

const SERVERS = [
  ['alpha', 'a1'],
  ['alpha', 'a2'],
  ['bravo', 'b1'],
  ['bravo', 'b2'],
] as const;

/**
 * The cluster file's value for stripes named `names`, on the given ports: the first stripe holds
 * a1 and a2, the second b1 and b2 (as in SERVERS), a third (one the recorded cluster never had) c1.
 */
function clusterFile(ports: number[], names: readonly string[] = ['alpha', 'bravo']): unknown {
  const url = (i: number): string => `tcp://127.0.0.1:${ports[i]}`;
  const server = (name: string, i: number) => ({ name, listen: [url(2 * i)], peer: url(2 * i + 1), dataDir: `./data/${name}` });
  const members = [[server('a1', 0), server('a2', 1)], [server('b1', 2), server('b2', 3)], [server('c1', 4)]];
  const stripes = names.map((name, i) => ({ name, servers: members[i]! }));
  return { cluster: 'ledger', persistence: 'restartable', stripes, voters: [{ name: 'v1', peer: url(10) }] };
}

interface Fixture {
  ports: number[];
  layout: ClusterLayout;
  dirs: Map<string, string>;
  servers: Map<string, KilnServer>;
  /** Starts (or restarts) server `name` from `layout`, in the stripe its position in SERVERS gives. */
  start(name: string, layout?: ClusterLayout): Promise<KilnServer>;
  stop(name: string): Promise<void>;
  client(name: string): Promise<KilnClient>;
}

async function fixture(): Promise<Fixture> {
  const ports = await freePorts(11);
  const layout = clusterLayoutOf(validateClusterConfig(clusterFile(ports)));
  const root = await mkdtemp(join(tmpdir(), 'kiln-cluster-identity-'));
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  const dirs = new Map<string, string>(SERVERS.map(([, name]) => [name, join(root, name)]));
  const servers = new Map<string, KilnServer>();
  cleanups.push(async () => {
    for (const server of servers.values()) await server.close();
  });
  const urlOf = (name: string): string => layout.stripes.flatMap((s) => s.servers).find((s) => s.name === name)!.urls[0]!;
  return {
    ports,
    layout,
    dirs,
    servers,
    async start(name, withLayout = layout) {
      const stripe = SERVERS.find(([, n]) => n === name)![0] === 'alpha' ? 0 : 1;
      const server = await createServer({
        name,
        store: levelStore({ path: dirs.get(name)! }),
        transports: [tcpTransport()],
        listen: [urlOf(name)],
        cluster: { layout: withLayout, stripe },
      });
      servers.set(name, server);
      return server;
    },
    async stop(name) {
      await servers.get(name)!.close();
      servers.delete(name);
    },
    async client(name) {
      const c = await connect(urlOf(name), { transports: [tcpTransport()], reconnectWindowMs: 0 });
      cleanups.push(() => c.close());
      return c;
    },
  };
}

/** The cluster id in the welcome a server answers a hello with. */
async function welcomeClusterId(url: string): Promise<string> {
  const outcome = await exchange(tcpTransport(), url, [], { hello: true, until: (o) => o.frames.length >= 1 });
  const [kind, welcome] = outcome.frames[0] as [number, { clusterId: string }];
  expect(kind).toBe(2);
  return welcome.clusterId;
}

/** Everything a closed LevelDB store holds that a start could have changed: its cluster record and its log. */
async function snapshot(path: string): Promise<{ identity: Uint8Array | undefined; records: StoredRecord[] }> {
  const store = levelStore({ path }); // opening proves the refused server let go of the lock
  await store.open();
  try {
    return { identity: await store.getMeta('cluster'), records: await store.read(1, { direction: 'forward', maxCount: 1000, maxBytes: 1 << 20 }) };
  } finally {
    await store.close();
  }
}

/** Resolves true once a TCP listener can bind `port`: nobody holds it. */
function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createNetServer();
    probe.once('error', () => resolve(false));
    probe.listen({ host: '127.0.0.1', port }, () => probe.close(() => resolve(true)));
  });
}

describe('cluster identity', () => {
  it('is the same on every server of a two-stripe layout, in status and in the welcome, and survives a restart', async () => {
    const f = await fixture();
    const expected = clusterIdOf(f.layout);
    expect(expected).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    for (const [, name] of SERVERS) await f.start(name);
    for (const [, name] of SERVERS) {
      const server = f.servers.get(name)!;
      expect(server.status().clusterId, name).toBe(expected);
      expect(await welcomeClusterId(server.urls[0]!), name).toBe(expected);
      expect((await (await f.client(name)).serverStatus()).clusterId, name).toBe(expected);
    }

    await (await f.client('a1')).append('bar', [{ type: 'Kept', data: 1 }]);
    await f.stop('a1');
    const restarted = await f.start('a1');
    expect(restarted.status().clusterId).toBe(expected);
    expect(await welcomeClusterId(restarted.urls[0]!)).toBe(expected);
    expect((await (await f.client('a1')).read('bar')).map((e) => e.data)).toEqual([1]);
  });

  it.each([
    ['an added stripe', ['alpha', 'bravo', 'charlie'], '[alpha, bravo, charlie]'],
    ['a renamed stripe', ['alpha', 'bravo2'], '[alpha, bravo2]'],
    ['reordered stripes', ['bravo', 'alpha'], '[bravo, alpha]'],
  ])('refuses a restart with %s, naming both lists, and leaves the store closed and unchanged', async (_what, names, newList) => {
    const f = await fixture();
    await f.start('a1');
    await (await f.client('a1')).append('bar', [{ type: 'Kept', data: 1 }]);
    await f.stop('a1');
    const before = await snapshot(f.dirs.get('a1')!);
    expect(before.identity).toBeDefined();
    expect(before.records).toHaveLength(1);

    const changed = clusterLayoutOf(validateClusterConfig(clusterFile(f.ports, names)));
    const refusal = await f.start('a1', changed).then(
      () => expect.fail('the server started with a different stripe list'),
      (error: unknown) => error,
    );
    expect(refusal).toBeInstanceOf(ConfigError);
    expect((refusal as ConfigError).field).toBe('stripes');
    expect((refusal as ConfigError).message).toContain('stripes [alpha, bravo]');
    expect((refusal as ConfigError).message).toContain(`stripes ${newList}`);

    expect(await portIsFree(f.ports[0]!)).toBe(true);
    const after = await snapshot(f.dirs.get('a1')!);
    expect(after.identity).toEqual(before.identity);
    expect(decode(after.identity!)).toEqual(decode(before.identity!));
    expect(after.records).toEqual(before.records);

    // The file it was created with still starts it, data and identity intact.
    const again = await f.start('a1');
    expect(again.status().clusterId).toBe(clusterIdOf(f.layout));
    expect((await (await f.client('a1')).read('bar')).map((e) => e.data)).toEqual([1]);
  });
});

describe('routing on a server of a two-stripe cluster', () => {
  // 'bar' (slot 5061) is on alpha, 'foo' (slot 12182) on bravo.
  const onAlpha = 'bar';
  const onBravo = 'foo';

  it('answers the topology: both stripes, their servers, and the slot table', async () => {
    expect([slotOf(onAlpha) < 8192, slotOf(onBravo) >= 8192]).toEqual([true, true]);
    const f = await fixture();
    await f.start('a1');
    const topology = await (await f.client('a1')).topology();
    expect(topology.clusterId).toBe(clusterIdOf(f.layout));
    expect(topology.cluster).toBe('ledger');
    expect(topology.slotTableVersion).toBe(1);
    expect(topology.slots).toEqual([
      [0, 8191, 0],
      [8192, 16383, 1],
    ]);
    expect(topology.stripes.map((s) => s.name)).toEqual(['alpha', 'bravo']);
    expect(topology.stripes[0]!.active).toBe('a1');
    expect(topology.stripes[1]!.members).toEqual(f.layout.stripes[1]!.servers.map((s) => ({ name: s.name, urls: [...s.urls] })));
  });

  it('refuses transact, read and subscribe on a stream of the other stripe; a transaction over both goes to the lowest stripe, which commits it', async () => {
    const f = await fixture();
    const a1 = await f.start('a1');
    const b1 = await f.start('b1');
    const alpha = await f.client('a1');
    const bravo = await f.client('b1');

    // The servers' own refusals, over the raw wire: a routing client would never send these.
    const tcp = tcpTransport();
    const rawAlpha = await rawSession(tcp, a1.urls[0]!);
    const rawBravo = await rawSession(tcp, b1.urls[0]!);
    const blob = encode([['lost', 'Lost', 1]]);
    const refusal = async (attempt: Promise<unknown>): Promise<{ name: string; message: string; fields: Record<string, unknown> }> => {
      return attempt.then(() => expect.fail('the other stripe served it'), (e: { body?: unknown }) => e.body as { name: string; message: string; fields: Record<string, unknown> });
    };
    for (const error of [
      await refusal(rawAlpha.request('transact', ['raw', 1, [[onBravo, 'any', blob]]])),
      await refusal(rawAlpha.request('read', [onBravo, 0, 'forward', 10])),
      await refusal(rawAlpha.request('subscribe', [1, onBravo, 0])),
    ]) {
      expect(error).toMatchObject({ name: 'WrongStripeError', fields: { stream: onBravo, stripe: 'bravo' } });
      expect(error.message).toContain("stripe 'bravo'");
    }
    expect(await refusal(rawBravo.request('transact', ['raw', 1, [[onAlpha, 'any', blob]]]))).toMatchObject({ name: 'WrongStripeError', fields: { stream: onAlpha, stripe: 'alpha' } });
    // A transaction over both is alpha's to coordinate (the lowest stripe): bravo sends it there.
    expect(await refusal(rawBravo.request('transact', ['raw', 2, [[onAlpha, 'any', blob], [onBravo, 'any', blob]]]))).toMatchObject({ name: 'WrongStripeError', fields: { stripe: 'alpha' } });
    rawAlpha.connection.close('done');
    rawBravo.connection.close('done');
    expect(a1.status().lastLsn).toBe(0);
    expect(b1.status().lastLsn).toBe(0);
    expect(await alpha.read(onAlpha)).toEqual([]);
    expect(await bravo.read(onBravo)).toEqual([]);

    // A routing client sends each stream to its stripe, and a transaction over both to alpha, which commits it over both.
    await bravo.transact([
      { stream: onAlpha, events: [{ type: 'Moved', data: 2 }] },
      { stream: onBravo, events: [{ type: 'Moved', data: 2 }] },
    ]);
    expect((await alpha.read(onAlpha)).map((e) => e.type)).toEqual(['Moved']);
    expect((await alpha.read(onBravo)).map((e) => e.type)).toEqual(['Moved']);

    // Each stripe still serves its own streams, and a hash tag keeps an aggregate's streams together.
    await alpha.transact([
      { stream: 'account-{42}', events: [{ type: 'Opened', data: 1 }] },
      { stream: 'ledger-{42}', events: [{ type: 'Posted', data: 1 }] },
    ]);
    await bravo.append(onBravo, [{ type: 'Kept', data: 3 }]);
    expect(a1.status().lastLsn).toBe(2);
    expect((await bravo.read(onBravo)).map((e) => e.data)).toEqual([2, 3]);
  });
});
