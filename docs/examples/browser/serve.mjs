#!/usr/bin/env node
// Builds the browser example and serves it: a memory-mode Kiln server (tcp://127.0.0.1:7410,
// ws://127.0.0.1:7411) and the page over HTTP on 127.0.0.1:7415. Prints the page's URL; Ctrl-C
// (or SIGTERM) stops both. Run it with `npm run example:browser` (which builds the packages first).
//
//   node docs/examples/browser/serve.mjs [--http-port N] [--ws-port N] [--tcp-port N]   (0: any free port)
import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createServer } from '@kiln/core';
import { memoryStore } from '@kiln/store-memory';
import { tcpTransport } from '@kiln/transport-tcp';
import { wsTransport } from '@kiln/transport-ws';
import { buildBrowserExample } from './build.mjs';

const here = dirname(fileURLToPath(import.meta.url));
// A port in use or a bundle that does not build is one line, not a stack trace.
process.on('uncaughtException', (error) => {
  console.error(`serve: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
/** The ws:// port the page dials when its URL names none (see app.ts). */
const PAGE_DEFAULT_WS_PORT = 7411;

const { values } = parseArgs({
  options: {
    'http-port': { type: 'string', default: '7415' },
    'ws-port': { type: 'string', default: String(PAGE_DEFAULT_WS_PORT) },
    'tcp-port': { type: 'string', default: '7410' },
  },
});
const port = (name) => {
  const text = values[name];
  const value = Number(text);
  if (!/^\d+$/.test(text) || value > 65535) {
    console.error(`serve: --${name} must be a port number from 0 to 65535, not '${text}'`);
    process.exit(2);
  }
  return value;
};
const httpPort = port('http-port');
const wsPort = port('ws-port');
const tcpPort = port('tcp-port');

const { outfile } = await buildBrowserExample();
const bundleDir = dirname(outfile);

const kiln = await createServer({
  store: memoryStore(),
  transports: [tcpTransport(), wsTransport()],
  listen: [`tcp://127.0.0.1:${tcpPort}`, `ws://127.0.0.1:${wsPort}`],
});
const wsUrl = kiln.urls.find((url) => url.startsWith('ws:'));

// Only the page and its bundle are served: nothing else in the folder is reachable.
const types = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.map': 'application/json' };
const files = new Map([
  ['/', join(here, 'index.html')],
  ['/index.html', join(here, 'index.html')],
  ['/dist/app.js', join(bundleDir, 'app.js')],
  ['/dist/app.js.map', join(bundleDir, 'app.js.map')],
]);
const http = createHttpServer((request, response) => {
  const file = files.get(new URL(request.url ?? '/', 'http://localhost').pathname);
  if (file === undefined) {
    response.writeHead(404).end();
    return;
  }
  readFile(file).then(
    (body) => response.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' }).end(body),
    () => response.writeHead(404).end(),
  );
});
await new Promise((resolve, reject) => {
  http.once('error', reject);
  http.listen(httpPort, '127.0.0.1', resolve);
});
const address = http.address();
const wsPortBound = Number(new URL(wsUrl).port);
const query = wsPortBound === PAGE_DEFAULT_WS_PORT ? '' : `?port=${wsPortBound}`;

console.log(`kiln: memory-mode server on ${kiln.urls.join(' and ')} (nothing is kept after it stops)`);
console.log(`open http://127.0.0.1:${address.port}/${query}`);
console.log('Ctrl-C stops both');

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  http.closeAllConnections();
  await Promise.all([new Promise((resolve) => http.close(resolve)), kiln.close()]);
  process.exit(0);
}
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
