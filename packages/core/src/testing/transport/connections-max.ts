// connectionsMax: the next connection is refused while the older ones live, and they go on
// working; once one closes there is room again.
import type { TestRunner } from '../runner.js';
import { harnessTest, within, type TransportFixture } from './support.js';

export function connectionsMaxTests(runner: TestRunner, fixture: TransportFixture): void {
  const { describe, expect } = runner;
  describe('connectionsMax', () => {
    harnessTest(runner, fixture, 'refuses the connection past connectionsMax while the older ones live', async (h) => {
      const { listener, accepted } = await h.listen({ connectionsMax: 2 });
      const clients = [await h.dial(listener.url), await h.dial(listener.url)];
      const servers = [await accepted.next(), await accepted.next()];

      // A transport may refuse at dial time, or accept the socket and close it at once.
      const excess = await h.dial(listener.url).then(
        (connection) => ({ connection }),
        (error: Error) => ({ error }),
      );
      if ('error' in excess) {
        expect(['TooManyConnectionsError', 'ConnectionRefusedError']).toContain(excess.error.name);
      } else {
        await h.readEnd(excess.connection, 'the excess connection ends without frames');
        const info = await h.closed(excess.connection, 'the excess connection is closed by the listener');
        expect(info.local).toBe(false);
        if (h.capabilities.carriesCloseReason) expect(info.error?.name ?? info.reason).toMatch(/TooManyConnections|too many|maximum/i);
      }
      expect(accepted.all.length).toBe(2);
      expect(listener.connectionCount).toBe(2);
      await h.exchange(clients[0]!, servers[0]!);
      await h.exchange(servers[1]!, clients[1]!);

      clients[0]!.close('making room');
      await within(servers[0]!.closed, 'the listener sees the close');
      expect(listener.connectionCount).toBe(1);
      const next = await h.dial(listener.url);
      await h.exchange(next, await accepted.next());
      expect(listener.connectionCount).toBe(2);
    });
  });
}
