// Hostile and careless use of the operations surfaces of real `kiln` processes: the HTTP listener
// (health, metrics, status page), the WebSocket listener's web pages, and kiln certs. Each test
// here failed before the fix it names.
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { KILN_BIN, killAllKilns, startKiln } from './support/cluster.js';
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
      const answer = await rawHttp(http, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
      expect(answer).toMatch(/^HTTP\/1\.1 400 /);
      expect(answer).toContain('not a path');
    }
    expect((await get(`${http}/health/live`))?.status).toBe(200);
    expect(kiln.child.exitCode).toBeNull();
  });

  it('answers a method other than GET or HEAD with 405 and the methods it serves in Allow, as HTTP asks', async () => {
    const kiln = await startKiln({ extraArgs: ['--http', 'http://127.0.0.1:0'] });
    const http = /serves HTTP on (http:\/\/127\.0\.0\.1:\d+)/.exec(await kiln.waitForLine(/serves HTTP on/))![1]!;
    for (const method of ['POST', 'DELETE', 'OPTIONS']) {
      const answer = await rawHttp(http, `${method} /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
      expect(answer).toMatch(/^HTTP\/1\.1 405 /);
      expect(answer).toMatch(/^allow: GET, HEAD\r$/im);
    }
  });

  it('bound to loopback, answers only requests for a loopback name (a page of a site that rebound its name to 127.0.0.1 read the cluster)', async () => {
    const kiln = await startKiln({ extraArgs: ['--http', 'http://127.0.0.1:0'] });
    const http = /serves HTTP on (http:\/\/127\.0\.0\.1:\d+)/.exec(await kiln.waitForLine(/serves HTTP on/))![1]!;
    const { port } = new URL(http);
    const request = (host: string): Promise<string> => rawHttp(http, `GET /cluster.json HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    const rebound = await request(`evil.example:${port}`);
    expect(rebound).toMatch(/^HTTP\/1\.1 403 /);
    expect(rebound).not.toContain('"members"');
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, '[::1]']) expect(await request(host)).toMatch(/^HTTP\/1\.1 200 /);
  });
});

/** The HTTP status of a WebSocket upgrade to `url` from a page of `origin` (101: let in). */
function upgradeStatus(url: string, origin: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { perMessageDeflate: false, origin });
    const timer = setTimeout(() => reject(new Error(`no answer to the upgrade from ${origin}`)), 5000);
    const done = (status: number): void => {
      clearTimeout(timer);
      socket.terminate();
      resolve(status);
    };
    socket.on('error', () => {});
    socket.once('open', () => done(101));
    socket.once('unexpected-response', (_request, response) => done(response.statusCode ?? 0));
  });
}

describe('the WebSocket listener of kiln start', () => {
  it("refuses a page of another site, and lets in the origins KILN_WS_ORIGINS lists (any site's page could read and append)", async () => {
    const wsUrl = async (env: string | undefined): Promise<string> => {
      const before = process.env.KILN_WS_ORIGINS;
      if (env === undefined) delete process.env.KILN_WS_ORIGINS;
      else process.env.KILN_WS_ORIGINS = env;
      try {
        const kiln = await startKiln({ extraArgs: ['--listen', 'ws://127.0.0.1:0'] });
        return /(ws:\/\/127\.0\.0\.1:\d+)/.exec(await kiln.waitForLine(/listening on/))![1]!;
      } finally {
        if (before === undefined) delete process.env.KILN_WS_ORIGINS;
        else process.env.KILN_WS_ORIGINS = before;
      }
    };
    const plain = await wsUrl(undefined);
    expect(await upgradeStatus(plain, 'https://evil.example')).toBe(403);
    expect(await upgradeStatus(plain, 'http://127.0.0.1:7415')).toBe(101);
    const listing = await wsUrl(' https://app.example , https://ops.example');
    expect(await upgradeStatus(listing, 'https://ops.example')).toBe(101);
    expect(await upgradeStatus(listing, 'https://evil.example')).toBe(403);
  });

  it("takes the origins from the server's wsOrigins in the file, KILN_WS_ORIGINS over it, and --ws-origins over both (only the variable could name them)", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kiln-origins-'));
    try {
      const file = join(dir, 'cluster.json');
      const server = { name: 'w', listen: ['tcp://127.0.0.1:0', 'ws://127.0.0.1:0'], wsOrigins: ['https://file.example'] };
      await writeFile(file, JSON.stringify({ cluster: 'pages', persistence: 'memory', servers: [server] }));
      const wsUrl = async (env: string | undefined, flag: string[] = []): Promise<string> => {
        const before = process.env.KILN_WS_ORIGINS;
        if (env === undefined) delete process.env.KILN_WS_ORIGINS;
        else process.env.KILN_WS_ORIGINS = env;
        try {
          const kiln = await startKiln({ args: ['--config', file, ...flag] });
          return /(ws:\/\/127\.0\.0\.1:\d+)/.exec(await kiln.waitForLine(/listening on/))![1]!;
        } finally {
          if (before === undefined) delete process.env.KILN_WS_ORIGINS;
          else process.env.KILN_WS_ORIGINS = before;
        }
      };
      const fromFile = await wsUrl(undefined);
      expect(await upgradeStatus(fromFile, 'https://file.example')).toBe(101);
      expect(await upgradeStatus(fromFile, 'https://evil.example')).toBe(403);
      const fromVariable = await wsUrl('https://env.example');
      expect(await upgradeStatus(fromVariable, 'https://env.example')).toBe(101);
      expect(await upgradeStatus(fromVariable, 'https://file.example')).toBe(403);
      const fromFlag = await wsUrl('https://env.example', ['--ws-origins', 'https://flag.example,https://two.example']);
      expect(await upgradeStatus(fromFlag, 'https://two.example')).toBe(101);
      expect(await upgradeStatus(fromFlag, 'https://env.example')).toBe(403);
      // An entry that is not an origin would never match a page: refused at start, naming it.
      const typo = spawnSync(process.execPath, [KILN_BIN, 'start', '--config', file, '--ws-origins', 'https://ok.example,https://app.example/'], { encoding: 'utf8', timeout: 20_000 });
      expect(typo.status).toBe(3);
      expect(typo.stderr).toMatch(/ConfigError: --ws-origins\[1\]: must be a web page's origin/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('kiln certs', () => {
  it('meeting a file that exists writes nothing: it left a new CA beside the older certificates', async () => {
    const out = await mkdtemp(join(tmpdir(), 'kiln-certs-'));
    try {
      await writeFile(join(out, 's1.pem'), 'an older certificate\n');
      const config = new URL('../examples/tls-cluster.json', import.meta.url).pathname;
      const run = spawnSync(process.execPath, [KILN_BIN, 'certs', '--config', config, '--out', out], { encoding: 'utf8', timeout: 20_000 });
      expect(run.status).toBe(3);
      expect(run.stderr.trim().split('\n')).toEqual([expect.stringMatching(/ConfigError: --out: .*s1\.pem exists already/)]);
      expect(run.stdout).toBe('');
      expect(await readdir(out)).toEqual(['s1.pem']);
      expect(await readFile(join(out, 's1.pem'), 'utf8')).toBe('an older certificate\n');
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});
