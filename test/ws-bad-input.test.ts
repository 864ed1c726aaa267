// Hostile input over WebSocket: an oversize message, a text message, invalid MessagePack, and a
// client that never reads its replies. Each closes only its own connection; the server keeps
// serving, its log is unchanged, and a well-behaved client on the same server goes on untouched.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decode, encode } from '@msgpack/msgpack';
import WebSocket from 'ws';
import { createServer, defaultConnectionLimits, type KilnServer } from '@kiln/core';
import { connect, type KilnClient, type RecordedEvent } from '@kiln/core/client';
import { memoryStore } from '@kiln/store-memory';
import { wsTransport } from '@kiln/transport-ws';
import { wholeLog } from './support/cluster.js';
import { HELLO } from './support/wire.js';

const DEADLINE_MS = 15_000;
const FRAME_BYTES_MAX = defaultConnectionLimits.frameBytesMax;

let server: KilnServer;
let url: string;
let good: KilnClient;
let before: RecordedEvent[];

function within<T>(promise: Promise<T>, what: string, ms = DEADLINE_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** A raw `ws` client, outside Kiln's dialer, with what it received and how it closed. */
interface Hostile {
  socket: WebSocket;
  messages: Array<{ data: Buffer; isBinary: boolean }>;
  closed: Promise<{ code: number; reason: string }>;
}

async function hostile(options: WebSocket.ClientOptions = {}): Promise<Hostile> {
  const socket = new WebSocket(url, { perMessageDeflate: false, ...options });
  const messages: Hostile['messages'] = [];
  socket.on('message', (data: Buffer, isBinary) => messages.push({ data, isBinary }));
  socket.on('error', () => {}); // a dropped connection is what these tests expect
  const closed = new Promise<{ code: number; reason: string }>((resolve) => socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  await within(new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  }), 'the hostile client connects');
  return { socket, messages, closed };
}

/** Names of the errors in the error frames a hostile client received. */
function errorNames(h: Hostile): string[] {
  return h.messages
    .map((m) => decode(m.data) as unknown[])
    .filter((frame) => frame[0] === 4)
    .map((frame) => (frame[2] as { name: string }).name);
}

/** The server, its log and the good client are as they were; the good client can still append and read. */
async function untouched(stream: string): Promise<void> {
  expect(await wholeLog(good)).toEqual(before);
  expect(server.status()).toMatchObject({ state: 'ACTIVE-COORDINATOR' });
  const result = await good.append(stream, [{ type: 'StillHere', data: stream }], { expectedVersion: 'no-stream' });
  expect(result.firstVersion).toBe(0);
  before = await wholeLog(good);
}

beforeAll(async () => {
  server = await createServer({ store: memoryStore(), transports: [wsTransport()], listen: ['ws://127.0.0.1:0'] });
  url = server.urls[0]!;
  good = await connect(url, { transports: [wsTransport()] });
  // Bulky events, so reading the log back gives replies of about readBytesMax each.
  const blob = 'x'.repeat(16 * 1024);
  for (let i = 0; i < 8; i++) await good.append('bulk', Array.from({ length: 16 }, (_, j) => ({ type: 'Bulk', data: { i, j, blob } })));
  before = await wholeLog(good);
});

afterAll(async () => {
  await good?.close();
  await server?.close();
});

describe('bad input over WebSocket', () => {
  it('an oversize message drops only that connection, before its body is buffered', async () => {
    const h = await hostile();
    h.socket.send(HELLO);
    h.socket.send(new Uint8Array(FRAME_BYTES_MAX + 1));
    const closed = await within(h.closed, 'the server drops the oversize sender');
    expect(closed.code).not.toBe(1000);
    await untouched('after-oversize');
  });

  it('a message of exactly the frame cap is not refused for its size', async () => {
    const h = await hostile();
    h.socket.send(HELLO);
    // Garbage of exactly the cap: refused as undecodable, with an error frame, not dropped for size.
    h.socket.send(new Uint8Array(FRAME_BYTES_MAX).fill(0xc1));
    const closed = await within(h.closed, 'the server closes the connection');
    expect(errorNames(h)).toEqual(['ProtocolError']);
    expect(closed.reason).not.toMatch(/exceeds the limit/);
    await untouched('after-exact-cap');
  });

  it('a text message closes only that connection, with a ProtocolError reason', async () => {
    const h = await hostile();
    h.socket.send(HELLO);
    h.socket.send('{"kind":"hello"}');
    const closed = await within(h.closed, 'the server closes the text sender');
    expect(closed.code).toBe(1008);
    expect(closed.reason).toMatch(/text message/);
    await untouched('after-text');
  });

  it('invalid MessagePack gets an error frame, then only that connection closes', async () => {
    for (const garbage of [new Uint8Array([0xc1]), new Uint8Array([0x92, 0x01]), new Uint8Array([0xdd, 0xff, 0xff, 0xff, 0xff]), new Uint8Array(0)]) {
      const h = await hostile();
      h.socket.send(HELLO);
      h.socket.send(garbage);
      const closed = await within(h.closed, 'the server closes the garbage sender');
      // The welcome, then an error frame naming the problem, then the close with its reason.
      expect(errorNames(h)).toEqual(['ProtocolError']);
      expect(closed.reason).not.toBe('');
    }
    // Garbage instead of the hello, too.
    const early = await hostile();
    early.socket.send(new Uint8Array([0xff, 0x00, 0x13]));
    expect((await within(early.closed, 'the server closes a garbage hello')).reason).not.toBe('');
    expect(errorNames(early)).toEqual(['ProtocolError']);
    await untouched('after-garbage');
  });

  it('a client that never reads is cut off; nothing is buffered for it without bound', async () => {
    const h = await hostile();
    h.socket.send(HELLO);
    // Stop reading: the socket's buffers fill, then the server's queue, then it must give up.
    h.socket.pause();
    const request = (id: number): Uint8Array => encode([1, id, 'readAll', [1, 'forward', 4096]]);
    let id = 1;
    let sent = 0;
    // Each reply is about readBytesMax (1 MiB); the server's send queue holds 16 MiB.
    const flood = (async () => {
      while (h.socket.readyState === WebSocket.OPEN && id < 10_000) {
        h.socket.send(request(id++));
        sent++;
        if (sent % 16 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    // The server closes it; the client, paused, learns of it only when it reads again.
    await within(
      (async () => {
        while (server.status().connections > 1) await new Promise((resolve) => setTimeout(resolve, 20));
      })(),
      'the server drops the client that never reads',
    );
    h.socket.resume();
    await within(h.closed, 'the hostile client sees its connection end');
    await flood;
    await untouched('after-never-reads');
  });

  it("a page of another site (a browser's Origin) is refused before the upgrade; a page of the host it dials, or a listed origin, is let in", async () => {
    const { port } = new URL(url);
    /** The status of an upgrade to `target` from a page of `origin`, dialling it by `host` (the Host header). */
    const upgrade = (origin: string, target = url, host = new URL(target).host): Promise<number> =>
      within(
        new Promise<number>((resolve) => {
          const socket = new WebSocket(target, { perMessageDeflate: false, origin, headers: { host } });
          socket.on('error', () => {});
          socket.once('open', () => {
            socket.close();
            resolve(101);
          });
          socket.once('unexpected-response', (_request, response) => {
            resolve(response.statusCode ?? 0);
            socket.terminate();
          });
        }),
        `the upgrade with origin ${origin}`,
      );
    // A site's page could otherwise read and append to a server on the user's own machine.
    expect(await upgrade('https://evil.example')).toBe(403);
    expect(await upgrade('null')).toBe(403);
    // A page of a site that rebound its name to the server's address dials it by that name.
    expect(await upgrade('http://evil.example', url, `evil.example:${port}`)).toBe(403);
    expect(await upgrade('http://127.0.0.1:7415')).toBe(101);
    expect(await upgrade('http://localhost:7415', url, `localhost:${port}`)).toBe(101);
    expect(await upgrade('http://localhost:7415')).toBe(101);

    const listed = await createServer({ store: memoryStore(), transports: [wsTransport({ origins: ['https://app.example'] })], listen: ['ws://127.0.0.1:0'] });
    try {
      const listedUrl = listed.urls[0]!;
      expect(await upgrade('https://app.example', listedUrl)).toBe(101);
      expect(await upgrade('https://evil.example', listedUrl)).toBe(403);
    } finally {
      await listed.close();
    }
    await untouched('after-origins');
  });
});
