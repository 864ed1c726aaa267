// During an outage with no active, a client's status$ does not flood: each attempt to find the
// active is one numbered `reconnecting`, spaced out with backoff and jitter (it was a
// disconnected/reconnecting/reconnected burst every 150 ms: 483 events in 25 s).
import { afterEach, describe, expect, it } from 'vitest';
import { inProcessTransport, type KilnServer } from '@kiln/core';
import { connect, ConnectionClosedError, type ClientStatus } from '@kiln/core/client';
import { activeOf, memoryMember, pollUntil, startInProcessMember } from './support/cluster.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

describe('status$ while no server is the active', () => {
  it('emits one reconnecting per attempt, backing off, then reconnected once an active answers', async () => {
    const transport = inProcessTransport();
    const members = [memoryMember('x'), memoryMember('y'), memoryMember('v', 'voter')];
    const servers = new Map<string, KilnServer>();
    for (const name of ['x', 'y', 'v']) {
      const server = await startInProcessMember(transport, members, name);
      servers.set(name, server);
      cleanups.push(() => server.close());
    }
    const first = await activeOf(new Map([...servers].filter(([name]) => name !== 'v')));
    const other = first === 'x' ? 'y' : 'x';
    const client = await connect(['memory://x', 'memory://y'], { transports: [transport], reconnectWindowMs: 30_000, requestTimeoutMs: 30_000 });
    cleanups.push(() => client.close());
    await client.append('s', [{ type: 'E', data: 1 }]);

    // The active and the voter stop: the server left cannot win an election alone.
    const statuses: ClientStatus[] = [];
    const subscription = client.status$.subscribe((status) => statuses.push(status));
    cleanups.push(async () => subscription.unsubscribe());
    await servers.get(first)!.close();
    await servers.get('v')!.close();
    const pending = client.append('s', [{ type: 'E', data: 2 }]);
    pending.catch(() => {}); // awaited below; a failed assertion before must not leave it unhandled
    const startedAt = Date.now();
    await pollUntil('four seconds of outage', () => Date.now() - startedAt >= 4000, 6000, 100);
    const during = statuses.splice(0);

    // Before: about 80 events in 4 s. Now a handful, nearly all `reconnecting`, numbered 1, 2, 3...
    expect(during.length).toBeLessThan(20);
    const reconnecting = during.filter((s) => s.type === 'reconnecting');
    expect(reconnecting.map((s) => (s.type === 'reconnecting' ? s.attempt : 0))).toEqual(reconnecting.map((_, i) => i + 1));
    expect(reconnecting.length).toBeGreaterThanOrEqual(3);
    expect(during.filter((s) => s.type === 'reconnected').length).toBeLessThanOrEqual(1);
    expect(during.filter((s) => s.type === 'disconnected').length).toBeLessThanOrEqual(1);

    // The voter comes back: an active is elected, the append goes through, and one `reconnected` says so.
    const voter = await startInProcessMember(transport, members, 'v');
    cleanups.push(() => voter.close());
    await expect(pending).resolves.toMatchObject({ firstVersion: 1 });
    await pollUntil('reconnected', () => statuses.some((s) => s.type === 'reconnected'), 10_000);
    expect(statuses.filter((s) => s.type === 'reconnected')).toEqual([expect.objectContaining({ type: 'reconnected', server: other })]);
  }, 30_000);

  it('keeps trying for the whole reconnectWindowMs before it fails a request', async () => {
    // It gave up when the next backoff pause would pass the deadline: up to 1.5 s early.
    const transport = inProcessTransport();
    const members = [memoryMember('solo')];
    const server = await startInProcessMember(transport, members, 'solo');
    cleanups.push(() => server.close());
    await activeOf(new Map([['solo', server]]));
    const windowMs = 3000;
    const client = await connect(['memory://solo'], { transports: [transport], reconnectWindowMs: windowMs, requestTimeoutMs: 30_000 });
    cleanups.push(() => client.close());
    await client.append('s', [{ type: 'E', data: 1 }]);
    const lostAt = Date.now();
    await server.close();
    const failure = await client.append('s', [{ type: 'E', data: 2 }]).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(ConnectionClosedError);
    expect(Date.now() - lostAt).toBeGreaterThanOrEqual(windowMs);
  }, 20_000);
});
