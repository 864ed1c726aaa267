// The frame cap: a sender refuses an oversize frame and stays open; a receiver with a smaller
// cap than its sender closes only that connection, and the listener goes on serving.
import type { TestRunner } from '../runner.js';
import { harnessTest, patternFrame, thrown, type TransportFixture } from './support.js';

export function frameLimitTests(runner: TestRunner, fixture: TransportFixture): void {
  const { describe, expect } = runner;
  describe('frame limit', () => {
    harnessTest(runner, fixture, 'send throws FrameTooLargeError for a frame over the cap, and the connection stays open', async (h) => {
      const limits = { frameBytesMax: 4096 };
      const { client, server } = await h.pair(limits, limits);
      const error = thrown(() => client.send(new Uint8Array(4097)), 'an oversize send');
      expect(error.name).toBe('FrameTooLargeError');
      expect(client.writable).toBe(true);
      client.send(patternFrame(4096, 3));
      expect((await h.read(server))?.byteLength).toBe(4096);
      await h.exchange(server, client);
    });

    harnessTest(runner, fixture, 'a receiver with a smaller cap closes that connection with FrameTooLargeError; others are untouched', async (h) => {
      const { listener, accepted } = await h.listen({ frameBytesMax: 1024 });
      const bystander = await h.dial(listener.url, { frameBytesMax: 1024 });
      const bystanderServer = await accepted.next();
      const offender = await h.dial(listener.url, { frameBytesMax: 64 * 1024 });
      const offenderServer = await accepted.next();

      offender.send(patternFrame(2048, 4));
      const atServer = await h.closed(offenderServer, 'the receiver closes the connection');
      expect(atServer.local).toBe(true);
      expect(atServer.error?.name).toBe('FrameTooLargeError');
      await h.readEnd(offenderServer, 'the oversize frame is not delivered');
      const atSender = await h.closed(offender, 'the sender learns of the close');
      expect(atSender.local).toBe(false);
      if (h.capabilities.carriesCloseReason) expect(atSender.reason).toBe(atServer.reason);

      // The listener and the other connection go on as before, and new dials work.
      await h.exchange(bystander, bystanderServer);
      await h.exchange(bystanderServer, bystander);
      expect(listener.connectionCount).toBe(1);
      const late = await h.dial(listener.url);
      await h.exchange(late, await accepted.next());
    });
  });
}
