// A mirror group in one process: replication to every in-sync mirror, an election at start, and
// a failover when the active goes away, with a client that carries on.
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, inProcessTransport, type GroupMemberConfig, type KilnServer, type Transport } from '@kiln/core';
import { connect, type KilnClient } from '@kiln/core/client';
import { memoryStore } from '@kiln/store-memory';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

const timing = { electionTimeMs: 400, mirrorTimeoutMs: 300, leaseMs: 350 };

async function startGroup(transport: Transport, names: string[], voters: string[] = []): Promise<Map<string, KilnServer>> {
  const members: GroupMemberConfig[] = [
    ...names.map((name) => ({ name, kind: 'server' as const, peer: `memory://${name}-peer`, clientUrls: [`memory://${name}`], weight: 1 })),
    ...voters.map((name) => ({ name, kind: 'voter' as const, peer: `memory://${name}-peer`, clientUrls: [], weight: 1 })),
  ];
  const servers = new Map<string, KilnServer>();
  await Promise.all(
    [...names, ...voters].map(async (name) => {
      const server = await createServer({
        name,
        store: memoryStore(),
        transports: [transport],
        listen: names.includes(name) ? [`memory://${name}`] : [],
        group: { self: name, members, ...timing },
      });
      servers.set(name, server);
      cleanups.push(() => server.close());
    }),
  );
  return servers;
}

async function activeOf(servers: Map<string, KilnServer>): Promise<string> {
  let active: string | undefined;
  await expect
    .poll(
      () => {
        const actives = [...servers.entries()].filter(([, s]) => s.status().state === 'ACTIVE-COORDINATOR');
        active = actives.length === 1 ? actives[0]![0] : undefined;
        return active;
      },
      { timeout: 10_000, interval: 20 },
    )
    .toBeDefined();
  return active!;
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
