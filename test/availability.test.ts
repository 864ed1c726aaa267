// failoverPriority 'availability': a partition splits a two-server group without a voter; each
// side takes over alone and acknowledges writes; when the partition heals the higher term wins,
// and the losing side's transactions are kept in its diverged report, never dropped silently.
import { afterEach, describe, expect, it } from 'vitest';
import { inProcessTransport, type GroupMemberConfig, type KilnServer } from '@kiln/core';
import { connect, type DivergedTransaction, type KilnClient } from '@kiln/core/client';
import { memoryMember, startInProcessMember } from './support/cluster.js';
import { Partitions } from './support/partition.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

const members: GroupMemberConfig[] = ['a', 'b'].map((name) => memoryMember(name));

describe("failoverPriority 'availability'", () => {
  it('lets both sides of a partition serve, then keeps the losing side’s transactions in its diverged report', async () => {
    const transport = inProcessTransport();
    const partitions = new Partitions(transport, (url) => url.replace('memory://', '').replace('-peer', ''));
    const servers = new Map<string, KilnServer>();
    for (const { name } of members) {
      const server = await startInProcessMember(partitions.transportFor(name), members, name, { failoverPriority: 'availability' });
      cleanups.push(() => server.close());
      servers.set(name, server);
    }
    const stateOf = (name: string): string => servers.get(name)!.status().state;
    await expect.poll(() => ['a', 'b'].filter((n) => stateOf(n) === 'ACTIVE-COORDINATOR').length, { timeout: 10_000, interval: 20 }).toBe(1);
    const first = stateOf('a') === 'ACTIVE-COORDINATOR' ? 'a' : 'b';
    const other = first === 'a' ? 'b' : 'a';
    const clientOf = async (name: string): Promise<KilnClient> => {
      const client = await connect([`memory://${name}`], { transports: [transport], reconnectWindowMs: 2000 });
      cleanups.push(() => client.close());
      return client;
    };
    const onFirst = await clientOf(first);
    for (let i = 0; i < 5; i++) await onFirst.append('before', [{ type: 'E', data: i }]);
    await expect.poll(() => servers.get(other)!.status().lastLsn, { timeout: 5000, interval: 20 }).toBe(5);

    partitions.cut('a', 'b');
    // The cut-off mirror takes over alone after its window; the old active carries on alone.
    await expect.poll(() => stateOf(other), { timeout: 10_000, interval: 20 }).toBe('ACTIVE-COORDINATOR');
    expect(stateOf(first)).toBe('ACTIVE-COORDINATOR');
    const xAcked: number[] = [];
    for (let i = 0; i < 3; i++) xAcked.push((await onFirst.append('x-side', [{ type: 'X', data: i }])).lsn);
    const onOther = await clientOf(other);
    for (let i = 0; i < 4; i++) await onOther.append('y-side', [{ type: 'Y', data: i }]);

    const splitTerms = { first: servers.get(first)!.status().term, other: servers.get(other)!.status().term };
    expect(splitTerms.other).toBeGreaterThan(splitTerms.first);
    partitions.heal('a', 'b');
    // The higher term wins: the first active steps down and follows, keeping what it gives up.
    await expect.poll(() => stateOf(first), { timeout: 10_000, interval: 20 }).not.toBe('ACTIVE-COORDINATOR');
    expect(servers.get(first)!.status().term).toBe(splitTerms.other);
    await expect.poll(() => servers.get(first)!.status().group?.diverged.records, { timeout: 10_000, interval: 20 }).toBe(3);
    await expect.poll(() => servers.get(first)!.status().lastLsn, { timeout: 10_000, interval: 20 }).toBe(servers.get(other)!.status().lastLsn);

    const report: DivergedTransaction[] = [];
    const reader = await clientOf(first);
    for await (const transaction of reader.diverged()) report.push(transaction);
    expect(report.map((t) => t.lsn)).toEqual(xAcked);
    expect(report.flatMap((t) => t.events.map((e) => [e.stream, e.type, e.data]))).toEqual([
      ['x-side', 'X', 0],
      ['x-side', 'X', 1],
      ['x-side', 'X', 2],
    ]);
    expect(report.every((t) => t.replacedInTerm === servers.get(other)!.status().term)).toBe(true);

    // The group's log is the winner's: everything from before, and the winning side's writes.
    const after = await clientOf(other);
    expect((await after.read('before')).map((e) => e.data)).toEqual([0, 1, 2, 3, 4]);
    expect((await after.read('y-side')).map((e) => e.data)).toEqual([0, 1, 2, 3]);
    expect(await after.read('x-side')).toEqual([]);
    expect(servers.get(other)!.status().group?.diverged.records).toBe(0);
  });
});
