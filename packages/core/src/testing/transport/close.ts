// Closing: from either side, after the frames sent before it, with the reason seen by the other
// side; close is idempotent, and a closed connection refuses sends and waits.
import type { Connection } from '../../transport/transport.js';
import type { TestRunner } from '../runner.js';
import { harnessTest, indexFrame, indexOf, rejection, thrown, type Harness, type TransportFixture } from './support.js';

export function closeTests(runner: TestRunner, fixture: TransportFixture): void {
  const { describe, expect } = runner;

  async function closeFrom(h: Harness, closer: Connection, other: Connection, reason: string): Promise<void> {
    for (let i = 0; i < 3; i++) closer.send(indexFrame(i));
    closer.close(reason);
    const frames = await h.readFrames(other, 3, 'the frames sent before the close arrive');
    expect(frames.map(indexOf)).toEqual([0, 1, 2]);
    await h.readEnd(other, 'the frames end after the close');
    const remote = await h.closed(other, 'the other side sees the close');
    expect(remote.local).toBe(false);
    if (h.capabilities.carriesCloseReason) expect(remote.reason).toBe(reason);
    const local = await h.closed(closer);
    expect(local).toEqual({ reason, local: true });
    expect(other.writable).toBe(false);
  }

  describe('close', () => {
    harnessTest(runner, fixture, 'close from the dialing side reaches the listening side with its reason', async (h) => {
      const { client, server } = await h.pair();
      await closeFrom(h, client, server, 'client is done');
    });

    harnessTest(runner, fixture, 'close from the listening side reaches the dialing side with its reason', async (h) => {
      const { client, server } = await h.pair();
      await closeFrom(h, server, client, 'server is done');
    });

    harnessTest(runner, fixture, 'close is idempotent and a closed connection refuses sends and waits', async (h) => {
      const { client } = await h.pair();
      client.close('first');
      client.close('second');
      expect((await h.closed(client)).reason).toBe('first');
      expect(client.writable).toBe(false);
      expect(thrown(() => client.send(new Uint8Array([1])), 'a send after close').name).toBe('ConnectionClosedError');
      expect((await rejection(client.whenWritable(), 'whenWritable after close')).name).toBe('ConnectionClosedError');
      await h.readEnd(client);
    });

    harnessTest(runner, fixture, 'a closed connection leaves the listener count', async (h) => {
      const { listener, client, server } = await h.pair();
      expect(listener.connectionCount).toBe(1);
      client.close('bye');
      await h.closed(server);
      expect(listener.connectionCount).toBe(0);
    });
  });
}
