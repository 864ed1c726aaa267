// writeNow() hands the frames gathered for the end of the event-loop turn to the socket at once:
// an active shipping from a callback that itself runs at a turn's end would otherwise wait a turn.
import { afterEach, describe, expect, it } from 'vitest';
import { defaultConnectionLimits, type Connection, type Listener } from '@kiln/core';
import { tcpTransport } from '@kiln/transport-tcp';

describe('tcp writeNow', () => {
  const cleanup: Array<() => Promise<unknown> | void> = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  it('writes the frames sent so far before the turn ends, and the peer gets them whole and in order', async () => {
    const transport = tcpTransport();
    let accepted: (connection: Connection) => void = () => {};
    const server = new Promise<Connection>((resolve) => (accepted = resolve));
    const listener: Listener = await transport.listen!('tcp://127.0.0.1:0', (connection) => accepted(connection), defaultConnectionLimits);
    cleanup.push(() => listener.close());
    const client = await transport.dial(listener.url, defaultConnectionLimits);
    cleanup.push(() => client.close('done'));
    const frames = (await server)[Symbol.asyncIterator]();

    client.send(new Uint8Array([1, 2, 3]));
    client.send(new Uint8Array([4]));
    // Gathered for the end of the turn: nothing has reached the socket's kernel buffer yet.
    expect(client.queuedBytes).toBeGreaterThan(0);
    client.writeNow!();
    // The kernel took both frames in this same turn (loopback, nothing else queued).
    expect(client.queuedBytes).toBe(0);

    expect((await frames.next()).value).toEqual(new Uint8Array([1, 2, 3]));
    expect((await frames.next()).value).toEqual(new Uint8Array([4]));
    // Frames sent after it still go at the turn's end, as before.
    client.send(new Uint8Array([5]));
    expect((await frames.next()).value).toEqual(new Uint8Array([5]));
  });
});
