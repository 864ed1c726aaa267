// Mutual TLS between real processes, from examples/tls-cluster.json after `kiln certs`: the
// servers refuse a peer with no certificate, one of another CA, an expired one or one naming no
// member, before reading a message, and log why; with valid certificates the group elects, serves
// clients over tls:// and wss://, and fails over when its active is killed with SIGKILL. The
// operator commands reach it with the cluster's CA, and a member's hello at a client address is refused.
import { afterAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { encode } from '@msgpack/msgpack';
import { PROTOCOL_VERSION, validateClusterConfig } from '@kiln/core';
import { connect, type KilnClient, type ServerStatus } from '@kiln/core/client';
import { createCertificateAuthority, issueCertificate } from '@kiln/cli/certs';
import { tcpTransport } from '@kiln/transport-tcp';
import { wsTransport } from '@kiln/transport-ws';
import { freeFixedPort, kill, KILN_BIN, killAllKilns, killAllMembers, launch, pollUntil, seededRandom, startKiln, TEST_TIMING, type Member } from './support/cluster.js';

const EXAMPLE = new URL('../examples/tls-cluster.json', import.meta.url);
const DAY_MS = 86_400_000;
const kiln = (...args: string[]): Promise<{ stdout: string; stderr: string }> => promisify(execFile)(process.execPath, [KILN_BIN, ...args], { timeout: 60_000 });

/** The parts of `kiln status --config F --json` these tests read. */
interface ClusterStatusJson {
  stripes: Array<{ active: string | null; members: Array<{ name: string; reachable: boolean; inSync: boolean | null }> }>;
  voters: Array<{ name: string; reachable: boolean }>;
}

let root = '';
afterAll(async () => {
  killAllMembers();
  await killAllKilns();
  if (root !== '' && !process.env.KILN_KEEP) await rm(root, { recursive: true, force: true });
});

/** The example on free ports, its data in `root`, with the tests' timing; certificate paths as written. */
async function exampleIn(dir: string): Promise<{ file: string; members: Member[] }> {
  const random = seededRandom(Number(process.env.KILN_TLS_SEED ?? Math.floor(Math.random() * 2 ** 31)));
  const text = await readFile(EXAMPLE, 'utf8');
  const ports = new Map<string, number>();
  for (const [, port] of text.matchAll(/127\.0\.0\.1:(\d+)/g)) if (!ports.has(port!)) ports.set(port!, await freeFixedPort(() => random.int(20_000, 30_000)));
  const config = JSON.parse(text.replace(/127\.0\.0\.1:(\d+)/g, (_, port: string) => `127.0.0.1:${ports.get(port)}`).replace(/\.\/data\//g, `${dir}/`));
  Object.assign(config, TEST_TIMING, { reconnectWindowMs: 20_000 });
  const file = join(dir, 'kiln.config.json');
  await writeFile(file, JSON.stringify(config));
  const valid = validateClusterConfig(config);
  const members: Member[] = [
    ...valid.servers!.map((s) => ({ name: s.name, voter: false, client: s.listen[0]!, peer: s.peer!, dataDir: s.dataDir! })),
    ...valid.voters.map((v) => ({ name: v.name, voter: true, client: '', peer: v.peer, dataDir: v.dataDir! })),
  ];
  return { file, members };
}

describe('a TLS cluster from examples/tls-cluster.json', () => {
  it('refuses fake members, elects, serves tls:// and wss://, and fails over', async () => {
    root = await mkdtemp(join(tmpdir(), 'kiln-tls-cluster-'));
    const { file, members } = await exampleIn(root);
    await promisify(execFile)(process.execPath, [KILN_BIN, 'certs', '--config', file, '--out', join(root, 'certs')]);
    for (const name of ['ca', 's1', 's2', 'v1']) expect((await stat(join(root, 'certs', `${name}-key.pem`))).mode & 0o077).toBe(0);
    const ca = await readFile(join(root, 'certs', 'ca.pem'), 'utf8');
    const caKey = await readFile(join(root, 'certs', 'ca-key.pem'), 'utf8');
    for (const m of members) launch(file, m);
    const servers = members.filter((m) => !m.voter);
    const tls = tcpTransport({ tls: { ca } });

    const statusOf = async (url: string): Promise<ServerStatus | undefined> => {
      const client = await connect(url, { transports: [tls], reconnectWindowMs: 0, requestTimeoutMs: 2000 }).catch(() => undefined);
      return client?.serverStatus().finally(() => client.close()).catch(() => undefined);
    };
    let active: Member | undefined;
    await pollUntil('an active in sync with its mirror', async () => {
      const statuses = await Promise.all(servers.map((m) => statusOf(m.client)));
      const i = statuses.findIndex((s) => s?.state === 'ACTIVE-COORDINATOR');
      active = servers[i];
      return i >= 0 && statuses[i]!.group!.inSync.length === 2;
    }, 60_000, 100);

    // Operator commands trust the cluster file's CA; a voter's peer address answers them only with a member's certificate.
    const whole = JSON.parse((await kiln('status', '--config', file, '--json')).stdout) as ClusterStatusJson;
    expect(whole.stripes[0]!.active).toBe(active!.name);
    expect(whole.stripes[0]!.members.map((m) => [m.name, m.reachable, m.inSync])).toEqual(servers.map((m) => [m.name, true, true]));
    expect(whole.voters).toEqual([expect.objectContaining({ name: 'v1', reachable: false })]);
    const withCertificate = ['--tls-cert', join(root, 'certs', 'v1.pem'), '--tls-key', join(root, 'certs', 'v1-key.pem')];
    const asV1 = JSON.parse((await kiln('status', '--config', file, '--json', ...withCertificate)).stdout) as ClusterStatusJson;
    expect(asV1.voters).toEqual([expect.objectContaining({ name: 'v1', reachable: true })]);
    const table = (await kiln('status', '--config', file)).stdout;
    expect(table).toMatch(new RegExp(`active ${active!.name}, term \\d+`));
    expect(JSON.parse((await kiln('txn', 'list', '--config', file, '--json')).stdout)).toEqual([]);
    // The active answers (a cluster of one stripe holds no transaction over several), so it was reached.
    await expect(kiln('txn', 'resolve', 'some-txn', '--abort', '--config', file)).rejects.toMatchObject({ stderr: expect.stringMatching(/this server is in a cluster of one stripe/) });
    expect(JSON.parse((await kiln('status', active!.client, '--config', file, '--json')).stdout)).toMatchObject({ name: active!.name, state: 'ACTIVE-COORDINATOR' });
    expect((await kiln('diverged', active!.client, '--config', file)).stdout).toMatch(/no diverged transactions/);
    await expect(kiln('status', '--config', file, '--tls-cert', join(root, 'certs', 'v1.pem'))).rejects.toMatchObject({ stderr: expect.stringMatching(/--tls-cert and --tls-key go together/) });

    // A member's hello at a client address, which asks for no certificate, is refused, and logged.
    const s2 = await readFile(join(root, 'certs', 's2.pem'), 'utf8');
    const s2Key = await readFile(join(root, 'certs', 's2-key.pem'), 'utf8');
    const limits = { frameBytesMax: 1 << 20, sendQueueBytesMax: 1 << 22 };
    const atClientAddress = await tcpTransport({ tls: { ca, cert: s2, key: s2Key } }).dial(active!.client, limits);
    atClientAddress.send(encode([0, { version: PROTOCOL_VERSION, role: 'peer', name: 's2' }]));
    const stillOpen = new Promise<{ reason: string }>((resolve) => setTimeout(() => resolve({ reason: 'still open after 10 s' }), 10_000).unref());
    expect((await Promise.race([atClientAddress.closed, stillOpen])).reason).toMatch(/refused: it presented no certificate/);
    atClientAddress.close();
    await pollUntil(`${active!.name} logs why it refused a peer hello at its client address`, async () => {
      const log = await readFile(join(root, `${active!.name}.log`), 'utf8');
      return log.split('\n').some((line) => line.includes('refused a peer connection') && /presented no certificate: members connect to the peer address/.test(line));
    });

    // Fake members at the active's peer address: each refused before a message, with a log line saying why.
    const caPair = { cert: ca, key: caKey };
    const fakes: Array<[string, { cert: string; key: string } | undefined, RegExp]> = [
      ['no certificate', undefined, /presented no certificate/],
      ['another CA', issueCertificate(createCertificateAuthority({ commonName: 'tls-cluster development CA' }), { commonName: 'v1' }), /not signed by the cluster's CA/],
      ['expired', issueCertificate(caPair, { commonName: 'v1', notBefore: new Date(Date.now() - 2 * DAY_MS), notAfter: new Date(Date.now() - DAY_MS) }), /has expired/],
      ['wrong name', issueCertificate(caPair, { commonName: 'mallory' }), /names mallory, no member/],
    ];
    for (const [what, pair, reason] of fakes) {
      const connection = await tcpTransport({ tls: { ca, ...pair } }).dial(active!.peer, { ...limits, serverName: active!.name });
      const info = await connection.closed;
      expect(info.error?.name, what).toBe('TlsError');
      await pollUntil(`${active!.name} logs why it refused ${what}`, async () => {
        const log = await readFile(join(root, `${active!.name}.log`), 'utf8');
        return log.split('\n').some((line) => line.includes('refused a peer connection') && reason.test(line));
      });
    }
    // A member dialled under another member's address is not taken for it.
    const wrongServer = await tcpTransport({ tls: { ca, cert: s2, key: s2Key } }).dial(active!.peer, { ...limits, serverName: 'v1' }).catch((e: Error) => e);
    expect(wrongServer).toMatchObject({ name: 'TlsError' });
    const logs = await Promise.all(members.map((m) => readFile(join(root, `${m.name}.log`), 'utf8')));
    expect(logs.join('\n')).not.toMatch(/PRIVATE KEY/);

    // Clients over tls:// and wss://, then SIGKILL of the active: the mirror takes over.
    const client: KilnClient = await connect(servers.map((m) => m.client), { transports: [tls], reconnectWindowMs: 20_000, requestTimeoutMs: 20_000 });
    const wssUrl = JSON.parse(await readFile(file, 'utf8')).servers.find((s: { name: string }) => s.name === active!.name).listen[1] as string;
    const viaWss = await connect(wssUrl, { transports: [wsTransport({ tls: { ca } })], reconnectWindowMs: 0 });
    expect((await viaWss.append('orders', [{ type: 'Placed', data: 1 }])).lsn).toBeGreaterThan(0);
    await viaWss.close();
    const before = await client.append('orders', [{ type: 'Placed', data: 2 }]);
    await kill(active!);
    const after = await client.append('orders', [{ type: 'Placed', data: 3 }]);
    expect(after.lsn).toBeGreaterThan(before.lsn);
    const survivor = servers.find((m) => m !== active)!;
    expect((await statusOf(survivor.client))?.state).toBe('ACTIVE-COORDINATOR');
    await client.close();
  }, 120_000);
});

describe('kiln start --tls-cert --tls-key', () => {
  it('listens on tls:// beside tcp://, and a client trusting the CA appends over it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kiln-tls-start-'));
    try {
      const ca = createCertificateAuthority({ commonName: 'start CA' });
      const pair = issueCertificate(ca, { commonName: 'kiln', altNames: ['127.0.0.1'] });
      await writeFile(join(dir, 'cert.pem'), pair.cert);
      await writeFile(join(dir, 'key.pem'), pair.key, { mode: 0o600 });
      const kiln = await startKiln({ extraArgs: ['--listen', 'tls://127.0.0.1:0', '--tls-cert', join(dir, 'cert.pem'), '--tls-key', join(dir, 'key.pem')] });
      const line = await kiln.waitForLine(/listening on/);
      const url = /(tls:\/\/127\.0\.0\.1:\d+)/.exec(line)![1]!;
      const client = await connect(url, { transports: [tcpTransport({ tls: { ca: ca.cert } })], reconnectWindowMs: 0 });
      expect((await client.append('s', [{ type: 'T', data: 1 }])).lsn).toBe(1);
      await client.close();
      await kiln.stop();
      expect(kiln.lines.join('\n')).not.toMatch(/PRIVATE KEY/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
