// Listening on port 0 gives a real address, and dialing it gives one connection on each side.
import type { TestRunner } from '../runner.js';
import { harnessTest, type TransportFixture } from './support.js';

export function listenDialTests(runner: TestRunner, fixture: TransportFixture): void {
  const { describe, expect } = runner;
  describe('listen and dial', () => {
    harnessTest(runner, fixture, 'reports the bound address, with the real port after port 0', async (h) => {
      const { listener } = await h.listen();
      const asked = new URL(h.setup.listenUrl);
      const bound = new URL(listener.url);
      expect(bound.protocol).toBe(asked.protocol);
      if (asked.port === '0') {
        expect(bound.port).not.toBe('0');
        expect(bound.port).not.toBe('');
      }
      expect(listener.connectionCount).toBe(0);
    });

    harnessTest(runner, fixture, 'dials the bound address and both sides see an open connection', async (h) => {
      const { listener, client, server } = await h.pair();
      expect(listener.connectionCount).toBe(1);
      for (const connection of [client, server]) {
        expect(typeof connection.remoteAddress).toBe('string');
        expect(connection.writable).toBe(true);
        expect(connection.queuedBytes).toBe(0);
      }
      await h.exchange(client, server);
      await h.exchange(server, client);
    });

    harnessTest(runner, fixture, 'holds several connections apart', async (h) => {
      const { listener, accepted } = await h.listen();
      const clients = [await h.dial(listener.url), await h.dial(listener.url), await h.dial(listener.url)];
      const servers = [await accepted.next(), await accepted.next(), await accepted.next()];
      expect(listener.connectionCount).toBe(3);
      // Each client tags its frame; each server connection must get exactly one tag, all distinct.
      clients.forEach((client, i) => client.send(new Uint8Array([i])));
      const tags = await Promise.all(servers.map(async (server) => (await h.read(server))?.[0]));
      expect([...tags].sort()).toEqual([0, 1, 2]);
    });
  });
}
