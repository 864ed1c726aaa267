// What a user gets wrong gets a clear typed error: values MessagePack cannot carry are named by
// their path in the event, errors name the argument the user passed, and docs/errors.md lists
// every error class the client can surface.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as core from '@kiln/core';
import { createServer, type KilnServer } from '@kiln/core';
import * as clientExports from '@kiln/core/client';
import { connect, ConnectionClosedError, InvalidArgumentError, type KilnClient } from '@kiln/core/client';
import { firstValueFrom } from 'rxjs';
import { memoryStore } from '@kiln/store-memory';
import { tcpTransport } from '@kiln/transport-tcp';
import { wsTransport } from '@kiln/transport-ws';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';

describe('bad values and arguments', () => {
  let server: KilnServer;
  let client: KilnClient;
  beforeAll(async () => {
    server = await createServer({ store: memoryStore(), transports: [tcpTransport()], listen: ['tcp://127.0.0.1:0'] });
    client = await connect(server.urls, { transports: [tcpTransport()] });
  });
  afterAll(async () => {
    await client?.close();
    await server?.close();
  });

  const cycle: Record<string, unknown> = { name: 'loop' };
  cycle.self = cycle;
  const cases: Array<[string, unknown, string]> = [
    ['a BigInt', { amount: 10n }, 'events[1].data.amount'],
    ['a function', { items: [1, () => 2] }, 'events[1].data.items[1]'],
    ['a symbol', { 'odd key': Symbol('s') }, 'events[1].data["odd key"]'],
    ['a cycle', { nested: cycle }, 'events[1].data.nested.self'],
    // MessagePack would store these as an empty map: the caller's data lost without a word.
    ['a Map', { byId: new Map([['a', 1]]) }, 'events[1].data.byId'],
    ['a Set', { tags: [new Set(['x'])] }, 'events[1].data.tags[0]'],
  ];
  for (const [what, data, path] of cases) {
    it(`refuses ${what} with InvalidArgumentError naming ${path}, and writes nothing`, async () => {
      const error = await client.append('values', [{ type: 'Fine', data: 1 }, { type: 'Bad', data }]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect(error).toMatchObject({ field: path });
      expect(await client.read('values')).toEqual([]);
    });
  }

  it('names metadata, and the path inside transact', async () => {
    await expect(client.append('values', [{ type: 'E', data: 1, metadata: { at: 1n } }])).rejects.toMatchObject({ field: 'events[0].metadata.at' });
    await expect(client.transact<unknown>([{ stream: 'ok', events: [{ type: 'E', data: 1 }] }, { stream: 'values', events: [{ type: 'E', data: [1n] }] }])).rejects.toMatchObject({
      field: 'appends[1].events[0].data[0]',
    });
  });

  it('names the argument append was given', async () => {
    await expect(client.append('s', [])).rejects.toMatchObject({ name: 'InvalidArgumentError', field: 'events' });
    await expect(client.append('', [{ type: 'E', data: 1 }])).rejects.toMatchObject({ field: 'stream' });
    await expect(client.append('s', [{ type: 'E', data: 1 }], { expectedVersion: -2 })).rejects.toMatchObject({ field: 'options.expectedVersion' });
    await expect(client.transact([{ stream: 's', events: [] }])).rejects.toMatchObject({ field: 'appends[0].events' });
    await client.append('still-up', [{ type: 'E', data: 1 }]);
  });
});

describe('a first connect gone wrong', () => {
  it('without options or with no URL, names the argument missing (it was a TypeError from inside connect)', async () => {
    const untyped = connect as (urls?: unknown, options?: unknown) => Promise<KilnClient>;
    await expect(untyped('tcp://127.0.0.1:7410')).rejects.toMatchObject({ name: 'InvalidArgumentError', field: 'transports', rule: expect.stringContaining('tcpTransport()') });
    await expect(untyped(undefined, { transports: [tcpTransport()] })).rejects.toMatchObject({ name: 'InvalidArgumentError', field: 'urls' });
  });

  it('to a port of another kind, says what answered (an HTTP or WebSocket port dialled as tcp://, a tcp:// port as ws://)', async () => {
    const transports = [tcpTransport(), wsTransport()];
    const server = await createServer({ store: memoryStore(), transports, listen: ['tcp://127.0.0.1:0', 'ws://127.0.0.1:0'] });
    const web = createHttpServer((_request, response) => response.end('a web page'));
    try {
      await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
      const [tcpUrl, wsUrl] = server.urls as [string, string];
      const port = (url: string): string => new URL(url).port;
      const options = { transports, reconnectWindowMs: 0, serverSilenceMs: 500 };
      // It read the reply's `HTTP/` as the header of a frame of 1.2 GB.
      await expect(connect(`tcp://127.0.0.1:${(web.address() as AddressInfo).port}`, options)).rejects.toThrow(/answered in HTTP: this address is an HTTP or WebSocket one/);
      // It said only that connecting did not finish.
      await expect(connect(`tcp://127.0.0.1:${port(wsUrl)}`, options)).rejects.toMatchObject({ name: 'TimeoutError', message: expect.stringMatching(/took the connection, but nothing answered as Kiln; is it a port of another scheme\?/) });
      // It said only 'refused', as if nothing listened there.
      await expect(connect(`ws://127.0.0.1:${port(tcpUrl)}`, options)).rejects.toMatchObject({ name: 'ConnectionRefusedError', message: expect.stringMatching(/did not answer in HTTP \(is it a tcp:\/\/ address\?\)$/) });
      // The right scheme still connects.
      await (await connect(wsUrl, options)).close();
    } finally {
      web.close();
      await server.close();
    }
  });

  it('to a host name that does not resolve, says so', async () => {
    const refused = connect('tcp://no-such-host.invalid:7410', { transports: [tcpTransport()], reconnectWindowMs: 0 });
    await expect(refused).rejects.toMatchObject({ name: 'ConnectionRefusedError', message: expect.stringMatching(/refused: (no such host|the host name could not be looked up now)$/) });
  });
});

describe('a client whose server stopped', () => {
  it('after it gave up, looks for a server again on the next request: it fails within reconnectWindowMs, and succeeds once the server is back (it waited requestTimeoutMs on a link that no longer tried)', async () => {
    const transports = [tcpTransport()];
    let server = await createServer({ store: memoryStore(), transports, listen: ['tcp://127.0.0.1:0'] });
    const url = server.urls[0]!;
    const client = await connect(url, { transports, reconnectWindowMs: 500, requestTimeoutMs: 20_000 });
    try {
      await server.close();
      await expect(client.append('s', [{ type: 'E', data: 1 }])).rejects.toBeInstanceOf(ConnectionClosedError);
      expect((await firstValueFrom(client.status$)).type).toBe('failed');
      const started = Date.now();
      await expect(client.append('s', [{ type: 'E', data: 2 }])).rejects.toBeInstanceOf(ConnectionClosedError);
      expect(Date.now() - started).toBeLessThan(10_000);
      // The server back at the same address: the next request finds it.
      server = await createServer({ store: memoryStore(), transports, listen: [url] });
      expect((await client.append('s', [{ type: 'E', data: 3 }])).lastVersion).toBe(0);
    } finally {
      await client.close();
      await server.close();
    }
  });
});

describe('docs/errors.md', () => {
  const doc = readFileSync(join(import.meta.dirname, '..', 'docs', 'errors.md'), 'utf8');
  const documented = new Set([...doc.matchAll(/^\| `(\w+)` \|/gm)].map((m) => m[1]!));
  const errorClasses = (exports: Record<string, unknown>): string[] =>
    Object.entries(exports)
      .filter(([, value]) => typeof value === 'function' && (value as { prototype: unknown }).prototype instanceof core.KilnError)
      .map(([name]) => name);

  it('lists every error class the client exports', () => {
    const classes = errorClasses(clientExports);
    expect(classes.length).toBeGreaterThan(30);
    expect(classes.filter((name) => !documented.has(name))).toEqual([]);
  });

  it('lists every error class @kiln/core exports', () => {
    expect(errorClasses(core).filter((name) => !documented.has(name))).toEqual([]);
  });
});
