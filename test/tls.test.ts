// TLS on client links: the transport suite passes over tls:// and wss://; a plain client at a TLS
// port and a TLS client at a plain port get TlsError at once; under mutual TLS a listener refuses
// a missing, foreign, expired or misnamed certificate before any frame, saying why.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, groupOptionsOf, validateClusterConfig, type Connection, type KilnServer } from '@kiln/core';
import { connect } from '@kiln/core/client';
import { transportConformance } from '@kiln/core/testing';
import { createCertificateAuthority, issueCertificate } from '@kiln/cli/certs';
import { memoryStore } from '@kiln/store-memory';
import { tcpTransport } from '@kiln/transport-tcp';
import { wsTransport } from '@kiln/transport-ws';
import { KILN_BIN } from './support/cluster.js';

const ca = createCertificateAuthority({ commonName: 'test CA' });
const server = issueCertificate(ca, { commonName: 's1', altNames: ['127.0.0.1', 'localhost'] });
const limits = { frameBytesMax: 1 << 20, sendQueueBytesMax: 4 << 20, connectionsMax: 16 };

transportConformance({ describe, it, expect }, {
  name: 'tls',
  setup: async () => ({ transport: tcpTransport({ tls: { ca: ca.cert, cert: server.cert, key: server.key } }), listenUrl: 'tls://127.0.0.1:0' }),
});

const dir = await mkdtemp(join(tmpdir(), 'kiln-tls-'));
await writeFile(join(dir, 'cert.pem'), server.cert);
await writeFile(join(dir, 'key.pem'), server.key, { mode: 0o600 });
afterAll(() => rm(dir, { recursive: true, force: true }));

transportConformance({ describe, it, expect }, {
  name: 'wss',
  setup: async () => ({ transport: wsTransport({ tls: { ca: ca.cert, certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem') } }), listenUrl: 'wss://127.0.0.1:0' }),
  capabilities: { carriesCloseReason: false },
});

describe('a scheme that does not match the port', () => {
  let kiln: KilnServer;
  beforeAll(async () => {
    kiln = await createServer({ store: memoryStore(), transports: [tcpTransport({ tls: { cert: server.cert, key: server.key } })], listen: ['tls://127.0.0.1:0', 'tcp://127.0.0.1:0'] });
  });
  afterAll(() => kiln.close());

  it('serves plain and TLS clients side by side', async () => {
    const secure = await connect(kiln.urls[0]!, { transports: [tcpTransport({ tls: { ca: ca.cert } })] });
    const plain = await connect(kiln.urls[1]!, { transports: [tcpTransport()] });
    expect((await secure.append('s', [{ type: 'T', data: 1 }])).lsn).toBe(1);
    expect((await plain.append('s', [{ type: 'T', data: 2 }])).lsn).toBe(2);
    await Promise.all([secure.close(), plain.close()]);
  });

  it('a plain client at a tls:// port gets TlsError saying so', async () => {
    const error = await connect(kiln.urls[0]!.replace('tls:', 'tcp:'), { transports: [tcpTransport()] }).catch((e: Error) => e);
    expect(error).toMatchObject({ name: 'TlsError', message: expect.stringContaining('dial it with tls://') });
  });

  it('a TLS client at a plain port gets TlsError saying so', async () => {
    const error = await connect(kiln.urls[1]!.replace('tcp:', 'tls:'), { transports: [tcpTransport({ tls: { ca: ca.cert } })] }).catch((e: Error) => e);
    expect(error).toMatchObject({ name: 'TlsError', message: expect.stringContaining('did not answer in TLS') });
  });

  it('a TLS client that does not trust the server gets TlsError', async () => {
    const error = await connect(kiln.urls[0]!, { transports: [tcpTransport()] }).catch((e: Error) => e);
    expect(error).toMatchObject({ name: 'TlsError' });
  });
});

describe('mutual TLS on a listener', () => {
  const refusals: string[] = [];
  const accepted: Connection[] = [];
  let url = '';
  let close: () => Promise<void>;
  const listening = tcpTransport({ tls: { ca: ca.cert, cert: server.cert, key: server.key } });
  beforeAll(async () => {
    const listener = await listening.listen!('tls://127.0.0.1:0', (c) => void accepted.push(c), {
      ...limits,
      requireCertificate: { names: ['s1', 's2', 'v1'], onRefused: (_address, reason) => void refusals.push(reason) },
    });
    url = listener.url;
    close = () => listener.close();
  });
  afterAll(() => close());

  const dialWith = (pair: { cert: string; key: string } | undefined, serverName = 's1') =>
    tcpTransport({ tls: { ca: ca.cert, ...pair } }).dial(url, { ...limits, serverName });
  const day = 86_400_000;
  const cases: Array<[string, () => { cert: string; key: string } | undefined, RegExp]> = [
    ['no certificate', () => undefined, /presented no certificate/],
    ['a certificate of another CA', () => issueCertificate(createCertificateAuthority({ commonName: 'other CA' }), { commonName: 's2' }), /not signed by the cluster's CA/],
    ['an expired certificate', () => issueCertificate(ca, { commonName: 's2', notBefore: new Date(Date.now() - 2 * day), notAfter: new Date(Date.now() - day) }), /CERT_HAS_EXPIRED/],
    ['a certificate naming no member', () => issueCertificate(ca, { commonName: 'mallory' }), /names mallory, no member/],
  ];
  for (const [what, pair, reason] of cases) {
    it(`refuses ${what} before any frame, and says why`, async () => {
      const before = accepted.length;
      const connection = await dialWith(pair());
      const info = await connection.closed;
      expect(info.error).toMatchObject({ name: 'TlsError', message: expect.stringMatching(reason) });
      expect(refusals.at(-1)).toMatch(reason);
      expect(accepted.length).toBe(before);
    });
  }

  it("accepts a member's certificate and tells who it is; the dialer checks the server's name", async () => {
    const s2 = issueCertificate(ca, { commonName: 's2' });
    const connection = await dialWith(s2);
    await expect.poll(() => accepted.at(-1)?.certificateName).toBe('s2');
    connection.close();
    const wrongServer = await dialWith(s2, 's3').catch((e: Error) => e);
    expect(wrongServer).toMatchObject({ name: 'TlsError', message: expect.stringContaining("not the member 's3'") });
  });
});

describe('the cluster file under TLS', () => {
  const member = (name: string, port: number) => ({ name, listen: [`tls://127.0.0.1:${port}`], peer: `tls://127.0.0.1:${port + 1}`, dataDir: `d/${name}`, tls: { certFile: `${name}.pem`, keyFile: `${name}-key.pem` } });
  const file = () => ({ cluster: 'c', tls: { caFile: 'ca.pem' }, servers: [member('s1', 7000), member('s2', 7010)], voters: [{ name: 'v1', peer: 'tls://127.0.0.1:7020', tls: { certFile: 'v1.pem', keyFile: 'v1-key.pem' } }] });
  const refusal = (edit: (config: ReturnType<typeof file>) => void): unknown => {
    const config = file();
    edit(config);
    try {
      validateClusterConfig(config);
    } catch (error) {
      return error;
    }
    return undefined;
  };

  it('accepts a mutual TLS cluster and marks its groups mutual TLS', () => {
    expect(groupOptionsOf(validateClusterConfig(file()), 's1').mutualTls).toBe(true);
  });

  it('refuses a tcp:// peer, a member without its certificate, and TLS listening without one, naming the field', () => {
    expect(refusal((c) => (c.servers[1]!.peer = 'tcp://127.0.0.1:7011'))).toMatchObject({ name: 'ConfigError', field: 'servers[1].peer' });
    expect(refusal((c) => (c.voters[0]!.peer = 'tcp://127.0.0.1:7021'))).toMatchObject({ name: 'ConfigError', field: 'voters[0].peer' });
    expect(refusal((c) => delete (c.voters[0] as { tls?: unknown }).tls)).toMatchObject({ name: 'ConfigError', field: 'voters[0].tls' });
    expect(refusal((c) => delete (c as { tls?: unknown }).tls)).toMatchObject({ name: 'ConfigError', field: 'servers[0].peer' });
    const noCert = refusal((c) => {
      delete (c as { tls?: unknown }).tls;
      for (const s of c.servers) s.peer = s.peer.replace('tls:', 'tcp:');
      c.voters[0]!.peer = 'tcp://127.0.0.1:7020';
      delete (c.servers[0] as { tls?: unknown }).tls;
    });
    expect(noCert).toMatchObject({ name: 'ConfigError', field: 'servers[0].tls' });
  });

  it('never prints a value given for a key file', () => {
    const secret = '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMG\n-----END PRIVATE KEY-----';
    const error = refusal((c) => ((c.servers[0]!.tls as { keyFile: unknown }).keyFile = { pem: secret })) as Error;
    expect(error).toMatchObject({ name: 'ConfigError', field: 'servers[0].tls.keyFile' });
    expect(error.message).not.toContain('PRIVATE KEY');
  });
});

describe('kiln start with a certificate out of its dates', () => {
  const day = 24 * 60 * 60 * 1000;
  const start = async (name: string, notBefore: Date, notAfter: Date): Promise<ReturnType<typeof spawnSync>> => {
    const pair = issueCertificate(ca, { commonName: 's1', altNames: ['127.0.0.1'], notBefore, notAfter });
    await writeFile(join(dir, `${name}.pem`), pair.cert);
    await writeFile(join(dir, `${name}-key.pem`), pair.key, { mode: 0o600 });
    const args = ['start', '--memory', '--listen', 'wss://127.0.0.1:0', '--tls-cert', join(dir, `${name}.pem`), '--tls-key', join(dir, `${name}-key.pem`)];
    return spawnSync(process.execPath, [KILN_BIN, ...args], { encoding: 'utf8', timeout: 20_000 });
  };

  it('stops with one line and exit 3 (it served ports every client refused)', async () => {
    const expired = await start('expired', new Date(Date.now() - 2 * day), new Date(Date.now() - day));
    expect(expired.status).toBe(3);
    expect(String(expired.stderr).trim().split('\n')).toEqual([expect.stringMatching(/^kiln: ConfigError: .*certFile: the certificate expired on/)]);
    const early = await start('early', new Date(Date.now() + day), new Date(Date.now() + 2 * day));
    expect(early.status).toBe(3);
    expect(String(early.stderr)).toMatch(/the certificate is not valid until/);
  });
});
