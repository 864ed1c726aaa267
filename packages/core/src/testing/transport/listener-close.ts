// Closing a listener closes every connection it accepted, and its address can be listened on
// again at once.
import type { TestRunner } from '../runner.js';
import { harnessTest, type TransportFixture } from './support.js';

export function listenerCloseTests(runner: TestRunner, fixture: TransportFixture): void {
  const { describe, expect } = runner;
  describe('listener close', () => {
    harnessTest(runner, fixture, 'closes every connection, and the same address can be listened on again', async (h) => {
      const { listener, accepted } = await h.listen();
      const clients = [await h.dial(listener.url), await h.dial(listener.url), await h.dial(listener.url)];
      const servers = [await accepted.next(), await accepted.next(), await accepted.next()];
      await listener.close();
      expect(listener.connectionCount).toBe(0);
      for (const server of servers) expect((await h.closed(server, 'an accepted connection closes')).local).toBe(true);
      for (const client of clients) {
        expect((await h.closed(client, 'a dialed connection learns of the close')).local).toBe(false);
        await h.readEnd(client);
      }
      await listener.close(); // idempotent

      const again = await h.listen({}, listener.url);
      expect(again.listener.url).toBe(listener.url);
      const client = await h.dial(again.listener.url);
      await h.exchange(client, await again.accepted.next());
    });
  });
}
