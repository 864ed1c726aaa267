// Error names survive minifying: the browser client (`@kiln/core/client` with the `browser` build
// of `@kiln/transport-ws`) bundled with esbuild `minify: true`, which renames every class, still
// rebuilds each error a server sends with its own name and class, so `err.name` and `instanceof`
// work in a minified web page.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { WebSocket as NodeWebSocket } from 'ws';
import { createServer, type KilnServer } from '@kiln/core';
import { memoryStore } from '@kiln/store-memory';
import { wsTransport } from '@kiln/transport-ws';

const ROOT = join(import.meta.dirname, '..');

// The bundle's entry: the browser client, plus the wire decoder the client uses on every error
// frame, so each error class can be decoded without a server that raises it.
const ENTRY = `
export * from '@kiln/core/client';
export { wsTransport } from '@kiln/transport-ws';
export { errorFromWire, errorToWire } from ${JSON.stringify(join(ROOT, 'packages/core/dist/errors.js'))};
`;

type ErrorClass = (abstract new (...args: never[]) => Error) & { readonly name: string; fromWire?: unknown };
type Bundle = Record<string, unknown> & {
  connect(url: string, options: { transports: unknown[] }): Promise<{ append(stream: string, events: unknown[], options: unknown): Promise<unknown>; close(): Promise<void> }>;
  wsTransport(): unknown;
  errorFromWire(wire: { name: string; message: string; fields: Record<string, unknown> }): Error;
  errorToWire(error: unknown): { name: string; message: string; fields: Record<string, unknown> };
  KilnError: ErrorClass;
  WrongExpectedVersionError: ErrorClass;
};

describe('a minified browser bundle', () => {
  let dir = '';
  let bundle: Bundle;
  let server: KilnServer | undefined;
  const globals = globalThis as { WebSocket?: unknown };
  const hadWebSocket = 'WebSocket' in globals;
  const previousWebSocket = globals.WebSocket;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-minified-'));
    const result = await build({
      stdin: { contents: ENTRY, resolveDir: ROOT, sourcefile: 'entry.js' },
      bundle: true,
      minify: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      conditions: ['browser'],
      write: false,
      logLevel: 'silent',
    });
    const code = result.outputFiles[0]!.text;
    const file = join(dir, 'bundle.mjs');
    writeFileSync(file, code);
    bundle = (await import(pathToFileURL(file).href)) as Bundle;
    // Node 20 has no global WebSocket; `ws` offers the same browser API.
    globals.WebSocket ??= NodeWebSocket;
    server = await createServer({ store: memoryStore(), transports: [wsTransport()], listen: ['ws://127.0.0.1:0'] });
  });

  afterAll(async () => {
    await server?.close();
    if (hadWebSocket) globals.WebSocket = previousWebSocket;
    else delete globals.WebSocket;
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('really renames classes (or this test would prove nothing)', () => {
    expect(bundle.connect.name).not.toBe('connect');
  });

  it('keeps the literal name of every exported error class', () => {
    const errorClasses = Object.entries(bundle).filter(
      ([, value]) => typeof value === 'function' && (value === bundle.KilnError || value.prototype instanceof bundle.KilnError),
    );
    expect(errorClasses.length).toBeGreaterThan(20);
    for (const [exported, errorClass] of errorClasses) expect((errorClass as ErrorClass).name, exported).toBe(exported);
  });

  it('decodes every wire error to its own class and name', () => {
    const decodable = Object.entries(bundle).filter(([, value]) => typeof value === 'function' && typeof (value as ErrorClass).fromWire === 'function');
    expect(decodable.length).toBeGreaterThan(15);
    for (const [name, errorClass] of decodable) {
      const decoded = bundle.errorFromWire({ name, message: 'from the wire', fields: {} });
      expect(decoded.name, name).toBe(name);
      expect(decoded, name).toBeInstanceOf(errorClass as ErrorClass);
      expect(decoded).toBeInstanceOf(bundle.KilnError);
      expect(bundle.errorToWire(decoded).name).toBe(name);
    }
  });

  it('rebuilds an error a real server sends with its name and class', async () => {
    const client = await bundle.connect(server!.urls[0]!, { transports: [bundle.wsTransport()] });
    try {
      await client.append('orders', [{ type: 'Placed', data: {} }], { expectedVersion: 'no-stream' });
      const error = await client.append('orders', [{ type: 'Placed', data: {} }], { expectedVersion: 'no-stream' }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(bundle.WrongExpectedVersionError);
      expect(error).toBeInstanceOf(bundle.KilnError);
      expect((error as Error).name).toBe('WrongExpectedVersionError');
      expect(error).toMatchObject({ stream: 'orders', actual: 0 });
    } finally {
      await client.close();
    }
  });
});
