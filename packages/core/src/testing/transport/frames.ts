// Whole frames arrive intact and in order: a small one, an empty one, one of exactly the cap,
// and ten thousand in a row in both directions at once.
import type { TestRunner } from '../runner.js';
import { harnessTest, indexFrame, indexOf, MiB, patternFrame, sameBytes, type TransportFixture } from './support.js';

export function frameTests(runner: TestRunner, fixture: TransportFixture): void {
  const { describe, expect } = runner;
  describe('frames', () => {
    harnessTest(runner, fixture, 'carries a small frame each way', async (h) => {
      const { client, server } = await h.pair();
      client.send(new Uint8Array([1, 2, 3]));
      expect(Array.from((await h.read(server)) ?? [])).toEqual([1, 2, 3]);
      server.send(new Uint8Array([4, 5]));
      expect(Array.from((await h.read(client)) ?? [])).toEqual([4, 5]);
    });

    harnessTest(runner, fixture, 'carries an empty frame as an empty frame', async (h) => {
      const { client, server } = await h.pair();
      client.send(new Uint8Array(0));
      client.send(new Uint8Array([9]));
      expect((await h.read(server))?.byteLength).toBe(0);
      expect(Array.from((await h.read(server)) ?? [])).toEqual([9]);
    });

    harnessTest(runner, fixture, 'carries a frame of exactly frameBytesMax each way', async (h) => {
      const limits = { frameBytesMax: 1 * MiB };
      const { client, server } = await h.pair(limits, limits);
      const up = patternFrame(limits.frameBytesMax, 1);
      const down = patternFrame(limits.frameBytesMax, 2);
      client.send(up);
      server.send(down);
      const [atServer, atClient] = await Promise.all([h.read(server), h.read(client)]);
      expect(atServer !== undefined && sameBytes(atServer, up)).toBe(true);
      expect(atClient !== undefined && sameBytes(atClient, down)).toBe(true);
    });

    harnessTest(runner, fixture, 'carries 10,000 small frames in order in both directions at once', async (h) => {
      const count = 10_000;
      const { client, server } = await h.pair();
      const frames = (): Iterable<Uint8Array> => Array.from({ length: count }, (_, i) => indexFrame(i));
      const [, , atServer, atClient] = await Promise.all([
        h.sendAll(client, frames()),
        h.sendAll(server, frames()),
        h.readFrames(server, count),
        h.readFrames(client, count),
      ]);
      const outOfOrder = (received: Uint8Array[]): number => received.findIndex((frame, i) => indexOf(frame) !== i);
      expect(outOfOrder(atServer)).toBe(-1);
      expect(outOfOrder(atClient)).toBe(-1);
    });

    harnessTest(runner, fixture, 'hands frames already received to takeReceived, in order with the iterator', async (h) => {
      const count = 1_000;
      const { client, server } = await h.pair();
      await h.sendAll(client, Array.from({ length: count }, (_, i) => indexFrame(i)));
      // Whatever arrived is taken at once, the rest waited for: each frame once, in order.
      const received: Uint8Array[] = [];
      while (received.length < count) {
        const frame = server.takeReceived?.() ?? (await h.read(server));
        if (frame === undefined) throw new Error(`frames ended after ${received.length}`);
        received.push(frame);
      }
      expect(received.findIndex((frame, i) => indexOf(frame) !== i)).toBe(-1);
      expect(server.takeReceived?.()).toBeUndefined();
    });
  });
}
