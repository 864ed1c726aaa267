// The browser round trip, in real Chromium (Debian's, headless, driven by playwright-core): the
// example page in docs/examples/browser connects to a real Kiln server over WebSocket, and what
// the page appends a Node client reads over TCP, while what Node appends the page shows live.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { firstValueFrom, filter, take } from 'rxjs';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { CHROMIUM, runsInChromium } from './support/chromium.js';
import { createServer, type KilnServer } from '@kiln/core';
import { connect, type KilnClient } from '@kiln/core/client';
import { memoryStore } from '@kiln/store-memory';
import { tcpTransport } from '@kiln/transport-tcp';
import { wsTransport } from '@kiln/transport-ws';
import { buildBrowserExample } from '../docs/examples/browser/build.mjs';

const ROOT = join(import.meta.dirname, '..');
const EXAMPLE_DIR = join(ROOT, 'docs', 'examples', 'browser');
const DEADLINE_MS = 15_000;
// Headless, and quiet: without the background-networking flags Chromium floods a closed network
// with refused connections.
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

function within<T>(promise: Promise<T>, what: string, ms = DEADLINE_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** Serves index.html from the example folder and the bundle from `bundleDir`, on 127.0.0.1:0. */
async function staticServer(bundleDir: string): Promise<{ server: HttpServer; origin: string }> {
  const types: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.map': 'application/json' };
  const server = createHttpServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    const file = path === '/' || path === '/index.html' ? join(EXAMPLE_DIR, 'index.html') : path.startsWith('/dist/') ? join(bundleDir, path.slice('/dist/'.length)) : undefined;
    if (file === undefined || file.includes('..') || !existsSync(file)) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the static server has no port');
  return { server, origin: `http://127.0.0.1:${address.port}` };
}

describe.skipIf(!runsInChromium('the browser example test'))('browser client in Chromium', () => {
  const tempDirs: string[] = [];
  let bundle = '';
  let bundleInputs: string[] = [];
  let kiln: KilnServer | undefined;
  let http: HttpServer | undefined;
  let origin = '';
  let context: BrowserContext | undefined;
  let page: Page | undefined;
  let node: KilnClient | undefined;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: the browser test needs Debian's Chromium (apt-get install -y chromium; .ci/run installs it)`);
    }
    const bundleDir = mkdtempSync(join(tmpdir(), 'kiln-browser-bundle-'));
    tempDirs.push(bundleDir);
    const built = await buildBrowserExample(bundleDir);
    bundle = readFileSync(built.outfile, 'utf8');
    bundleInputs = built.inputs;

    kiln = await createServer({ store: memoryStore(), transports: [tcpTransport(), wsTransport()], listen: ['tcp://127.0.0.1:0', 'ws://127.0.0.1:0'] });
    ({ server: http, origin } = await staticServer(bundleDir));

    const userDataDir = mkdtempSync(join(tmpdir(), 'kiln-chromium-profile-'));
    tempDirs.push(userDataDir);
    context = await chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS, timeout: DEADLINE_MS });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text());
    });
  });

  afterAll(async () => {
    await node?.close();
    await context?.close();
    await kiln?.close();
    await new Promise<void>((resolve) => (http ? http.close(() => resolve()) : resolve()));
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  });

  it('bundles the client with nothing from Node, uWebSockets.js or ws', () => {
    expect(bundleInputs.filter((input) => /uWebSockets|node_modules\/ws\/|ws-listener|ws-connection\.js|ws-dialer\.js/.test(input))).toEqual([]);
    expect(bundleInputs).toContain('packages/transport-ws/dist/browser.js');
    // No import of a Node built-in survives in the bundle's code.
    expect(bundle).not.toMatch(/["']node:/);
    expect(bundle).not.toMatch(/(?:from|import|require\()\s*["']uWebSockets\.js["']/);
  });

  it('what the page appends a Node client reads, and what Node appends the page shows live', async () => {
    const stream = 'browser-round-trip';
    const wsUrl = kiln!.urls.find((url) => url.startsWith('ws:'))!;
    const tcpUrl = kiln!.urls.find((url) => url.startsWith('tcp:'))!;
    node = await connect(tcpUrl, { transports: [tcpTransport()] });
    const fromPage = firstValueFrom(node.subscribe(stream).pipe(filter((event) => event.type === 'MessagePosted'), take(1)));

    await page!.goto(`${origin}/index.html?url=${encodeURIComponent(wsUrl)}&stream=${stream}`, { timeout: DEADLINE_MS });
    await page!.waitForFunction(() => window.kiln?.connected === true, undefined, { timeout: DEADLINE_MS });
    await expect.poll(() => page!.locator('#status').getAttribute('data-state'), { timeout: DEADLINE_MS }).toBe('connected');

    // Page → Node: type a message and click Append, as a user would.
    await page!.fill('#message', 'hello from Chromium');
    await page!.click('#append');
    const seenByNode = await within(fromPage, 'the Node client reads what the page appended');
    expect(seenByNode).toMatchObject({ version: 0, type: 'MessagePosted', data: { text: 'hello from Chromium', from: 'browser' } });
    expect((await node.read(stream)).map((event) => event.data)).toEqual([{ text: 'hello from Chromium', from: 'browser' }]);

    // Node → page: append over TCP; the page's live subscription shows it.
    await node.append(stream, [{ type: 'MessagePosted', data: { text: 'hello from Node', from: 'node' } }], { expectedVersion: 0 });
    await page!.locator('#events li[data-version="1"]').waitFor({ timeout: DEADLINE_MS });
    expect(await page!.locator('#events li').allTextContents()).toEqual([
      expect.stringContaining('MessagePosted: hello from Chromium'),
      expect.stringContaining('MessagePosted: hello from Node'),
    ]);

    // The hooks agree, expected versions work from the page, and nothing went wrong there.
    expect(await page!.evaluate(() => window.kiln.append('third'))).toBe(2);
    await expect.poll(() => page!.evaluate(() => window.kiln.events().map((e) => e.text)), { timeout: DEADLINE_MS }).toEqual(['hello from Chromium', 'hello from Node', 'third']);
    expect(await page!.evaluate(() => window.kiln.errors)).toEqual([]);
    expect(pageErrors).toEqual([]);
  });

  it('opened from disk, the page says to run the example command instead of hanging at "connecting…"', async () => {
    const fromDisk = await context!.newPage();
    try {
      await fromDisk.goto(pathToFileURL(join(EXAMPLE_DIR, 'index.html')).href, { timeout: DEADLINE_MS });
      await expect.poll(() => fromDisk.locator('#status').getAttribute('data-state'), { timeout: DEADLINE_MS }).toBe('failed');
      expect(await fromDisk.locator('#status').textContent()).toMatch(/opened from disk.*run `npm run example:browser`/);
    } finally {
      await fromDisk.close();
    }
  });

  it('with no Kiln server at its address, the page says it cannot reach it and how to start one', async () => {
    // A port just freed: nothing listens on it.
    const probe = createHttpServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const freePort = (probe.address() as { port: number }).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const noServer = await context!.newPage();
    try {
      await noServer.goto(`${origin}/index.html?port=${freePort}`, { timeout: DEADLINE_MS });
      await expect.poll(() => noServer.locator('#status').getAttribute('data-state'), { timeout: DEADLINE_MS }).toBe('failed');
      expect(await noServer.locator('#status').textContent()).toBe(`cannot reach ws://127.0.0.1:${freePort} (refused): is \`npm run example:browser\` running?`);
    } finally {
      await noServer.close();
    }
  });

  it('with a server that never answers, the page says it cannot reach it instead of hanging at "connecting…"', async () => {
    // Accepts the connection and never answers the WebSocket handshake.
    const sockets: Socket[] = [];
    const silent = createNetServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const silentPort = (silent.address() as { port: number }).port;
    const waiting = await context!.newPage();
    try {
      await waiting.goto(`${origin}/index.html?port=${silentPort}`, { timeout: DEADLINE_MS });
      await expect
        .poll(() => waiting.locator('#status').textContent(), { timeout: DEADLINE_MS })
        .toBe(`cannot reach ws://127.0.0.1:${silentPort} (no answer): is \`npm run example:browser\` running?`);
    } finally {
      await waiting.close();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('`npm run example:browser` builds and serves the page, which connects and appends', async () => {
    // The documented command as a user runs it, on free ports so it cannot clash with a real one.
    const served = spawn('npm', ['run', '--silent', 'example:browser', '--', '--http-port', '0', '--ws-port', '0', '--tcp-port', '0'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group, so the test can stop npm and node together
    });
    const exited = once(served, 'exit');
    let output = '';
    served.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    served.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const demo = await context!.newPage();
    let pageUrl: string | undefined;
    try {
      await expect.poll(() => (pageUrl = /open (http:\/\/127\.0\.0\.1:\d+\/\S*)/.exec(output)?.[1]), { timeout: 60_000, interval: 100 }).toBeDefined();
      await demo.goto(pageUrl!, { timeout: DEADLINE_MS });
      await expect.poll(() => demo.locator('#status').getAttribute('data-state'), { timeout: DEADLINE_MS }).toBe('connected');
      await demo.fill('#message', 'served');
      await demo.click('#append');
      await demo.locator('#events li[data-version="0"]').waitFor({ timeout: DEADLINE_MS });
      expect(await demo.locator('#events li').allTextContents()).toEqual([expect.stringContaining('MessagePosted: served')]);
    } finally {
      await demo.close();
      // Ctrl-C in a terminal signals the whole group.
      stopGroup(served, 'SIGINT');
    }
    try {
      await within(exited, 'the example stops on Ctrl-C');
      // The page's server is gone with it (npm may exit before the node it ran).
      await expect.poll(() => fetch(pageUrl!).then(() => 'served', () => 'refused'), { timeout: DEADLINE_MS, interval: 100 }).toBe('refused');
    } finally {
      stopGroup(served, 'SIGKILL');
    }
    expect(output).not.toMatch(/Error|at .*\.js:\d+/);
  }, 90_000);
});

/** Signals the whole process group of `child` (npm and the node it runs); gone already is fine. */
function stopGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // the group has exited
  }
}

declare global {
  interface Window {
    kiln: { connected: boolean; append(text: string): Promise<number>; events(): Array<{ version: number; type: string; text: string }>; errors: string[] };
  }
}
