// Health checks and Prometheus metrics of real `kiln` processes (issue 14): each endpoint
// answers; /metrics parses strictly as Prometheus text; the commit counters move with appends;
// a mirror's lag gauges rise while it is stopped (SIGSTOP) and fall as it catches up; and an HTTP
// address beyond loopback is refused without https and auth (test/http-security.test.ts has both).
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { parse as parseYaml } from 'yaml';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { connect, type KilnClient } from '@kiln/core/client';
import { tcpTransport } from '@kiln/transport-tcp';
import { inSyncActive, killAllKilns, killAllMembers, launch, pollUntil, seededRandom, startKiln, KILN_BIN, type KilnProcess } from './support/cluster.js';
import { get, observedCluster, scrape, type ObservedMember } from './support/observed-cluster.js';
import { parsePrometheusText, valueOf } from './support/prometheus.js';
import { RawTcp } from './support/wire.js';

const dirs: string[] = [];
const tempDir = async (): Promise<string> => {
  const dir = await mkdtemp(join(tmpdir(), 'kiln-obs-'));
  dirs.push(dir);
  return dir;
};

afterEach(async () => {
  killAllMembers();
  await killAllKilns();
});
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe('a lone server with --http', () => {
  let kiln: KilnProcess;
  let http = '';

  const startLone = async (): Promise<void> => {
    kiln = await startKiln({ extraArgs: ['--http', 'http://127.0.0.1:0'] });
    http = /serves HTTP on (http:\/\/127\.0\.0\.1:\d+)/.exec(await kiln.waitForLine(/serves HTTP on/))![1]!;
  };

  it('answers live, ready, the page and 404, and counts its appends in /metrics', async () => {
    await startLone();
    const live = await get(`${http}/health/live`);
    expect(live?.status).toBe(200);
    expect(JSON.parse(live!.body)).toMatchObject({ live: true, member: 'kiln' });
    const ready = await get(`${http}/health/ready`);
    expect(ready?.status).toBe(200);
    expect(JSON.parse(ready!.body).stripes[0]).toMatchObject({ state: 'ACTIVE-COORDINATOR', ready: true, reason: expect.stringContaining('active of stripe') });
    const page = await get(`${http}/`);
    expect(page?.status).toBe(200);
    expect(page?.type).toMatch(/^text\/html/);
    expect(page?.body).toContain('new EventSource("events")');
    expect((await get(`${http}/nowhere`))?.status).toBe(404);

    const before = await scrape(http);
    expect(before.get('kiln_transactions_committed_total')?.type).toBe('counter');
    expect(before.get('kiln_commit_latency_seconds')?.type).toBe('histogram');
    expect(before.get('kiln_mirror_lag_records')?.type).toBe('gauge');
    expect(before.get('nodejs_eventloop_lag_seconds')?.type).toBe('gauge'); // prom-client's defaults
    expect(valueOf(before, 'kiln_role', { role: 'ACTIVE-COORDINATOR' })).toBe(1);
    expect(valueOf(before, 'kiln_role', { role: 'PASSIVE-STANDBY' })).toBe(0);

    const client = await connect(kiln.url, { transports: [tcpTransport()] });
    try {
      for (let i = 0; i < 20; i++) await client.append(`obs-${i % 3}`, [{ type: 'E', data: i }, { type: 'F', data: i }]);
    } finally {
      await client.close();
    }
    const after = await scrape(http);
    const delta = (name: string): number => valueOf(after, name) - valueOf(before, name);
    expect(delta('kiln_transactions_committed_total')).toBe(20);
    expect(delta('kiln_appends_committed_total')).toBe(20);
    expect(delta('kiln_events_committed_total')).toBe(40);
    expect(delta('kiln_committed_bytes_total')).toBeGreaterThan(40);
    expect(delta('kiln_commit_latency_seconds_count')).toBe(20);
    expect(delta('kiln_group_commit_records_sum')).toBe(20);
    expect(valueOf(after, 'kiln_store_write_seconds_count')).toBeGreaterThan(0);
    expect(valueOf(after, 'kiln_last_lsn')).toBe(valueOf(before, 'kiln_last_lsn') + 20);
  });

  it('counts a refused frame by its reason', async () => {
    await startLone();
    const raw = await RawTcp.open(kiln.url);
    // A frame whose body is no MessagePack at all (0xc1 is never used).
    raw.send(new Uint8Array([0xc1, 0xc1, 0xc1]));
    await raw.closed;
    const metrics = await scrape(http);
    const rejected = metrics.get('kiln_frames_rejected_total')!.samples;
    expect(rejected.reduce((sum, s) => sum + s.value, 0)).toBe(1);
    expect(rejected[0]!.labels.reason).toMatch(/Error$/);
  });
});

describe('binding', () => {
  it('refuses an HTTP address beyond loopback, from the flag or the file, before the server starts', async () => {
    const flag = spawnSync(process.execPath, [KILN_BIN, 'start', '--memory', '--listen', 'tcp://127.0.0.1:0', '--http', 'http://192.0.2.7:7412'], { encoding: 'utf8', timeout: 20_000 });
    expect(flag.status).toBe(3);
    expect(flag.stderr).toMatch(/ConfigError: --http: 'http:\/\/192\.0\.2\.7:7412' is not a loopback address: .*only with https and auth/);
    expect(flag.stderr).not.toMatch(/listening on/);

    const dir = await tempDir();
    const file = join(dir, 'kiln.config.json');
    await writeFile(file, JSON.stringify({ cluster: 'c', persistence: 'memory', servers: [{ name: 'a', listen: ['tcp://127.0.0.1:0'], http: 'http://0.0.0.0:7412' }] }));
    const fromFile = spawnSync(process.execPath, [KILN_BIN, 'start', '--config', file, '--server', 'a'], { encoding: 'utf8', timeout: 20_000 });
    expect(fromFile.status).toBe(3);
    expect(fromFile.stderr).toMatch(/servers\[a\]\.http: 'http:\/\/0\.0\.0\.0:7412' is not a loopback address/);

    await writeFile(file, JSON.stringify({ cluster: 'c', persistence: 'memory', servers: [{ name: 'a', listen: ['tcp://127.0.0.1:0'], http: 'https://127.0.0.1:7412/metrics' }] }));
    const badShape = spawnSync(process.execPath, [KILN_BIN, 'start', '--config', file, '--server', 'a'], { encoding: 'utf8', timeout: 20_000 });
    expect(badShape.status).toBe(3);
    expect(badShape.stderr).toMatch(/servers\[0\]\.http: 'https:\/\/127\.0\.0\.1:7412\/metrics' must end at the port/);
  });
});

describe('a mirror group (2 servers, 1 voter)', () => {
  it('readiness says who is active and in sync; the lag gauges rise while a mirror is stopped and fall as it catches up', async () => {
    const root = await tempDir();
    const { file, members } = await observedCluster(2, 1, root, seededRandom(1414));
    for (const m of members) launch(file, m);
    const servers = members.filter((m) => !m.voter);
    const active = await inSyncActive(servers);
    const mirror = servers.find((m) => m !== active)! as ObservedMember;
    const voter = members.find((m) => m.voter)!;
    const activeHttp = (active as ObservedMember).http;
    await pollUntil('every HTTP listener up', async () => (await Promise.all(members.map((m) => get(`${m.http}/health/live`)))).every((a) => a?.status === 200));

    const readyOf = async (m: ObservedMember) => {
      const answer = await get(`${m.http}/health/ready`);
      return { status: answer?.status, body: JSON.parse(answer?.body ?? '{}') as { stripes: Array<{ reason: string }> } };
    };
    expect((await readyOf(active as ObservedMember)).status).toBe(200);
    const mirrorReady = await readyOf(mirror);
    expect(mirrorReady.status).toBe(200);
    expect(mirrorReady.body.stripes[0]!.reason).toMatch(/in-sync mirror/);
    expect((await readyOf(voter)).status).toBe(200);

    const metrics = await scrape(activeHttp);
    expect(valueOf(metrics, 'kiln_group_servers')).toBe(2);
    expect(valueOf(metrics, 'kiln_in_sync_servers')).toBe(2);
    expect(valueOf(metrics, 'kiln_mirror_lag_records', { mirror: mirror.name })).toBe(0);
    expect(valueOf(metrics, 'kiln_term')).toBeGreaterThan(0);
    expect(valueOf(await scrape(voter.http), 'kiln_role', { role: 'PASSIVE-STANDBY' })).toBe(1);

    const client: KilnClient = await connect(servers.map((s) => s.client), { transports: [tcpTransport()], reconnectWindowMs: 20_000 });
    try {
      await client.append('lag', [{ type: 'E', data: 0 }]);
      mirror.process!.kill('SIGSTOP');
      try {
        // The mirror leaves the in-sync set after mirrorTimeoutMs; the active then commits without it.
        for (let i = 1; i <= 30; i++) await client.append('lag', [{ type: 'E', data: i }]);
        const lagRecords = async () => valueOf(await scrape(activeHttp), 'kiln_mirror_lag_records', { mirror: mirror.name });
        const lagSeconds = async () => valueOf(await scrape(activeHttp), 'kiln_mirror_lag_seconds', { mirror: mirror.name });
        expect(await lagRecords()).toBeGreaterThanOrEqual(30);
        const first = await lagSeconds();
        await pollUntil('the lag in seconds to grow', async () => (await lagSeconds()) >= first + 0.5, 10_000, 100);
        const stopped = await scrape(activeHttp);
        expect(valueOf(stopped, 'kiln_in_sync_servers')).toBe(1);
        expect(valueOf(stopped, 'kiln_mirror_in_sync', { mirror: mirror.name })).toBe(0);
        expect((await readyOf(active as ObservedMember)).status).toBe(200);
      } finally {
        mirror.process!.kill('SIGCONT');
      }
      // The resumed mirror heard from no active while it was stopped; its pre-vote poll is refused
      // (the active lives), so the active stays, and reports both members caught up once whole.
      const whole = await inSyncActive(servers);
      const wholeHttp = (whole as ObservedMember).http;
      const other = servers.find((m) => m !== whole)! as ObservedMember;
      await pollUntil('the mirror to catch up', async () => {
        const m = await scrape(wholeHttp);
        return valueOf(m, 'kiln_mirror_lag_records', { mirror: other.name }) === 0 && valueOf(m, 'kiln_mirror_lag_seconds', { mirror: other.name }) === 0 && valueOf(m, 'kiln_in_sync_servers') === 2;
      }, 30_000, 100);
      // The mirror's readiness is its own view of the in-sync set, which the active's next message brings.
      await pollUntil('the mirror to say it is ready', async () => (await readyOf(other)).status === 200, 10_000, 50);
    } finally {
      await client.close();
    }
  }, 120_000);
});

describe('the Prometheus text reader of the tests', () => {
  it('refuses what is not the exposition format', () => {
    const ok = '# HELP a_total A.\n# TYPE a_total counter\na_total{x="1"} 3\n';
    expect(valueOf(parsePrometheusText(ok), 'a_total', { x: '1' })).toBe(3);
    expect(valueOf(parsePrometheusText('# TYPE g gauge\ng{a="x\\"y"} Nan\n'), 'g', { a: 'x"y' })).toBeNaN();
    expect(() => parsePrometheusText('a_total 3\n')).toThrow(/never declared/);
    expect(() => parsePrometheusText('# TYPE a gauge\na{x="1} 3\n')).toThrow(/unterminated/);
    expect(() => parsePrometheusText('# TYPE a gauge\na 3\na 4\n')).toThrow(/repeated/);
    expect(() => parsePrometheusText('# TYPE a gauge\na  3\n')).toThrow(/one space/);
    expect(() => parsePrometheusText('# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n')).toThrow(/grow/);
  });
});

describe('docs/metrics.md and examples/alerts.yml', () => {
  it('document every kiln_ metric a server serves, and the alerts are rules over documented metrics', async () => {
    const doc = await readFile(join(import.meta.dirname, '..', 'docs', 'metrics.md'), 'utf8');
    const kiln = await startKiln({ extraArgs: ['--http', 'http://127.0.0.1:0'] });
    const http = /serves HTTP on (http:\/\/127\.0\.0\.1:\d+)/.exec(await kiln.waitForLine(/serves HTTP on/))![1]!;
    const served = [...(await scrape(http)).keys()].filter((name) => name.startsWith('kiln_'));
    expect(served.length).toBeGreaterThan(20);
    for (const name of served) expect(doc, `${name} in docs/metrics.md`).toContain(`| \`${name}\` |`);

    const rules = parseYaml(await readFile(join(import.meta.dirname, '..', 'examples', 'alerts.yml'), 'utf8')) as { groups: Array<{ name: string; rules: Array<Record<string, unknown>> }> };
    const alerts = rules.groups.flatMap((g) => g.rules);
    expect(alerts.map((r) => r.alert)).toEqual(['KilnStripeUnderReplicated', 'KilnStripeWithoutActive', 'KilnTransactionInDoubt']);
    for (const rule of alerts) {
      expect(Object.keys(rule).sort()).toEqual(['alert', 'annotations', 'expr', 'for', 'labels']);
      expect(rule.for).toMatch(/^\d+[smh]$/);
      for (const metric of String(rule.expr).match(/kiln_[a-z_]+/g) ?? []) expect(doc).toContain(`| \`${metric}\` |`);
    }
  });
});
