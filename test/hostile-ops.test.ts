// Hostile and careless use of the operations surfaces of real `kiln` processes: the HTTP listener
// (health, metrics, status page), and whatever else a defect was found in. Each test here failed
// before the fix it names.
import { connect as netConnect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { killAllKilns, startKiln } from './support/cluster.js';
import { get } from './support/observed-cluster.js';

afterEach(async () => {
  await killAllKilns();
});

/** Sends `request` as is on a new socket and resolves with what came back before the server closed it (or 5 s passed). */
function rawHttp(base: string, request: string): Promise<string> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve) => {
    let answer = '';
    const socket = netConnect(Number(port), hostname, () => socket.write(request));
    const timer = setTimeout(() => socket.destroy(), 5000);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(answer);
    });
  });
}

describe('the HTTP listener of a lone server', () => {
  it('answers a request target that is no URL (GET http://[) with 400 and stays up (it crashed the server with an uncaught TypeError)', async () => {
    const kiln = await startKiln({ extraArgs: ['--http', 'http://127.0.0.1:0'] });
    const http = /serves HTTP on (http:\/\/127\.0\.0\.1:\d+)/.exec(await kiln.waitForLine(/serves HTTP on/))![1]!;
    for (const target of ['http://[', '//[']) {
      const answer = await rawHttp(http, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      expect(answer).toMatch(/^HTTP\/1\.1 400 /);
      expect(answer).toContain('not a path');
    }
    expect((await get(`${http}/health/live`))?.status).toBe(200);
    expect(kiln.child.exitCode).toBeNull();
  });
});
