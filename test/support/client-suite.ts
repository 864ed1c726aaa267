// The client's behaviour over one transport: one suite, run over every transport Kiln ships.
import { afterEach, describe, expect, it } from 'vitest';
import { firstValueFrom, take, toArray } from 'rxjs';
import { createServer, type KilnServer, type Store, type Transport } from '@kiln/core';
import { connect, InvalidArgumentError, WrongExpectedVersionError, type KilnClient } from '@kiln/core/client';
import { memoryStore } from '@kiln/store-memory';

/** How the suite reaches a server over one transport. */
export interface ClientSuiteTarget {
  name: string;
  transport: () => Transport;
  listenUrl: string;
  store?: () => Promise<Store> | Store;
}

export function clientSuite(target: ClientSuiteTarget): void {
  describe(`client over ${target.name}`, () => {
    let server: KilnServer | undefined;
    const clients: KilnClient[] = [];

    async function start(): Promise<{ server: KilnServer; client: KilnClient }> {
      server = await createServer({ store: await (target.store?.() ?? memoryStore()), transports: [target.transport()], listen: [target.listenUrl] });
      return { server, client: await open(server) };
    }

    async function open(s: KilnServer): Promise<KilnClient> {
      const client = await connect(s.urls, { transports: [target.transport()] });
      clients.push(client);
      return client;
    }

    afterEach(async () => {
      await Promise.all(clients.splice(0).map((c) => c.close()));
      await server?.close();
      server = undefined;
    });

    it('appends and reads back events with their versions', async () => {
      const { client } = await start();
      const first = await client.append('s-1', [{ type: 'A', data: { n: 1 } }, { type: 'B', data: [1, 2] }], { expectedVersion: 'no-stream' });
      expect(first).toMatchObject({ firstVersion: 0, lastVersion: 1 });
      await client.append('s-1', [{ type: 'C', data: null, metadata: { by: 'test' } }], { expectedVersion: 1 });
      const events = await client.read('s-1');
      expect(events.map((e) => [e.version, e.type])).toEqual([
        [0, 'A'],
        [1, 'B'],
        [2, 'C'],
      ]);
      expect(events[0]!.data).toEqual({ n: 1 });
      expect(events[2]!.metadata).toEqual({ by: 'test' });
      expect(await client.read('s-1', { direction: 'backward', maxCount: 2 })).toMatchObject([{ version: 2 }, { version: 1 }]);
      expect(await client.read('s-1', { fromVersion: 1, maxCount: 1 })).toMatchObject([{ version: 1, type: 'B' }]);
      expect(await client.read('no-such-stream')).toEqual([]);
    });

    it('rejects a wrong expected version with the stream, expected and actual versions', async () => {
      const { client } = await start();
      await client.append('s-2', [{ type: 'A', data: 1 }]);
      const error = await client.append('s-2', [{ type: 'A', data: 2 }], { expectedVersion: 'no-stream' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WrongExpectedVersionError);
      expect(error).toMatchObject({ stream: 's-2', expected: 'no-stream', actual: 0 });
      await expect(client.append('s-3', [{ type: 'A', data: 1 }], { expectedVersion: 'exists' })).rejects.toMatchObject({ actual: -1 });
      await expect(client.append('s-2', [{ type: 'A', data: 1 }], { expectedVersion: 5 })).rejects.toBeInstanceOf(WrongExpectedVersionError);
      expect(await client.read('s-2')).toHaveLength(1);
    });

    it('applies pipelined appends to cold streams in the order they were sent', async () => {
      const { client } = await start();
      const appends = [];
      for (let i = 0; i < 40; i++) {
        const stream = `pipe-${i % 4}`;
        const version = Math.floor(i / 4);
        appends.push(client.append(stream, [{ type: 'E', data: i }], { expectedVersion: version === 0 ? 'no-stream' : version - 1 }));
      }
      const results = await Promise.all(appends);
      expect(results.map((r) => r.firstVersion)).toEqual(Array.from({ length: 40 }, (_, i) => Math.floor(i / 4)));
    });

    it('commits a multi-stream transaction whole, or not at all when one check fails', async () => {
      const { client } = await start();
      await client.append('guard', [{ type: 'G', data: 0 }]);
      const result = await client.transact([
        { stream: 'a', events: [{ type: 'X', data: 1 }], expectedVersion: 'no-stream' },
        { stream: 'b', events: [{ type: 'Y', data: 2 }, { type: 'Y', data: 3 }] },
        { stream: 'guard', expectedVersion: 0 },
      ]);
      expect(result.streams).toEqual([
        { stream: 'a', firstVersion: 0, eventCount: 1 },
        { stream: 'b', firstVersion: 0, eventCount: 2 },
      ]);
      await expect(
        client.transact([
          { stream: 'a', events: [{ type: 'X', data: 4 }] },
          { stream: 'guard', expectedVersion: 7 },
        ]),
      ).rejects.toMatchObject({ name: 'WrongExpectedVersionError', stream: 'guard', actual: 0 });
      expect(await client.read('a')).toHaveLength(1);
      const all = await client.readAll();
      expect(all.map((e) => e.stream)).toEqual(['guard', 'a', 'b', 'b']);
      expect(new Set(all.slice(1).map((e) => e.lsn)).size).toBe(1);
      expect((await client.readAll({ direction: 'backward', maxCount: 1 })).map((e) => e.stream)).toEqual(['a', 'b', 'b']);
    });

    it('answers bad arguments with a typed error and keeps the connection', async () => {
      const { client } = await start();
      await expect(client.append('', [{ type: 'A', data: 1 }])).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(client.append('$system', [{ type: 'A', data: 1 }])).rejects.toMatchObject({ field: 'stream' });
      await expect(client.transact([{ stream: 'x', expectedVersion: 'any' }])).rejects.toMatchObject({ field: 'appends' });
      await expect(client.read('x', { maxCount: 0 })).rejects.toMatchObject({ field: 'maxCount' });
      expect(await client.append('x', [{ type: 'A', data: 1 }])).toMatchObject({ firstVersion: 0 });
    });

    it('delivers a subscription from the start, then live, with no gap or duplicate', async () => {
      const { server, client } = await start();
      for (let i = 0; i < 5; i++) await client.append('sub', [{ type: 'E', data: i }]);
      const received = firstValueFrom(client.subscribe('sub', { fromVersion: 2 }).pipe(take(8), toArray()));
      const writer = await open(server);
      for (let i = 5; i < 10; i++) await writer.append('sub', [{ type: 'E', data: i }]);
      await writer.append('other', [{ type: 'E', data: -1 }]);
      expect((await received).map((e) => e.data)).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
      const all = firstValueFrom(client.subscribeAll({ fromLsn: 11 }).pipe(take(2), toArray()));
      await writer.append('late', [{ type: 'E', data: 'late' }]);
      expect((await all).map((e) => e.stream)).toEqual(['other', 'late']);
    });

    it('reports the server status', async () => {
      const { client } = await start();
      await client.append('st', [{ type: 'A', data: 1 }]);
      expect(await client.serverStatus()).toMatchObject({ state: 'ACTIVE-COORDINATOR', lastLsn: 1, commitIndex: 1, connections: 1 });
    });
  });
}
