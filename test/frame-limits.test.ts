// A client whose frame limit is larger than its server's, over real TCP: a request over the
// server's `frameBytesMax` fails at once with FrameTooLargeError naming the server's limit, and the
// connection stays up. The server drops a connection that sends it a frame over its limit, and the
// client, not knowing the limit, sent the request again on every reconnect: 5,600 times in 30 s of
// 2 MiB each, until the request timed out (found by trying it: a server configured with 1 MiB,
// clients on the default 4 MiB). The server's welcome now says its limit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, FrameTooLargeError, type KilnServer } from '@kiln/core';
import type { ClientStatus } from '@kiln/core/client';
import { connect, type KilnClient } from '@kiln/core/client';
import { memoryStore } from '@kiln/store-memory';
import { tcpTransport } from '@kiln/transport-tcp';

const SERVER_FRAME_BYTES_MAX = 64 * 1024;

let server: KilnServer;
let client: KilnClient;
const statuses: ClientStatus['type'][] = [];

beforeAll(async () => {
  server = await createServer({ name: 'small-frames', store: memoryStore(), transports: [tcpTransport()], listen: ['tcp://127.0.0.1:0'], limits: { frameBytesMax: SERVER_FRAME_BYTES_MAX } });
  // The client keeps the default limit, 4 MiB.
  client = await connect(server.urls[0]!, { transports: [tcpTransport()], requestTimeoutMs: 20_000 });
  client.status$.subscribe((s) => statuses.push(s.type));
});

afterAll(async () => {
  await client?.close();
  await server?.close();
});

describe('a request over the server frame limit, from a client whose own limit is larger', () => {
  it('fails at once with FrameTooLargeError naming the server limit, and the connection stays up', async () => {
    const startedMs = performance.now();
    const failure = await client.append('big', [{ type: 'Big', data: 'x'.repeat(2 * SERVER_FRAME_BYTES_MAX) }]).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(FrameTooLargeError);
    expect(failure).toMatchObject({ limit: SERVER_FRAME_BYTES_MAX });
    expect((failure as FrameTooLargeError).bytes).toBeGreaterThan(2 * SERVER_FRAME_BYTES_MAX);
    // Not after a reconnect loop that ends in the request's timeout.
    expect(performance.now() - startedMs).toBeLessThan(5_000);
    expect(statuses).toEqual(['connected']);
    // Nothing was written, and the same connection serves what fits.
    expect(await client.read('big')).toEqual([]);
    expect(await client.append('big', [{ type: 'Small', data: 'x'.repeat(SERVER_FRAME_BYTES_MAX / 2) }])).toMatchObject({ firstVersion: 0 });
    expect(statuses).toEqual(['connected']);
    expect((await client.serverStatus()).connections).toBe(1);
  });
});
