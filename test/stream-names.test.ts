// Stream names that are not well-formed Unicode (a lone UTF-16 surrogate) have no UTF-8 form: a
// store that keys its index by UTF-8 merged 'a\uD800', 'a\uDC00' and 'a\uFFFD' into one stream on
// disk while the commit path kept them apart. Such names are refused with InvalidArgumentError by
// the client before it sends and by the server for the request alone, over a real TCP server on a
// real LevelDB; well-formed names that a lossy encoding would merge stay apart across a restart.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode } from '@msgpack/msgpack';
import { firstValueFrom } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, InvalidArgumentError, type KilnServer } from '@kiln/core';
import { connect, type KilnClient } from '@kiln/core/client';
import { levelStore } from '@kiln/store-level';
import { tcpTransport } from '@kiln/transport-tcp';
import { pollUntil } from './support/cluster.js';
import { HELLO, RawTcp } from './support/wire.js';

/** Names with a lone surrogate. MessagePack carries a short one as is (WTF-8). */
const LONE_SURROGATES = ['a\uD800', 'a\uDC00', '\uD83D', 'x\uDE00y'];
/** A long name goes through TextEncoder, which would turn it into another, well-formed, name on the wire. */
const NOT_WELL_FORMED = [...LONE_SURROGATES, `${'n'.repeat(300)}\uD800`];
/** Well-formed names that differ only where a lossy UTF-8 encoding would put U+FFFD. */
const DISTINCT = ['a\uFFFD', 'a\uD83D\uDE00', 'a\uD83D\uDE01', 'a\uFFFD\uFFFD', 'a'];

const tcp = tcpTransport();
/** Servers, clients and raw sockets still open, newest last; closed after each test. */
const open: Array<{ close(): Promise<unknown> }> = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const resource of open.splice(0).reverse()) await resource.close();
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** Closes a resource now rather than after the test. */
async function closeNow(resource: { close(): Promise<unknown> }): Promise<void> {
  open.splice(open.indexOf(resource), 1);
  await resource.close();
}

async function restartableServer(dir: string): Promise<KilnServer> {
  const server = await createServer({ store: levelStore({ path: dir }), transports: [tcp], listen: ['tcp://127.0.0.1:0'] });
  open.push(server);
  return server;
}

async function client(server: KilnServer): Promise<KilnClient> {
  const c = await connect(server.urls[0]!, { transports: [tcp], requestTimeoutMs: 10_000 });
  open.push(c);
  return c;
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kiln-stream-names-'));
  dirs.push(dir);
  return dir;
}

async function rejection(operation: () => Promise<unknown>): Promise<unknown> {
  try {
    await operation();
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

const event = (id: string) => ({ id, type: 'Named', data: { id } });

describe('stream names that are not well-formed Unicode', () => {
  it('are refused by the client with InvalidArgumentError, and well-formed neighbours stay apart across a restart (TCP, LevelDB)', async () => {
    const dir = await tempDir();
    let server = await restartableServer(dir);
    let c = await client(server);
    for (const name of NOT_WELL_FORMED) {
      const label = JSON.stringify(name.slice(-3));
      for (const [what, attempt] of [
        ['append', () => c.append(name, [event(`bad-${name.length}`)])],
        ['check in a transaction', () => c.transact([{ stream: 'fine', events: [event('fine')] }, { stream: name, expectedVersion: 'no-stream' }])],
        ['read', () => c.read(name)],
        ['backward read', () => c.read(name, { direction: 'backward' })],
        ['subscribe', () => firstValueFrom(c.subscribe(name))],
      ] as const) {
        const error = await rejection(attempt);
        expect(error, `${what} ${label}: ${String(error)}`).toBeInstanceOf(InvalidArgumentError);
        expect((error as InvalidArgumentError).rule, `${what} ${label}`).toMatch(/well-formed/);
      }
    }
    expect(await c.readAll(), 'nothing was written').toEqual([]);

    // Each well-formed name is its own stream: its own versions from 0, and `no-stream` holds for each.
    for (const [i, name] of DISTINCT.entries()) {
      expect(await c.append(name, [event(`e${i}`)], { expectedVersion: 'no-stream' })).toMatchObject({ lsn: i + 1, firstVersion: 0 });
    }
    await closeNow(c);
    await closeNow(server);

    server = await restartableServer(dir);
    c = await client(server);
    for (const [i, name] of DISTINCT.entries()) {
      const events = await c.read(name);
      expect(events.map((e) => [e.stream, e.version, e.id]), JSON.stringify(name)).toEqual([[name, 0, `e${i}`]]);
    }
    expect((await c.readAll()).map((e) => e.stream)).toEqual(DISTINCT);
  });

  it('are refused by the server with InvalidArgumentError for the request alone; the connection stays usable (raw TCP, LevelDB)', async () => {
    const server = await restartableServer(await tempDir());
    const blob = encode([['raw-event', 'Raw', { ok: true }]]);
    const requests: Array<[op: string, args: unknown]> = LONE_SURROGATES.flatMap((name): Array<[string, unknown]> => [
      ['transact', ['raw-client', 1, [[name, 'any', blob]]]],
      ['transact', ['raw-client', 2, [['fine', 'any', blob], [name, 'no-stream']]]],
      ['read', [name, 0, 'forward', 10]],
      ['read', [name, Number.MAX_SAFE_INTEGER, 'backward', 10]],
      ['subscribe', [1, name, 0]],
    ]);
    const raw = await RawTcp.open(server.urls[0]!);
    open.push({ close: async () => raw.destroy() });
    raw.send(HELLO);
    for (const [i, [op, args]] of requests.entries()) raw.send(encode([1, i + 1, op, args]));
    const pingId = requests.length + 1;
    raw.send(encode([1, pingId, 'ping', null]));
    // Answers (results and errors; not subscription events, which carry a subscription id) by request id.
    const answerTo = (id: number) => (raw.outcome.frames as unknown[][]).find((f) => (f[0] === 3 || f[0] === 4) && f[1] === id);
    await pollUntil('an answer to every request', () => raw.outcome.closed || Array.from({ length: pingId }, (_, i) => answerTo(i + 1)).every(Boolean), 5_000, 5);

    expect((raw.outcome.frames[0] as unknown[])[0], 'welcome').toBe(2);
    for (const [i, [op, args]] of requests.entries()) {
      const answer = answerTo(i + 1);
      const detail = `${op} ${JSON.stringify(args).slice(0, 80)} -> ${JSON.stringify(answer).slice(0, 200)}`;
      expect(answer?.[0], detail).toBe(4);
      expect((answer?.[2] as { name?: string } | undefined)?.name, detail).toBe('InvalidArgumentError');
    }
    expect(answerTo(pingId), 'the connection still answers').toEqual([3, pingId, null]);
    expect(raw.outcome.closed).toBe(false);

    const c = await client(server);
    expect(await c.readAll(), 'nothing was written').toEqual([]);
    expect(await c.append('fine', [event('after')], { expectedVersion: 'no-stream' })).toMatchObject({ lsn: 1, firstVersion: 0 });
  });
});
