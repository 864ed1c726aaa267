// A dial honours its AbortSignal, whether it was aborted before the dial or while it runs.
import type { TestRunner } from '../runner.js';
import { harnessTest, rejection, type TransportFixture } from './support.js';

export function abortTests(runner: TestRunner, fixture: TransportFixture): void {
  const { describe, expect } = runner;
  describe('abort', () => {
    harnessTest(runner, fixture, 'a dial with an already aborted signal fails with AbortError', async (h) => {
      const { listener, accepted } = await h.listen();
      const error = await rejection(h.dial(listener.url, { signal: AbortSignal.abort() }), 'an aborted dial');
      expect(error.name).toBe('AbortError');
      // Nothing was left half-open: the listener still serves the next dial.
      const client = await h.dial(listener.url);
      await h.exchange(client, await accepted.next());
    });

    harnessTest(runner, fixture, 'a dial aborted while it runs fails with AbortError', async (h) => {
      const { listener, accepted } = await h.listen();
      const controller = new AbortController();
      const dialing = h.dial(listener.url, { signal: controller.signal });
      controller.abort();
      const error = await rejection(dialing, 'a dial aborted midway');
      expect(error.name).toBe('AbortError');
      // The listener may have seen the aborted attempt arrive and go; it still serves the next dial.
      const client = await h.dial(listener.url);
      client.send(new Uint8Array([7]));
      for (;;) {
        const frame = await h.read(await accepted.next(), 'the next dial is served');
        if (frame === undefined) continue; // the aborted attempt, closed without frames
        expect(Array.from(frame)).toEqual([7]);
        break;
      }
    });
  });
}
