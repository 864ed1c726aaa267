// A member's HTTP listener against clients that hold connections: idle sockets and a slow-loris
// client that sends its headers a byte at a time do not stop other requests being served, the
// connection cap holds (a connection past it is closed at once), and the header deadline frees
// what they held.
import { connect, type Socket } from 'node:net';
import { get } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { HTTP_CONNECTIONS_MAX, HTTP_HEADERS_TIMEOUT_MS } from '@kiln/core';
import { defaultHttpLimits, json, startHttpListener, type HttpLimits, type HttpListener } from '../packages/cli/src/http/http-listener.js';

const listeners: HttpListener[] = [];
const sockets: Socket[] = [];
const timers: NodeJS.Timeout[] = [];
afterEach(async () => {
  for (const timer of timers.splice(0)) clearInterval(timer);
  for (const socket of sockets.splice(0)) socket.destroy();
  for (const listener of listeners.splice(0)) await listener.close();
});

const LIMITS: HttpLimits = { connectionsMax: 8, headersTimeoutMs: 1500, requestTimeoutMs: 3000, keepAliveTimeoutMs: 1000 };

async function listen(): Promise<{ url: string; port: number }> {
  const routes = new Map([['/health', () => json(200, { ok: true })]]);
  const listener = await startHttpListener('http://127.0.0.1:0', 'http', routes, { certificate: undefined, auth: false }, LIMITS);
  listeners.push(listener);
  return { url: listener.url, port: Number(new URL(listener.url).port) };
}

/** A connection that is open (the server accepted it) and sends nothing. */
function idle(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => resolve(socket));
    socket.on('error', reject);
    sockets.push(socket);
  });
}

/** GET `url`: its status, or the error the connection ended with. */
function status(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = get(url, { agent: false, timeout: 5000 }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode!));
    });
    request.on('timeout', () => request.destroy(new Error(`GET ${url}: no answer`)));
    request.on('error', reject);
  });
}

/** Resolves with what the server sent once it closes `socket`; fails after `withinMs`. */
function closedByServer(socket: Socket, withinMs: number): Promise<string> {
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  return new Promise((resolve, reject) => {
    const deadline = setTimeout(() => reject(new Error(`the server kept the connection past ${withinMs} ms`)), withinMs);
    socket.on('close', () => {
      clearTimeout(deadline);
      resolve(received);
    });
  });
}

describe("a member's HTTP listener", () => {
  it('serves others beside idle and slow-loris clients, holds its connection cap, and frees them at the header deadline', async () => {
    const { url, port } = await listen();
    const held = await Promise.all(Array.from({ length: LIMITS.connectionsMax - 2 }, () => idle(port)));
    // A slow loris: a request line, then one header byte at a time, never the blank line that ends them.
    const loris = await idle(port);
    loris.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    timers.push(setInterval(() => loris.writable && loris.write('X'), 100));
    const lorisClosed = closedByServer(loris, LIMITS.headersTimeoutMs + 2500);
    const heldClosed = held.map((socket) => closedByServer(socket, LIMITS.headersTimeoutMs + 2500));

    // Cap minus one held: the last connection serves a request.
    expect(await status(`${url}/health`)).toBe(200);
    // At the cap, a further connection is closed at once and its request fails.
    held.push(await idle(port));
    heldClosed.push(closedByServer(held[held.length - 1]!, LIMITS.headersTimeoutMs + 2500));
    await expect(status(`${url}/health`)).rejects.toThrow();

    // The header deadline frees every connection that never finished its request: the loris gets 408.
    expect(await lorisClosed).toMatch(/^HTTP\/1\.1 408/);
    await Promise.all(heldClosed);
    expect(await status(`${url}/health`)).toBe(200);
  });

  it('is capped and timed by the limits LIMITS.md lists, unless a caller gives its own', () => {
    expect(defaultHttpLimits.connectionsMax).toBe(HTTP_CONNECTIONS_MAX);
    expect(defaultHttpLimits.headersTimeoutMs).toBe(HTTP_HEADERS_TIMEOUT_MS);
    expect(HTTP_HEADERS_TIMEOUT_MS).toBeLessThan(defaultHttpLimits.requestTimeoutMs);
  });
});
