// Backpressure: a writer facing a slow reader sees "queued", waits for drain, and its queue stays
// under the cap; a writer that ignores a reader that never reads is closed instead of buffering
// without bound.
import type { TestRunner } from '../runner.js';
import { harnessTest, MiB, patternFrame, rejection, within, type TransportFixture } from './support.js';

export function backpressureTests(runner: TestRunner, fixture: TransportFixture): void {
  const { describe, expect } = runner;
  describe('backpressure', () => {
    harnessTest(runner, fixture, 'a slow reader makes the writer queue and wait for drain, within the queue cap', async (h) => {
      const sendQueueBytesMax = 1 * MiB;
      const { client, server } = await h.pair({}, { sendQueueBytesMax });
      const count = 256;
      const frameBytes = 64 * 1024;
      let queuedCount = 0;
      let drainCount = 0;
      let queuedBytesMax = 0;
      let startReading!: () => void;
      const blocked = new Promise<void>((resolve) => (startReading = resolve));

      const writer = (async () => {
        for (let i = 0; i < count; i++) {
          const frame = patternFrame(frameBytes, i);
          new DataView(frame.buffer).setUint32(0, i);
          if (client.send(frame) === 'queued') queuedCount++;
          queuedBytesMax = Math.max(queuedBytesMax, client.queuedBytes);
          if (!client.writable) {
            startReading(); // the reader starts only once the writer has had to wait
            await within(client.whenWritable(), 'drain after the reader catches up');
            drainCount++;
          }
        }
      })();

      await within(blocked, 'the writer is told to wait while nobody reads');
      const frames = await h.readFrames(server, count);
      await writer;
      expect(queuedCount).toBeGreaterThan(0);
      expect(drainCount).toBeGreaterThan(0);
      expect(queuedBytesMax).toBeLessThanOrEqual(sendQueueBytesMax);
      expect(frames.map((f) => new DataView(f.buffer, f.byteOffset).getUint32(0))).toEqual(Array.from({ length: count }, (_, i) => i));
      expect(frames.every((f) => f.byteLength === frameBytes)).toBe(true);
    });

    harnessTest(runner, fixture, 'a reader that never reads makes the writer close with SendQueueFullError', async (h) => {
      const sendQueueBytesMax = 1 * MiB;
      const { client, server } = await h.pair({}, { sendQueueBytesMax });
      const frame = patternFrame(64 * 1024, 5);
      // Bounded: 4096 frames of 64 KiB is 256 MiB, far past any socket buffer.
      let sendError: Error | undefined;
      for (let i = 0; i < 4096 && sendError === undefined; i++) {
        try {
          client.send(frame);
        } catch (error) {
          sendError = error as Error;
          break;
        }
        expect(client.queuedBytes).toBeLessThanOrEqual(sendQueueBytesMax);
        // Yield a whole turn so the network drains what it can; the reader still reads nothing.
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
      expect(sendError?.name).toBe('ConnectionClosedError');
      const info = await h.closed(client);
      expect(info.local).toBe(true);
      expect(info.error?.name).toBe('SendQueueFullError');
      expect(client.writable).toBe(false);
      expect((await rejection(client.whenWritable(), 'whenWritable after the close')).name).toBe('ConnectionClosedError');
      // What was sent before the close is still in order for a reader that finally reads.
      const first = await h.read(server, 'the first frame is still there');
      expect(first?.byteLength).toBe(frame.byteLength);
    });
  });
}
