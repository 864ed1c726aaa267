// A client that pipelines reads and never reads the replies stalls only itself: the bytes that
// reads in flight hold are bounded per connection and per server, so the server's memory stays
// flat and other clients go on being answered. Over TCP against a real restartable server process
// (its RSS measured from /proc), and over WebSocket in-process, where a slow store counts how many
// reads run at once.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode, encode } from '@msgpack/msgpack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createServer, defaultLogLimits, type KilnServer, type Store } from '@kiln/core';
import { connect, type KilnClient } from '@kiln/core/client';
import { memoryStore } from '@kiln/store-memory';
import { tcpTransport } from '@kiln/transport-tcp';
import { wsTransport } from '@kiln/transport-ws';
import { killAllKilns, pollUntil, rssBytes, startKiln, type KilnProcess } from './support/cluster.js';
import { HELLO, RawTcp, tcpFrame } from './support/wire.js';

const MiB = 1024 * 1024;
const HOSTILE_CONNECTIONS = 4;
const PIPELINED_READS = 1000;
/** How much the server's RSS may grow over its baseline while the hostile clients are connected. */
const RSS_GROWTH_MAX = 100 * MiB;
/** A liveness bound for a normal client's connect-and-read, not a benchmark. */
const ANSWER_MS_MAX = 2_000;
/** Time between two of the normal client's connect-and-reads. */
const PROBE_INTERVAL_MS = 50;
/** How long the hostile clients are watched: well past the time their reads took to blow up memory. */
const HOSTILE_WINDOW_MS = 10_000;

function within<T>(promise: Promise<T>, what: string, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** Bulky events, so each `readAll` from the start of the log answers with about `readBytesMax`. */
async function writeBulk(client: KilnClient, totalBytes: number): Promise<void> {
  const blob = 'x'.repeat(16 * 1024);
  for (let i = 0; i * 64 * 1024 < totalBytes; i++) {
    await client.append('bulk', Array.from({ length: 4 }, (_, j) => ({ type: 'Bulk', data: { i, j, blob } })));
  }
}

/** `count` readAll requests from LSN 1, each one asking for a full page. */
function readAllRequests(count: number): Uint8Array[] {
  return Array.from({ length: count }, (_, i) => encode([1, i + 1, 'readAll', [1, 'forward', 1000]]));
}

describe('pipelined reads never read, over TCP, restartable', () => {
  const tcp = tcpTransport();
  let dir: string;
  let kiln: KilnProcess;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-pipelined-'));
    kiln = await startKiln({ dataDir: dir });
    const writer = await connect(kiln.url, { transports: [tcp] });
    try {
      await writeBulk(writer, 4 * MiB);
    } finally {
      await writer.close();
    }
  }, 60_000);

  afterAll(async () => {
    await killAllKilns();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** A fresh client connects and reads a page; resolves with the milliseconds it took. */
  async function connectAndRead(maxCount = 4): Promise<number> {
    const started = Date.now();
    const client = await within(connect(kiln.url, { transports: [tcp] }), 'a normal client connects', ANSWER_MS_MAX);
    try {
      const page = await within(client.readAll({ fromLsn: 1, maxCount }), 'a normal client reads', ANSWER_MS_MAX);
      expect(page.length).toBeGreaterThan(0);
    } finally {
      await client.close();
    }
    return Date.now() - started;
  }

  it('keeps server RSS within 100 MiB of its baseline while four such clients hold on, and gives it back after they close', async () => {
    // Warm up with normal concurrent reads (four clients, eight full pages each in flight), so the
    // baseline is a server whose heap has served reads at the concurrency the budgets allow.
    for (let round = 0; round < 2; round++) {
      await Promise.all(Array.from({ length: HOSTILE_CONNECTIONS }, async () => {
        const client = await connect(kiln.url, { transports: [tcp] });
        try {
          await Promise.all(Array.from({ length: 8 }, () => within(client.readAll({ fromLsn: 1, maxCount: 1000 }), 'a warm-up read', 10_000)));
        } finally {
          await client.close();
        }
      }));
    }
    const rssBefore = rssBytes(kiln.pid);

    const hostile: RawTcp[] = [];
    try {
      for (let i = 0; i < HOSTILE_CONNECTIONS; i++) {
        const raw = await RawTcp.open(kiln.url);
        hostile.push(raw);
        raw.send(HELLO);
        await raw.waitFrames(1);
        raw.socket.pause(); // never read a reply again
      }
      const requests = Buffer.concat(readAllRequests(PIPELINED_READS).map(tcpFrame));
      for (const raw of hostile) raw.write(requests);

      let rssPeak = rssBefore;
      const times: number[] = [];
      const watchUntil = Date.now() + HOSTILE_WINDOW_MS;
      while (Date.now() < watchUntil) {
        const ms = await connectAndRead();
        times.push(ms);
        rssPeak = Math.max(rssPeak, rssBytes(kiln.pid));
        expect(rssPeak - rssBefore, `server RSS grew from ${(rssBefore / MiB).toFixed(0)} to ${(rssPeak / MiB).toFixed(0)} MiB`).toBeLessThan(RSS_GROWTH_MAX);
        expect(ms, 'a normal connect-and-read').toBeLessThan(ANSWER_MS_MAX);
        // Paced, so the normal client's own churn of connections does not dominate the figure.
        await new Promise((resolve) => setTimeout(resolve, PROBE_INTERVAL_MS));
      }
      console.log(
        `pipelined reads: server RSS ${(rssBefore / MiB).toFixed(0)} MiB before, peak ${(rssPeak / MiB).toFixed(0)} MiB with ${HOSTILE_CONNECTIONS} hostile connections; ` +
          `${times.length} normal connect-and-reads meanwhile, median ${[...times].sort((a, b) => a - b)[times.length >> 1]} ms, slowest ${Math.max(...times)} ms`,
      );
    } finally {
      for (const raw of hostile) raw.destroy();
    }

    let rssAfter = Infinity;
    await pollUntil(
      'server RSS to fall back within bound after the hostile clients closed',
      async () => {
        await connectAndRead();
        rssAfter = rssBytes(kiln.pid);
        return rssAfter - rssBefore < RSS_GROWTH_MAX;
      },
      10_000,
      100,
    );
    console.log(`pipelined reads: server RSS ${(rssAfter / MiB).toFixed(0)} MiB after the hostile clients closed`);
  }, 60_000);
});

describe('pipelined reads never read, over WebSocket', () => {
  const CONNECTION_BUDGET = 2 * defaultLogLimits.readBytesMax;
  const SERVER_BUDGET = 3 * defaultLogLimits.readBytesMax;
  const ws = wsTransport();
  let server: KilnServer;
  let good: KilnClient;
  const sockets: WebSocket[] = [];
  let running = 0;
  let runningMax = 0;
  let started = 0;

  /** A memory store whose log reads take a few milliseconds, counted, so reads in flight overlap visibly. */
  function slowStore(): Store {
    const store = memoryStore();
    return new Proxy(store, {
      get(target, property, receiver) {
        if (property !== 'read') return Reflect.get(target, property, receiver) as unknown;
        return async (...args: Parameters<Store['read']>) => {
          started++;
          runningMax = Math.max(runningMax, ++running);
          try {
            await new Promise((resolve) => setTimeout(resolve, 5));
            return await target.read(...args);
          } finally {
            running--;
          }
        };
      },
    });
  }

  /** A raw `ws` client that says hello, then sends pipelined reads and never reads again. */
  async function hostile(reads: number, requests: (count: number) => Uint8Array[] = readAllRequests): Promise<void> {
    const socket = new WebSocket(server.urls[0]!, { perMessageDeflate: false });
    sockets.push(socket);
    socket.on('error', () => {});
    await within(new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    }), 'the hostile client connects', 5_000);
    const welcome = new Promise((resolve) => socket.once('message', resolve));
    socket.send(HELLO);
    expect((decode((await within(welcome, 'the welcome', 5_000)) as Buffer) as unknown[])[0], 'a welcome frame').toBe(2);
    socket.pause(); // never read a reply again
    for (const request of requests(reads)) socket.send(request);
  }

  beforeAll(async () => {
    server = await createServer({
      store: slowStore(),
      transports: [ws],
      listen: ['ws://127.0.0.1:0'],
      limits: { readBytesInFlightPerConnectionMax: CONNECTION_BUDGET, readBytesInFlightMax: SERVER_BUDGET },
    });
    good = await connect(server.urls[0]!, { transports: [ws] });
    await writeBulk(good, 4 * MiB);
  }, 30_000);

  afterAll(async () => {
    for (const socket of sockets) socket.terminate();
    await good?.close();
    await server?.close();
  });

  it('runs at most a connection budget of one connection\'s reads at once, and a server budget of all of them', async () => {
    runningMax = 0;
    const startedBefore = started;
    await hostile(200);
    await pollUntil('the hostile reads to start', () => started - startedBefore >= 4, 10_000);
    expect(runningMax, 'reads running at once for one connection').toBeLessThanOrEqual(CONNECTION_BUDGET / defaultLogLimits.readBytesMax);

    runningMax = 0;
    await hostile(200);
    await hostile(200);
    await pollUntil('reads of the new connections to start', () => started - startedBefore >= 12, 10_000);
    expect(runningMax, 'reads running at once on the server').toBeLessThanOrEqual(SERVER_BUDGET / defaultLogLimits.readBytesMax);
    // The hostile connections stalled themselves; a normal client is still answered.
    const page = await within(good.readAll({ fromLsn: 1, maxCount: 4 }), 'a normal read', ANSWER_MS_MAX);
    expect(page.length).toBeGreaterThan(0);
  }, 30_000);

  it('charges subscriptions catching up to the server budget too', async () => {
    runningMax = 0;
    const startedBefore = started;
    // 200 subscriptions to the whole log from its start, on one connection that never reads.
    await hostile(200, (count) => Array.from({ length: count }, (_, i) => encode([1, i + 1, 'subscribe', [i + 1, null, 1]])));
    await pollUntil('the catch-up reads to start', () => started - startedBefore >= 6, 10_000);
    expect(runningMax, 'catch-up reads running at once on the server').toBeLessThanOrEqual(SERVER_BUDGET / defaultLogLimits.readBytesMax);
    const page = await within(good.readAll({ fromLsn: 1, maxCount: 4 }), 'a normal read', ANSWER_MS_MAX);
    expect(page.length).toBeGreaterThan(0);
  }, 30_000);
});
