// The WebSocket transport: it passes the transport conformance suite and the shared client suite,
// carries close reasons in the close frame, serves wss:// with a certificate, and one server on
// TCP and WebSocket at once shows each side's appends to the other, live.
import { afterEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstValueFrom, take, toArray } from 'rxjs';
import { createServer, defaultConnectionLimits, type Connection, type KilnServer, type Listener } from '@kiln/core';
import { connect, type KilnClient } from '@kiln/core/client';
import { transportConformance } from '@kiln/core/testing';
import { memoryStore } from '@kiln/store-memory';
import { tcpTransport } from '@kiln/transport-tcp';
import { wsTransport } from '@kiln/transport-ws';
import { clientSuite } from './support/client-suite.js';

// uWebSockets.js drops a connection that sends an oversize message without a close frame, so the
// sender cannot learn that reason; the close-reason tests below check every other close.
transportConformance({ describe, it, expect }, { name: 'ws', setup: async () => ({ transport: wsTransport(), listenUrl: 'ws://127.0.0.1:0' }), capabilities: { carriesCloseReason: false } });

clientSuite({ name: 'ws', transport: () => wsTransport(), listenUrl: 'ws://127.0.0.1:0' });

const DEADLINE_MS = 10_000;

function within<T>(promise: Promise<T>, what: string, ms = DEADLINE_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** Resolves with the next connection `listen` hands over. */
function acceptor(): { onConnection: (c: Connection) => void; next: () => Promise<Connection> } {
  const arrived: Connection[] = [];
  const waiting: Array<(c: Connection) => void> = [];
  return {
    onConnection: (c) => (waiting.length > 0 ? waiting.shift()!(c) : arrived.push(c)),
    next: () => within(arrived.length > 0 ? Promise.resolve(arrived.shift()!) : new Promise((resolve) => waiting.push(resolve)), 'a connection is accepted'),
  };
}

describe('ws close reasons', () => {
  const listeners: Listener[] = [];
  afterEach(async () => {
    await Promise.all(listeners.splice(0).map((l) => l.close()));
  });

  async function pair(): Promise<{ client: Connection; server: Connection }> {
    const ws = wsTransport();
    const accepted = acceptor();
    const listener = await ws.listen!('ws://127.0.0.1:0', accepted.onConnection, defaultConnectionLimits);
    listeners.push(listener);
    const client = await ws.dial(listener.url, defaultConnectionLimits);
    return { client, server: await accepted.next() };
  }

  it('carries the reason from the dialing side to the listening side, and back', async () => {
    const up = await pair();
    up.client.close('client is done');
    expect(await within(up.server.closed, 'server sees the close')).toEqual({ reason: 'client is done', local: false });
    const down = await pair();
    down.server.close('server is done');
    expect(await within(down.client.closed, 'client sees the close')).toEqual({ reason: 'server is done', local: false });
  });

  it('cuts a long reason to the 123 bytes a close frame holds, on a character boundary', async () => {
    const { client, server } = await pair();
    server.close('ü'.repeat(200));
    const info = await within(client.closed, 'client sees the close');
    expect(new TextEncoder().encode(info.reason).byteLength).toBeLessThanOrEqual(123);
    expect(info.reason.startsWith('üüü')).toBe(true);
    expect(info.reason.endsWith('…')).toBe(true);
  });

  it('tells a connection past connectionsMax why it was refused', async () => {
    const ws = wsTransport();
    const accepted = acceptor();
    const listener = await ws.listen!('ws://127.0.0.1:0', accepted.onConnection, { ...defaultConnectionLimits, connectionsMax: 1 });
    listeners.push(listener);
    await ws.dial(listener.url, defaultConnectionLimits);
    await accepted.next();
    const excess = await ws.dial(listener.url, defaultConnectionLimits);
    expect((await within(excess.closed, 'the excess connection closes')).reason).toMatch(/maximum of 1 connections/);
    expect(listener.connectionCount).toBe(1);
  });

  it('refuses a second listener on the same port', async () => {
    const ws = wsTransport();
    const listener = await ws.listen!('ws://127.0.0.1:0', () => {}, defaultConnectionLimits);
    listeners.push(listener);
    await expect(ws.listen!(listener.url, () => {}, defaultConnectionLimits)).rejects.toMatchObject({ name: 'InvalidArgumentError' });
  });

  it('refuses to listen on wss:// without a certificate', async () => {
    await expect(wsTransport().listen!('wss://127.0.0.1:0', () => {}, defaultConnectionLimits)).rejects.toMatchObject({ name: 'InvalidArgumentError', field: 'tls' });
  });
});

describe('ws servers', () => {
  let server: KilnServer | undefined;
  const clients: KilnClient[] = [];
  let tempDir: string | undefined;

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await server?.close();
    server = undefined;
    if (tempDir !== undefined) rmSync(tempDir, { recursive: true, force: true });
    tempDir = undefined;
  });

  it('serves wss:// with a certificate and key, to a client that trusts it', async () => {
    tempDir = mkdtempSync(join(tmpdir(), 'kiln-wss-'));
    const keyFile = join(tempDir, 'key.pem');
    const certFile = join(tempDir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
    server = await createServer({ store: memoryStore(), transports: [wsTransport({ tls: { certFile, keyFile } })], listen: ['wss://127.0.0.1:0'] });
    const url = server.urls[0]!;
    expect(url).toMatch(/^wss:\/\/127\.0\.0\.1:\d+$/);

    // A dialer that does not trust the certificate is refused, with the TLS failure as the cause.
    const untrusted = await wsTransport().dial(url, defaultConnectionLimits).catch((error: Error) => error);
    expect(untrusted).toMatchObject({ name: 'ConnectionRefusedError' });
    expect(String((untrusted as Error).cause)).toMatch(/self[- ]signed/i);

    const client = await connect(url, { transports: [wsTransport({ tls: { ca: readFileSync(certFile, 'utf8') } })] });
    clients.push(client);
    await client.append('secure', [{ type: 'A', data: 1 }], { expectedVersion: 'no-stream' });
    expect((await client.read('secure')).map((e) => e.data)).toEqual([1]);
  });

  it('one server on TCP and WebSocket at once: a client on one sees, live, what a client on the other appends', async () => {
    server = await createServer({ store: memoryStore(), transports: [tcpTransport(), wsTransport()], listen: ['tcp://127.0.0.1:0', 'ws://127.0.0.1:0'] });
    const tcpUrl = server.urls.find((u) => u.startsWith('tcp:'))!;
    const wsUrl = server.urls.find((u) => u.startsWith('ws:'))!;
    const overTcp = await connect(tcpUrl, { transports: [tcpTransport()] });
    const overWs = await connect(wsUrl, { transports: [wsTransport()] });
    clients.push(overTcp, overWs);

    const seenOverWs = firstValueFrom(overWs.subscribe('mixed').pipe(take(2), toArray()));
    const seenOverTcp = firstValueFrom(overTcp.subscribe('mixed').pipe(take(2), toArray()));
    await overTcp.append('mixed', [{ type: 'FromTcp', data: 'tcp' }], { expectedVersion: 'no-stream' });
    await overWs.append('mixed', [{ type: 'FromWs', data: 'ws' }], { expectedVersion: 0 });
    for (const seen of [await within(seenOverWs, 'ws subscriber'), await within(seenOverTcp, 'tcp subscriber')]) {
      expect(seen.map((e) => [e.version, e.type])).toEqual([
        [0, 'FromTcp'],
        [1, 'FromWs'],
      ]);
    }
  });
});
