// What `kiln` loads for each command: a command loads only what it needs (issue: every command
// took some 0.4 s to start, loading the store, its native binding and the transports for
// `kiln --version`). The test reads which modules a run resolved, through a module hook, and
// asserts none of the heavy ones; it never times anything.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KILN_BIN } from './support/cluster.js';

const EXAMPLES = fileURLToPath(new URL('../examples/', import.meta.url));

/** The store and its native binding, the transports, the server's HTTP metrics: none is needed to print or to ask. */
const HEAVY = /packages\/(store-level|store-memory)\/|node_modules\/(classic-level|uWebSockets\.js|prom-client)\/|cli\/dist\/cluster\.js/;
const CORE = /packages\/core\//;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiln-loads-'));
  // Records every module a run resolves, one URL a line, in the file KILN_TEST_LOADED names.
  await writeFile(join(dir, 'hooks.mjs'), `import { appendFileSync } from 'node:fs';
let file;
export function initialize(data) { file = data.file; }
export async function resolve(specifier, context, next) { const resolved = await next(specifier, context); appendFileSync(file, resolved.url + '\\n'); return resolved; }
`);
  await writeFile(join(dir, 'register.mjs'), `import { register } from 'node:module';
register('./hooks.mjs', import.meta.url, { data: { file: process.env.KILN_TEST_LOADED } });
`);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

let runs = 0;
/** Runs kiln with `args`; what it printed, its exit code and the modules it resolved. */
async function kilnLoading(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string; loaded: string[] }> {
  const file = join(dir, `loaded-${++runs}.txt`);
  await writeFile(file, '');
  const run = spawnSync(process.execPath, ['--import', join(dir, 'register.mjs'), KILN_BIN, ...args], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, KILN_TEST_LOADED: file } });
  const loaded = (await readFile(file, 'utf8')).split('\n').filter((url) => url !== '');
  // The hook saw the run: the command itself at least.
  expect(loaded.some((url) => url.endsWith('/cli/dist/bin.js'))).toBe(true);
  return { status: run.status, stdout: run.stdout, stderr: run.stderr, loaded };
}

/** A port nothing listens on, for a status that finds nobody. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('what kiln loads', () => {
  it('loads nothing of the engine to print its version, its help or a new token', async () => {
    for (const args of [['--version'], ['help'], ['help', 'status'], ['status', '--help'], ['token']]) {
      const run = await kilnLoading(...args);
      expect(run.status, `${args.join(' ')}: ${run.stderr}`).toBe(0);
      expect(run.loaded.filter((url) => CORE.test(url) || HEAVY.test(url)), args.join(' ')).toEqual([]);
    }
  });

  it('loads no store or server to refuse a usage error', async () => {
    for (const args of [['stripe-of'], ['restore', '--in', 'x'], ['backup', '--out', 'x'], ['start', '--memory', '--data', 'x'], ['bench', '--bogus']]) {
      const run = await kilnLoading(...args);
      expect(run.status, `${args.join(' ')}: ${run.stderr}`).toBe(2);
      expect(run.loaded.filter((url) => HEAVY.test(url)), args.join(' ')).toEqual([]);
    }
  });

  it('loads no store, server or listener for the commands that read a file or ask a server', async () => {
    const stripeOf = await kilnLoading('stripe-of', 'orders-1', '--config', join(EXAMPLES, 'two-stripes.json'));
    expect(stripeOf.status, stripeOf.stderr).toBe(0);
    expect(stripeOf.stdout).toMatch(/\S/);
    const status = await kilnLoading('status', `tcp://127.0.0.1:${await closedPort()}`);
    expect(status.status, status.stderr).toBe(5);
    for (const run of [stripeOf, status]) expect(run.loaded.filter((url) => HEAVY.test(url))).toEqual([]);
  });

  it('refuses a bad config at start before it loads the store and the server', async () => {
    const bad = join(dir, 'bad.json');
    await writeFile(bad, '{"name": ');
    const run = await kilnLoading('start', '--config', bad);
    expect(run.status).toBe(3);
    expect(run.stderr).toMatch(/^kiln: ConfigError: .*bad\.json: is not valid JSON/);
    expect(run.loaded.filter((url) => HEAVY.test(url))).toEqual([]);
  });
});
