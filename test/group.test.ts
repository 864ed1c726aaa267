// A mirror group in one process: replication to every in-sync mirror, an election at start, and
// a failover when the active goes away, with a client that carries on.
import { afterEach, describe, expect, it } from 'vitest';
import { encode } from '@msgpack/msgpack';
import { defaultConnectionLimits, inProcessTransport, type GroupMemberConfig, type KilnServer, type ServerOptions, type Transport } from '@kiln/core';
import { connect, type KilnClient } from '@kiln/core/client';
import { activeOf, memoryMember, startInProcessMember, TEST_TIMING } from './support/cluster.js';
import { rawSession } from './support/wire.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

function membersOf(names: string[], voters: string[] = [], weights: Record<string, number> = {}): GroupMemberConfig[] {
  return [...names.map((name) => memoryMember(name, 'server', weights[name] ?? 1)), ...voters.map((name) => memoryMember(name, 'voter'))];
}

async function startMember(transport: Transport, members: GroupMemberConfig[], name: string, limits?: ServerOptions['limits']): Promise<KilnServer> {
  const server = await startInProcessMember(transport, members, name, limits ? { limits } : {});
  cleanups.push(() => server.close());
  return server;
}

async function startGroup(transport: Transport, names: string[], voters: string[] = []): Promise<Map<string, KilnServer>> {
  const members = membersOf(names, voters);
  const servers = new Map<string, KilnServer>();
  await Promise.all([...names, ...voters].map(async (name) => servers.set(name, await startMember(transport, members, name))));
  return servers;
}

describe('a mirror group in one process', () => {
  it('elects one active, replicates to every mirror, and fails over when the active goes', async () => {
    const transport = inProcessTransport();
    const servers = await startGroup(transport, ['a', 'b', 'c']);
    const first = await activeOf(servers);
    const client: KilnClient = await connect(['memory://a', 'memory://b', 'memory://c'], { transports: [transport], reconnectWindowMs: 10_000 });
    cleanups.push(() => client.close());
    for (let i = 0; i < 20; i++) await client.append('orders', [{ type: 'E', data: i }], { expectedVersion: i === 0 ? 'no-stream' : i - 1 });
    // Every mirror holds what was acknowledged.
    for (const server of servers.values()) expect(server.status().lastLsn).toBeGreaterThanOrEqual(20);

    await servers.get(first)!.close();
    servers.delete(first);
    const second = await activeOf(servers);
    expect(second).not.toBe(first);
    const result = await client.append('orders', [{ type: 'E', data: 20 }], { expectedVersion: 19 });
    expect(result.firstVersion).toBe(20);
    const events = await client.read('orders');
    expect(events.map((e) => e.data)).toEqual(Array.from({ length: 21 }, (_, i) => i));
  });

  it('fails over a two-server group with a voter', async () => {
    const transport = inProcessTransport();
    const servers = await startGroup(transport, ['x', 'y'], ['v']);
    servers.delete('v');
    const first = await activeOf(servers);
    const client = await connect(['memory://x', 'memory://y'], { transports: [transport] });
    cleanups.push(() => client.close());
    await client.append('s', [{ type: 'E', data: 1 }]);
    await servers.get(first)!.close();
    servers.delete(first);
    await activeOf(servers);
    await client.append('s', [{ type: 'E', data: 2 }]);
    expect((await client.read('s')).map((e) => e.data)).toEqual([1, 2]);
  });
});

describe('a transaction of nearly a frame, in a mirror group', () => {
  // One that fit the client's frame but left its record no room beside the append message's other
  // fields was written and never shipped: the active waited for its mirrors for ever, and nothing
  // after it committed either.
  it("is refused with InvalidArgumentError when its record would not fit an append frame, and the group goes on", async () => {
    const frameBytesMax = defaultConnectionLimits.frameBytesMax;
    /** A transaction whose request frame takes `frameBytesMax - under` bytes. */
    const sized = (seq: number, under: number): unknown[] => {
      const args = (n: number): unknown[] => ['near', seq, [[`s-${seq}`, 'any', encode([[`e-${seq}`, 'E', 'x'.repeat(n)]])]]];
      const n = frameBytesMax - under - 1_000;
      return args(n + frameBytesMax - under - encode([1, 1, 'transact', args(n)]).length);
    };
    // Built before the group starts: encoding 4 MiB twice holds the one event loop the whole group
    // shares for about 100 ms a request, and the leases are the slower timing's for the same reason.
    const overFrame = sized(1, 0);
    const underFrame = sized(2, 2_000);
    const transport = inProcessTransport();
    const members = membersOf(['a', 'b', 'c']);
    const servers = new Map<string, KilnServer>();
    for (const name of ['a', 'b', 'c']) {
      const server = await startInProcessMember(transport, members, name, { timing: TEST_TIMING });
      cleanups.push(() => server.close());
      servers.set(name, server);
    }
    const active = await activeOf(servers);
    const raw = await rawSession(transport, `memory://${active}`);
    cleanups.push(async () => raw.connection.close('test done'));
    const answer = (args: unknown[]): Promise<unknown> =>
      Promise.race([
        raw.request('transact', args).then((result) => result, (error: { body?: { name?: string } }) => error.body?.name),
        new Promise((resolve) => setTimeout(() => resolve('no answer within 5 s'), 5_000)),
      ]);
    expect(await answer(overFrame)).toBe('InvalidArgumentError');
    expect(await answer(underFrame)).toEqual([1, [['s-2', 0, 1]]]);
    const client = await connect(['memory://a', 'memory://b', 'memory://c'], { transports: [transport] });
    cleanups.push(() => client.close());
    expect(await client.append('after', [{ type: 'E', data: 1 }])).toMatchObject({ firstVersion: 0 });
    for (const server of servers.values()) await expect.poll(() => server.status().lastLsn).toBe(2);
  });
});

describe('in-sync membership', () => {
  it('never lets a mirror that fell behind and left the in-sync set win an election', async () => {
    const transport = inProcessTransport();
    // b would win every tie on weight, if it were allowed to stand.
    const members = membersOf(['a', 'b', 'c'], [], { b: 10 });
    const servers = new Map<string, KilnServer>();
    for (const name of ['a', 'b', 'c']) servers.set(name, await startMember(transport, members, name));
    const first = await activeOf(servers);
    const client = await connect(['memory://a', 'memory://b', 'memory://c'], { transports: [transport] });
    cleanups.push(() => client.close());
    const lagging = first === 'b' ? 'c' : 'b';
    await servers.get(lagging)!.close();
    servers.delete(lagging);
    for (let i = 0; i < 50; i++) await client.append('kept', [{ type: 'E', data: i }]);
    await expect.poll(() => servers.get(first)!.status().group?.inSync, { timeout: 5000 }).not.toContain(lagging);
    // The active goes too; the lagging mirror comes back empty, out of the in-sync set.
    await servers.get(first)!.close();
    servers.delete(first);
    servers.set(lagging, await startMember(transport, members, lagging));
    const winner = await activeOf(servers);
    expect(winner).not.toBe(lagging);
    expect(await client.read('kept', { maxCount: 100 })).toHaveLength(50);
  });

  it('catches up a mirror that joins under load and takes it into the in-sync set, without stalling clients', async () => {
    const transport = inProcessTransport();
    const members = membersOf(['a', 'b', 'c']);
    const servers = new Map<string, KilnServer>();
    for (const name of ['a', 'b']) servers.set(name, await startMember(transport, members, name));
    const active = await activeOf(servers);
    const client = await connect(['memory://a', 'memory://b'], { transports: [transport] });
    cleanups.push(() => client.close());
    for (let i = 0; i < 2000; i += 100) await Promise.all(Array.from({ length: 100 }, (_, j) => client.append(`s-${(i + j) % 20}`, [{ type: 'E', data: i + j }])));
    let running = true;
    let slowestMs = 0;
    const load = (async () => {
      while (running) {
        const started = performance.now();
        await client.append('live', [{ type: 'E', data: 0 }]);
        slowestMs = Math.max(slowestMs, performance.now() - started);
      }
    })();
    servers.set('c', await startMember(transport, members, 'c'));
    await expect.poll(() => servers.get(active)!.status().group?.inSync, { timeout: 15_000, interval: 20 }).toContain('c');
    running = false;
    await load;
    const mirror = servers.get(active)!.status().group!.mirrors.find((m) => m.name === 'c')!;
    expect(mirror.ackedLsn).toBeGreaterThanOrEqual(2000);
    // Bounded: no append waited anywhere near the reconnect window while the mirror caught up.
    expect(slowestMs).toBeLessThan(5000);
  });

  it('ships a catching-up mirror appends no larger than the group commit its store accepts', async () => {
    // Small group commits: pipelined appends queue up on the mirror, in memory and from the store.
    const limits = { groupCommitRecordsMax: 8, readCountMax: 8 };
    const transport = inProcessTransport();
    const members = membersOf(['a', 'b', 'c']);
    const servers = new Map<string, KilnServer>();
    for (const name of ['a', 'b']) servers.set(name, await startMember(transport, members, name, limits));
    const active = await activeOf(servers);
    const client = await connect(['memory://a', 'memory://b'], { transports: [transport] });
    cleanups.push(() => client.close());
    for (let i = 0; i < 600; i += 200) await Promise.all(Array.from({ length: 200 }, (_, j) => client.append(`s-${(i + j) % 20}`, [{ type: 'E', data: i + j }])));
    servers.set('c', await startMember(transport, members, 'c', limits));
    await Promise.all(Array.from({ length: 200 }, (_, j) => client.append(`t-${j % 20}`, [{ type: 'E', data: j }])));
    await expect.poll(() => servers.get(active)!.status().group?.inSync, { timeout: 15_000, interval: 20 }).toContain('c');
    expect(servers.get('c')!.status().lastLsn).toBeGreaterThanOrEqual(800);
  });
});
