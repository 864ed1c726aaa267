// The cluster files in examples/ (issue 13): each loads as written, the configurations the docs
// show are these files, and examples/cluster.sh starts one for real, says where it listens, and
// stops it by pid.
import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readClusterConfig } from '@kiln/cli';
import { connect } from '@kiln/core/client';
import { tcpTransport } from '@kiln/transport-tcp';
import { KILN_BIN, pollUntil } from './support/cluster.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const EXAMPLES = join(ROOT, 'examples');
const SCRIPT = join(EXAMPLES, 'cluster.sh');
const files = readdirSync(EXAMPLES).filter((f) => f.endsWith('.json'));

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('examples/', () => {
  it.each(files)('%s loads as a cluster file, every address on 127.0.0.1 at a fixed port from 7410 up', async (file) => {
    const config = await readClusterConfig(join(EXAMPLES, file));
    expect(config.cluster).toBeTruthy();
    const text = readFileSync(join(EXAMPLES, file), 'utf8');
    for (const [, host, port] of text.matchAll(/\w+:\/\/([\d.]+):(\d+)/g)) {
      expect(host).toBe('127.0.0.1');
      expect(Number(port)).toBeGreaterThanOrEqual(7410);
    }
  });

  it('keeps the ready files the docs point to, and the ones other tests run', () => {
    expect(files).toEqual(expect.arrayContaining(['one-server.json', 'two-servers-voter.json', 'three-servers.json', 'three-servers-memory.json', 'two-stripes.json', 'tls-cluster.json', 'auth-cluster.json']));
  });

  it.each(['configuration.md', 'replication.md'])('docs/%s shows the example files as they are', (doc) => {
    const text = readFileSync(join(ROOT, 'docs', doc), 'utf8');
    const blocks = [...text.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1]!);
    expect(blocks.length).toBeGreaterThan(0);
    for (const block of blocks) {
      const same = files.find((f) => readFileSync(join(EXAMPLES, f), 'utf8').trim() === block.trim());
      expect(same, `a json block of docs/${doc} that is no file of examples/:\n${block}`).toBeDefined();
    }
  });

  it('cluster.sh starts every member of a file, prints where each listens, and stops them by pid', async () => {
    const run = await mkdtemp(join(tmpdir(), 'kiln-examples-'));
    cleanups.push(() => rm(run, { recursive: true, force: true }));
    const file = join(EXAMPLES, 'three-servers-memory.json');
    const env = { ...process.env, KILN_RUN_DIR: run };
    cleanups.push(async () => spawnSync(SCRIPT, ['stop', file], { env, encoding: 'utf8' }));
    const started = spawnSync(SCRIPT, ['start', file], { env, encoding: 'utf8', timeout: 60_000 });
    expect(started.status, started.stderr).toBe(0);
    for (const [name, port] of [['m1', 7440], ['m2', 7442], ['m3', 7444]] as const) {
      expect(started.stdout).toMatch(new RegExp(`^${name} \\(pid \\d+\\): listening on tcp://127\\.0\\.0\\.1:${port}`, 'm'));
    }
    const pids = [...started.stdout.matchAll(/\(pid (\d+)\)/g)].map((m) => Number(m[1]));
    expect(pids).toHaveLength(3);

    const client = await connect(['tcp://127.0.0.1:7440', 'tcp://127.0.0.1:7442', 'tcp://127.0.0.1:7444'], { transports: [tcpTransport()], reconnectWindowMs: 20_000 });
    cleanups.push(() => client.close());
    expect((await client.append('order-1', [{ type: 'Placed', data: { n: 1 } }])).lsn).toBe(1);
    const status = spawnSync(process.execPath, [KILN_BIN, 'status', '--config', file], { encoding: 'utf8', timeout: 20_000 });
    expect(status.stdout).toMatch(/stripe scratch: active m\d, term \d+/);
    await client.close();

    const stopped = spawnSync(SCRIPT, ['stop', file], { env, encoding: 'utf8', timeout: 60_000 });
    expect(stopped.status, stopped.stderr).toBe(0);
    expect(stopped.stdout.match(/^stopped m\d \(pid \d+\)$/gm)).toHaveLength(3);
    const alive = (pid: number): boolean => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    await pollUntil('every member exited', () => pids.every((pid) => !alive(pid)));
  });
});
