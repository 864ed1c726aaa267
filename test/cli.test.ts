// The `kiln` command as a user runs it: start, status, config errors, and a clean shutdown on
// SIGTERM or SIGINT that answers or fails every request in flight and loses nothing acknowledged.
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, KilnError, type KilnClient } from '@kiln/core/client';
import { tcpTransport } from '@kiln/transport-tcp';
import { killAllKilns, KILN_BIN, startKiln } from './support/cluster.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await killAllKilns();
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kiln-cli-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function client(url: string, reconnectWindowMs = 0): Promise<KilnClient> {
  const c = await connect(url, { transports: [tcpTransport()], reconnectWindowMs });
  cleanups.push(() => c.close());
  return c;
}

const kiln = (...args: string[]) => spawnSync(process.execPath, [KILN_BIN, ...args], { encoding: 'utf8', timeout: 20_000 });

describe('kiln start and kiln status', () => {
  it('prints the state, LSN, commit index and connections of a running server', async () => {
    const server = await startKiln();
    const c = await client(server.url);
    await c.append('s', [{ type: 'E', data: 1 }]);
    const status = kiln('status', server.url);
    expect(status.status).toBe(0);
    expect(status.stdout).toMatch(/state\s+ACTIVE-COORDINATOR/);
    expect(status.stdout).toMatch(/last LSN\s+1/);
    expect(status.stdout).toMatch(/commit index\s+1/);
    expect(status.stdout).toMatch(/connections\s+2/);
    const json = JSON.parse(kiln('status', server.url, '--json').stdout) as Record<string, unknown>;
    expect(json).toMatchObject({ state: 'ACTIVE-COORDINATOR', lastLsn: 1, commitIndex: 1, persistent: false });
  });

  it('prints an empty diverged report for a server that never diverged, and refuses bad admin use', async () => {
    const server = await startKiln();
    const diverged = kiln('diverged', server.url);
    expect(diverged.status).toBe(0);
    expect(diverged.stdout).toMatch(/no diverged transactions/);
    const noAction = kiln('admin', 'grow');
    expect(noAction.status).toBe(2);
    expect(noAction.stderr).toMatch(/add-mirror or remove-mirror/);
    const noFile = kiln('admin', 'add-mirror', '--name', 's3');
    expect(noFile.status).toBe(2);
    expect(noFile.stderr).toMatch(/needs --config FILE and --name NAME/);
  });

  it('fails to start on a bad config, naming the field', async () => {
    const dir = await tempDir();
    const file = join(dir, 'kiln.config.json');
    await writeFile(file, JSON.stringify({ listen: ['http://127.0.0.1:1'] }));
    const result = kiln('start', '--config', file);
    expect(result.status).toBe(3);
    expect(result.stderr).toContain('ConfigError: listen[0]');
    expect(kiln('start', '--memory', '--data', dir).status).toBe(2);
    expect(kiln('status', 'tcp://127.0.0.1:1').status).toBe(5);
  });

  it('reads its settings from a config file', async () => {
    const dir = await tempDir();
    const file = join(dir, 'kiln.config.json');
    await writeFile(file, JSON.stringify({ name: 'from-file', persistence: 'memory', limits: { inFlightMax: 64, dedupWindow: 64 } }));
    const server = await startKiln({ extraArgs: ['--config', file] });
    await server.waitForLine(/from-file listening on .* \(memory mode/);
    const c = await client(server.url);
    expect(await c.serverStatus()).toMatchObject({ name: 'from-file', persistent: false });
  });

  it('runs the single server of a cluster file, and refuses flags beside one', async () => {
    const dir = await tempDir();
    const file = join(dir, 'kiln.config.json');
    await writeFile(file, JSON.stringify({ cluster: 'dev', persistence: 'memory', servers: [{ name: 'solo', listen: ['tcp://127.0.0.1:0'] }] }));
    const server = await startKiln({ args: ['--config', file] });
    const c = await client(server.url);
    expect(await c.serverStatus()).toMatchObject({ name: 'solo', state: 'ACTIVE-COORDINATOR' });
    const refused = kiln('start', '--config', file, '--memory');
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain('cannot be used with a cluster file');
  });

  it('shuts down cleanly on a SIGTERM that comes while it is still starting', async () => {
    // The signal handlers were installed after the server had started and logged: a SIGTERM in
    // between (a restart on a large store takes a while) killed it without a clean close.
    const dir = await tempDir();
    const child = spawn(process.execPath, [KILN_BIN, 'start', '--data', dir, '--listen', 'tcp://127.0.0.1:0'], { stdio: ['ignore', 'ignore', 'pipe'] });
    cleanups.push(async () => void child.kill('SIGKILL'));
    let output = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      if (output === '') child.kill('SIGTERM'); // at the server's first line, before the CLI says it listens
      output += chunk;
    });
    const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(output).toMatch(/SIGTERM received/);
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`shuts down cleanly on ${signal}: requests in flight answered or failed, nothing acknowledged lost`, async () => {
      const dir = await tempDir();
      const server = await startKiln({ dataDir: dir });
      const c = await client(server.url);
      const outcomes = Array.from({ length: 400 }, (_, i) =>
        c.append(`shut-${i % 7}`, [{ id: `e-${i}`, type: 'E', data: i }]).then(
          () => ({ i, ok: true as const }),
          (error: unknown) => ({ i, ok: false as const, error }),
        ),
      );
      await server.waitForLine(/listening/);
      const exit = await server.stop(signal);
      expect(exit.code).toBe(0);
      expect(server.lines.join('\n')).toMatch(/shutting down/);
      const settled = await Promise.all(outcomes);
      for (const outcome of settled) if (!outcome.ok) expect(outcome.error).toBeInstanceOf(KilnError);
      const acked = new Set(settled.filter((o) => o.ok).map((o) => `e-${o.i}`));

      const restarted = await startKiln({ dataDir: dir });
      const reader = await client(restarted.url);
      const stored = (await reader.readAll({ maxCount: 1000 })).map((e) => e.id);
      const storedIds = new Set(stored);
      expect(storedIds.size).toBe(stored.length);
      expect([...acked].filter((id) => !storedIds.has(id))).toEqual([]);
    });
  }
});
