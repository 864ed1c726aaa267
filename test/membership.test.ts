// Adding and removing mirrors at runtime: the active keeps serving while a new view is recorded,
// a mirror added under load catches up and joins the in-sync set, a removed one takes no part,
// and the group fails over with its new membership.
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, InvalidArgumentError, inProcessTransport, TimeoutError, type GroupMemberConfig, type KilnServer, type Transport } from '@kiln/core';
import { connect } from '@kiln/core/client';
import { memoryStore } from '@kiln/store-memory';
import { activeOf, memoryMember, startInProcessMember } from './support/cluster.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

const server = (name: string, weight = 1): GroupMemberConfig => memoryMember(name, 'server', weight);
const voter = (name: string): GroupMemberConfig => memoryMember(name, 'voter');

async function start(transport: Transport, members: GroupMemberConfig[], name: string, joining = false): Promise<KilnServer> {
  const started = await startInProcessMember(transport, members, name, { joining });
  cleanups.push(() => started.close());
  return started;
}

/** A group of servers a and b and voter v, in process; `servers` holds the two servers, by name. */
async function twoServersAndVoter(): Promise<{ transport: Transport; servers: Map<string, KilnServer>; active: string; mirror: string }> {
  const transport = inProcessTransport();
  const members = [server('a'), server('b'), voter('v')];
  const servers = new Map<string, KilnServer>();
  for (const m of members) servers.set(m.name, await start(transport, members, m.name));
  servers.delete('v');
  const active = await activeOf(servers);
  return { transport, servers, active, mirror: active === 'a' ? 'b' : 'a' };
}

/** Appends one event at a time to `stream` until stopped; returns how many were acknowledged. */
function keepAppending(client: Awaited<ReturnType<typeof connect>>, stream: string): { stop: () => Promise<number> } {
  let running = true;
  let acked = 0;
  const loop = (async () => {
    while (running) {
      await client.append(stream, [{ type: 'E', data: acked }], { expectedVersion: acked === 0 ? 'no-stream' : acked - 1 });
      acked++;
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return acked;
    },
  };
}

describe('runtime membership', () => {
  it('adds a mirror under load, which catches up and joins the in-sync set, then removes one, then fails over', async () => {
    const transport = inProcessTransport();
    const initial = [server('a'), server('b'), server('c')];
    const servers = new Map<string, KilnServer>();
    for (const m of initial) servers.set(m.name, await start(transport, initial, m.name));
    const first = await activeOf(servers);
    const client = await connect(['memory://a', 'memory://b', 'memory://c'], { transports: [transport], reconnectWindowMs: 10_000 });
    cleanups.push(() => client.close());
    for (let i = 0; i < 300; i++) await client.append('before', [{ type: 'E', data: i }]);
    const load = keepAppending(client, 'during');

    // The new server starts knowing the group and itself, outside the in-sync set.
    const withD = [...initial, server('d')];
    servers.set('d', await start(transport, withD, 'd', true));
    expect(servers.get('d')!.status().state).toBe('PASSIVE-UNINITIALIZED');
    const view = await client.addMirror({ name: 'd', peer: 'memory://d-peer', clientUrls: ['memory://d'], weight: 1 });
    expect(view.members.map((m) => m.name)).toEqual(['a', 'b', 'c', 'd']);
    expect(view.inSync).not.toContain('d');
    await expect.poll(() => servers.get(first)!.status().group?.inSync, { timeout: 15_000, interval: 20 }).toContain('d');
    expect(servers.get('d')!.status().state).toBe('PASSIVE-STANDBY');
    // Asking again for the same mirror changes nothing.
    expect((await client.addMirror({ name: 'd', peer: 'memory://d-peer', clientUrls: ['memory://d'], weight: 1 })).version).toBe(
      servers.get(first)!.status().group!.viewVersion,
    );

    const leaving = first === 'b' ? 'c' : 'b';
    const afterRemoval = await client.removeMirror(leaving);
    expect(afterRemoval.members.map((m) => m.name)).not.toContain(leaving);
    expect(afterRemoval.inSync).not.toContain(leaving);
    await expect.poll(() => servers.get(leaving)!.status().group?.removed, { timeout: 5000, interval: 20 }).toBe(true);
    expect(servers.get(first)!.status().group!.mirrors.map((m) => m.name)).not.toContain(leaving);
    const acked = await load.stop();
    expect(acked).toBeGreaterThan(0);

    // Every remaining member holds what was acknowledged, and a failover uses the new membership.
    await servers.get(first)!.close();
    servers.delete(first);
    const removed = servers.get(leaving)!;
    servers.delete(leaving);
    const second = await activeOf(servers);
    expect([...servers.keys()]).toContain(second);
    expect(removed.status().state).not.toBe('ACTIVE-COORDINATOR');
    await client.append('after', [{ type: 'E', data: 'x' }]);
    expect(await client.read('before', { maxCount: 1000 })).toHaveLength(300);
    const during: unknown[] = [];
    for (let page = await client.read('during', { maxCount: 4096 }); page.length > 0; page = await client.read('during', { fromVersion: during.length, maxCount: 4096 })) {
      during.push(...page.map((e) => e.data));
    }
    expect(during).toEqual(Array.from({ length: acked }, (_, i) => i));
  });

  it('refuses changes that would break the group, with typed errors, and changes nothing', async () => {
    const { transport, servers, active, mirror } = await twoServersAndVoter();
    // Through a mirror's URL: the request follows the active.
    const client = await connect([`memory://${mirror}`], { transports: [transport], reconnectWindowMs: 5000 });
    cleanups.push(() => client.close());
    const version = servers.get(active)!.status().group!.viewVersion;

    await expect(client.addMirror({ name: mirror, peer: 'memory://z-peer', clientUrls: ['memory://z'], weight: 1 })).rejects.toThrow(InvalidArgumentError);
    await expect(client.addMirror({ name: 'z', peer: `memory://${mirror}-peer`, clientUrls: ['memory://z'], weight: 1 })).rejects.toThrow(/peer address/);
    await expect(client.removeMirror(active)).rejects.toThrow(/is the active/);
    await expect(client.removeMirror('nobody')).rejects.toThrow(/no mirror/);
    await expect(client.removeMirror('v')).rejects.toThrow(/no mirror/);
    await expect(client.addMirror({ name: '', peer: 'memory://y-peer', clientUrls: ['memory://y'], weight: 1 })).rejects.toThrow(InvalidArgumentError);
    expect(servers.get(active)!.status().group!.viewVersion).toBe(version);
    expect(servers.get(active)!.status().group!.members.map((m) => m.name)).toEqual(['a', 'b', 'v']);
    await client.append('still', [{ type: 'E', data: 1 }]);
  });

  it('gives up adding a mirror that does not answer while another member is down, and the group goes on committing (it held the in-sync set, and every commit, for good)', async () => {
    const { transport, servers, active, mirror } = await twoServersAndVoter();
    const client = await connect([`memory://${active}`], { transports: [transport], reconnectWindowMs: 5000, requestTimeoutMs: 5000 });
    cleanups.push(() => client.close());
    await client.append('before', [{ type: 'E', data: 1 }]);
    await servers.get(mirror)!.close();

    // 'z' never runs: a majority of a, b, v and z (three) cannot record the view while b is down.
    const refusal = await client.addMirror({ name: 'z', peer: 'memory://z-peer', clientUrls: ['memory://z'], weight: 1 }).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(TimeoutError);
    expect((refusal as TimeoutError).message).toMatch(/membership change .*not recorded by .*z\)/);
    await client.append('after', [{ type: 'E', data: 2 }]);
    const group = servers.get(active)!.status().group!;
    expect(group.members.map((m) => m.name)).toEqual(['a', 'b', 'v']);
    expect(group.inSync).toEqual([active]);
    await expect(client.removeMirror('z')).rejects.toThrow(/no mirror/);
  });

  it('refuses to leave a two-server group without a voter, and refuses on a lone server', async () => {
    const transport = inProcessTransport();
    const members = [server('a'), server('b'), server('c')];
    const servers = new Map<string, KilnServer>();
    for (const m of members) servers.set(m.name, await start(transport, members, m.name));
    const active = await activeOf(servers);
    const [one] = ['a', 'b', 'c'].filter((n) => n !== active);
    await expect(servers.get(active)!.removeMirror(one!)).rejects.toThrow(/needs a voter/);

    const lone = await createServer({ store: memoryStore(), transports: [transport], listen: ['memory://lone'] });
    cleanups.push(() => lone.close());
    await expect(lone.removeMirror('x')).rejects.toThrow(InvalidArgumentError);
  });
});
