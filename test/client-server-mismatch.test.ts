// Client and server with different limits, over real TCP. Either side drops a connection
// that brings it a frame over its `frameBytesMax`, and the client, not knowing the other's limit,
// sent its request again on every reconnect until it timed out: 5,600 times in 30 s of 2 MiB each
// (a server configured with 1 MiB, clients on the default 4 MiB), or 7,000 reads whose answer was
// over the client's own smaller limit (found by trying both). Now the welcome says the server's
// limit and the hello the client's: a request over the server's fails at once with
// FrameTooLargeError; reads and subscriptions come in frames the client reads, and only an event
// that never fits it fails, with FrameTooLargeError; the connection stays up.
// And a server that closes silent connections sooner than a third of the client's own idle timeout
// dropped a connection that only subscribed, every time: the client now pings within a third of
// the shorter of the two (the welcome says the server's).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { firstValueFrom, take, toArray } from 'rxjs';
import { createServer, FrameTooLargeError, type KilnServer } from '@kiln/core';
import { connect, type ClientStatus, type KilnClient } from '@kiln/core/client';
import { memoryStore } from '@kiln/store-memory';
import { tcpTransport } from '@kiln/transport-tcp';
import { pollUntil } from './support/cluster.js';

const SERVER_FRAME_BYTES_MAX = 64 * 1024;
const SMALL_CLIENT_FRAME_BYTES_MAX = 16 * 1024;

let server: KilnServer;
let client: KilnClient;
const statuses: ClientStatus['type'][] = [];

/** A client with a frame limit below the server's, and what its connection went through. */
async function smallClient(): Promise<{ small: KilnClient; smallStatuses: ClientStatus['type'][] }> {
  const small = await connect(server.urls[0]!, { transports: [tcpTransport()], requestTimeoutMs: 20_000, limits: { frameBytesMax: SMALL_CLIENT_FRAME_BYTES_MAX } });
  const smallStatuses: ClientStatus['type'][] = [];
  small.status$.subscribe((s) => smallStatuses.push(s.type));
  return { small, smallStatuses };
}

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

describe('answers for a client whose frame limit is under the server limit', () => {
  beforeAll(async () => {
    // Four events that each fit the client's frame, eight times its frame together; one that does not fit.
    for (let i = 0; i < 4; i++) await client.append('wide', [{ type: 'W', data: 'y'.repeat(SMALL_CLIENT_FRAME_BYTES_MAX / 2) }]);
    await client.append('huge', [{ type: 'H', data: 'z'.repeat(SMALL_CLIENT_FRAME_BYTES_MAX * 2) }]);
  });

  it('reads come in pages that fit its frame; an event that never fits fails its read at once with FrameTooLargeError', async () => {
    const { small, smallStatuses } = await smallClient();
    try {
      const wide = await small.read('wide');
      expect(wide.map((e) => e.version)).toEqual([0, 1, 2, 3]);
      // A page of the log holds what fits: fewer events than asked for, the next page starting after them.
      const page = await small.readAll({ fromLsn: wide[0]!.lsn, maxCount: 4 });
      expect(page.length).toBeGreaterThan(0);
      expect(page.every((e) => e.stream === 'wide')).toBe(true);
      const startedMs = performance.now();
      const failure = await small.read('huge').catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(FrameTooLargeError);
      expect(failure).toMatchObject({ limit: SMALL_CLIENT_FRAME_BYTES_MAX });
      expect(performance.now() - startedMs).toBeLessThan(5_000);
      expect(smallStatuses).toEqual(['connected']);
    } finally {
      await small.close();
    }
  });

  it('subscriptions deliver in frames that fit it; one reaching an event that never fits ends with FrameTooLargeError', async () => {
    const { small, smallStatuses } = await smallClient();
    try {
      const versions = await firstValueFrom(small.subscribe('wide').pipe(take(4), toArray()));
      expect(versions.map((e) => e.version)).toEqual([0, 1, 2, 3]);
      const ended = await firstValueFrom(small.subscribe('huge')).catch((error: unknown) => error);
      expect(ended).toBeInstanceOf(FrameTooLargeError);
      expect(ended).toMatchObject({ limit: SMALL_CLIENT_FRAME_BYTES_MAX });
      expect(smallStatuses).toEqual(['connected']);
    } finally {
      await small.close();
    }
  });
});

describe("a server whose idle timeout is shorter than the client's", () => {
  it('keeps a connection that only subscribes: the client pings within a third of the server timeout', async () => {
    const idleTimeoutMs = 2_000;
    const strict = await createServer({ name: 'strict', store: memoryStore(), transports: [tcpTransport()], listen: ['tcp://127.0.0.1:0'], limits: { idleTimeoutMs, handshakeTimeoutMs: 1_000 } });
    // The client keeps its default idle timeout, 30 s: it would ping after 10 s.
    const subscriber = await connect(strict.urls[0]!, { transports: [tcpTransport()] });
    const writer = await connect(strict.urls[0]!, { transports: [tcpTransport()] });
    const seen: string[] = [];
    const subscription = subscriber.subscribe<string>('quiet').subscribe({ next: (event) => seen.push(event.data), error: () => {} });
    try {
      const subscriberStatuses: ClientStatus['type'][] = [];
      subscriber.status$.subscribe((s) => subscriberStatuses.push(s.type));
      await writer.append('quiet', [{ type: 'Q', data: 'before' }]);
      await pollUntil('the first event', () => seen.length === 1, 5_000);
      // Silent for more than the server's timeout, with a margin: the server would have closed it by now.
      const silentUntil = performance.now() + idleTimeoutMs * 1.75;
      await pollUntil('the silence to pass', () => performance.now() >= silentUntil, idleTimeoutMs * 3);
      await writer.append('quiet', [{ type: 'Q', data: 'after' }]);
      await pollUntil('the second event', () => seen.length === 2, 5_000);
      expect(seen).toEqual(['before', 'after']);
      expect(subscriberStatuses).toEqual(['connected']);
    } finally {
      subscription.unsubscribe();
      await subscriber.close();
      await writer.close();
      await strict.close();
    }
  });
});
