// The HTTP listener behind TLS and auth (issues 12 and 14), on real `kiln` processes: https with
// the member's own certificate; credentials (HTTP Basic or a Bearer token, of a role with read on
// "*") on every path but the health probes, which answer only yes or no; one 401 for every
// failure, logged by the server without the secret; an address beyond loopback only with https and
// auth. And the operator commands with credentials: `kiln status URL` refused without, served with.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '@kiln/core';
import { checkHttpBind } from '../packages/cli/src/http/bind-policy.js';
import { authConfig, PASSWORDS, TOKENS } from './support/auth.js';
import { KILN_BIN, killAllKilns, startKiln, type KilnProcess } from './support/cluster.js';
import { parsePrometheusText } from './support/prometheus.js';
import { freePort } from './support/stripes.js';

const dirs: string[] = [];
afterEach(killAllKilns);
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

let auth: Awaited<ReturnType<typeof authConfig>>;
beforeAll(async () => {
  auth = await authConfig();
});

/** A one-server cluster file with the server's certificate (from `kiln certs`), `http` and, unless left out, `auth`. */
async function clusterFile(http: string, withAuth = true): Promise<{ file: string; ca: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'kiln-https-'));
  dirs.push(dir);
  const file = join(dir, 'cluster.json');
  const config = { cluster: 'c', persistence: 'memory', servers: [{ name: 'a', listen: [`tcp://127.0.0.1:${await freePort()}`], http, tls: { certFile: 'a.pem', keyFile: 'a-key.pem' } }], ...(withAuth && { auth }) };
  await writeFile(file, JSON.stringify(config));
  const certs = spawnSync(process.execPath, [KILN_BIN, 'certs', '--config', file, '--out', dir], { encoding: 'utf8', timeout: 20_000 });
  expect(certs.status, certs.stderr).toBe(0);
  return { file, ca: await readFile(join(dir, 'ca.pem'), 'utf8') };
}

interface Answer {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/** GETs `url` over https, trusting `ca`, with an `Authorization` header when given. */
function get(url: string, ca: string, authorization?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, headers: authorization ? { authorization } : {}, timeout: 15_000 }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode!, body, headers: response.headers }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer`)));
    req.on('error', reject);
    req.end();
  });
}

const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

async function startHttps(file: string): Promise<{ kiln: KilnProcess; http: string }> {
  const kiln = await startKiln({ args: ['--config', file] });
  const http = /serves HTTP on (https:\/\/[^ ]+)/.exec(await kiln.waitForLine(/serves HTTP on/))![1]!;
  return { kiln, http };
}

describe('the HTTP listener over https, in a cluster with auth', () => {
  it('serves the probes to anyone (yes or no only), and metrics, the page and its feed only to a user or token with read on "*"', async () => {
    const { file, ca } = await clusterFile('https://127.0.0.1:0');
    // The member's token: its status page asks the members (itself included) with it.
    process.env.KILN_STRIPE_TOKEN = TOKENS.billing;
    const { kiln, http } = await startHttps(file).finally(() => delete process.env.KILN_STRIPE_TOKEN);
    expect(http).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);

    for (const path of ['/health/live', '/health/ready']) {
      const probe = await get(`${http}${path}`, ca);
      expect(probe.status).toBe(200);
      expect(JSON.parse(probe.body)).toEqual({ ok: true });
    }

    const ops = basic('ops', PASSWORDS.ops);
    const metrics = await get(`${http}/metrics`, ca, ops);
    expect(metrics.status).toBe(200);
    expect(parsePrometheusText(metrics.body).get('kiln_role')?.type).toBe('gauge');
    expect((await get(`${http}/metrics`, ca, `Bearer ${TOKENS.billing}`)).status).toBe(200); // the token's role reads "*"
    const page = await get(`${http}/`, ca, ops);
    expect(page.status).toBe(200);
    expect(page.body).toContain('new EventSource("events")');
    const picture = JSON.parse((await get(`${http}/cluster.json`, ca, ops)).body);
    expect(picture).toMatchObject({ servedBy: 'a', cluster: { stripes: [{ active: 'a', members: [{ name: 'a', state: 'ACTIVE-COORDINATOR', reachable: true }] }] } });
    // alice signs in, but her roles do not read every stream.
    const alice = await get(`${http}/metrics`, ca, basic('alice', PASSWORDS.alice));
    expect(alice.status).toBe(403);
    expect(alice.body).toContain(`permission 'read' on every stream`);

    // No credentials on every guarded path; wrong ones of every kind (each failure slows the next down, so on one path).
    const wrong = [basic('alice', 'wrong-pw-Qx4'), basic('nobody', PASSWORDS.alice), 'Bearer kiln_wrong-token-Rz8', 'Basic %%%', `Bearer ${'x'.repeat(5000)}`];
    const attempts = [...['/', '/metrics', '/events', '/cluster.json'].map((path) => [path, undefined] as const), ...wrong.map((authorization) => ['/metrics', authorization] as const)];
    for (const [path, authorization] of attempts) {
      const refused = await get(`${http}${path}`, ca, authorization);
      expect(refused.status, `${path} with ${authorization?.slice(0, 20)}`).toBe(401);
      expect(refused.body).toBe(`${JSON.stringify({ error: 'authentication failed: credentials missing or not accepted' })}\n`);
      expect(refused.headers['www-authenticate']).toMatch(/^Basic realm="kiln"/);
    }

    await kiln.stop();
    const output = kiln.lines.join('\n');
    expect(output).toMatch(/a \(HTTP\): authentication failed from https:\/\/127\.0\.0\.1:\d+ \(user "alice"\)/);
    expect(output).toMatch(/a \(HTTP\): authentication failed from https:\/\/127\.0\.0\.1:\d+ \(a token\)/);
    for (const secret of ['wrong-pw-Qx4', 'kiln_wrong-token-Rz8', PASSWORDS.alice, PASSWORDS.ops, TOKENS.billing]) expect(output).not.toContain(secret);
  }, 60_000);

  it('does not speak plain http on its https port', async () => {
    const { file } = await clusterFile('https://127.0.0.1:0');
    const { http } = await startHttps(file);
    const plain = await fetch(http.replace('https:', 'http:'), { signal: AbortSignal.timeout(5000) }).then((r) => r.status, (e: Error) => e);
    expect(plain === 400 || plain instanceof Error).toBe(true);
  });
});

describe('where the HTTP listener may bind', () => {
  const guards = { certificate: true, auth: true };

  it('refuses an address beyond loopback without https and auth, naming the field and what is missing', () => {
    const refusal = (url: string, g: { certificate: boolean; auth: boolean }): unknown => {
      try {
        return checkHttpBind(url, '--http', g);
      } catch (error) {
        return error;
      }
    };
    expect(refusal('http://10.0.0.7:7412', guards)).toMatchObject({ name: 'ConfigError', field: '--http', message: expect.stringContaining('https') });
    expect(refusal('https://10.0.0.7:7412', { certificate: true, auth: false })).toMatchObject({ field: '--http', message: expect.stringMatching(/not a loopback address.*"auth" section is missing/) });
    expect(refusal('https://10.0.0.7:7412', { certificate: false, auth: true })).toMatchObject({ field: '--http', message: expect.stringContaining('needs its own certificate') });
    expect(refusal('ftp://127.0.0.1:7412', guards)).toBeInstanceOf(ConfigError);
    expect(checkHttpBind('https://10.0.0.7:7412', '--http', guards)).toEqual({ host: '10.0.0.7', port: 7412, https: true, loopback: false });
    expect(checkHttpBind('https://[fd00::7]:0', '--http', guards)).toEqual({ host: 'fd00::7', port: 0, https: true, loopback: false });
    expect(checkHttpBind('http://127.0.0.1:7412', '--http', { certificate: false, auth: false })).toEqual({ host: '127.0.0.1', port: 7412, https: false, loopback: true });
  });

  it('a real server refuses a non-loopback address without auth, before it starts; https without a certificate too', async () => {
    const flag = spawnSync(process.execPath, [KILN_BIN, 'start', '--memory', '--listen', 'tcp://127.0.0.1:0', '--http', 'http://192.0.2.7:7412'], { encoding: 'utf8', timeout: 20_000 });
    expect(flag.status).toBe(3);
    expect(flag.stderr).toMatch(/ConfigError: --http: 'http:\/\/192\.0\.2\.7:7412' is not a loopback address: .*https .* and the cluster's "auth" section are missing/);
    expect(flag.stderr).not.toMatch(/listening on/);
    const { file } = await clusterFile('https://0.0.0.0:0', false);
    const noAuth = spawnSync(process.execPath, [KILN_BIN, 'start', '--config', file], { encoding: 'utf8', timeout: 20_000 });
    expect(noAuth.status).toBe(3);
    expect(noAuth.stderr).toMatch(/servers\[a\]\.http: 'https:\/\/0\.0\.0\.0:0' is not a loopback address: .*"auth" section is missing/);
    const noCert = spawnSync(process.execPath, [KILN_BIN, 'start', '--memory', '--listen', 'tcp://127.0.0.1:0', '--http', 'https://127.0.0.1:0'], { encoding: 'utf8', timeout: 20_000 });
    expect(noCert.status).toBe(3);
    expect(noCert.stderr).toMatch(/ConfigError: --http: 'https:\/\/127\.0\.0\.1:0' is https: the member needs its own certificate/);
  });

  // Only where this machine has an address beyond loopback to bind to.
  const outward = Object.values(networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
  it.skipIf(outward === undefined)('a real server binds beyond loopback with https and auth, and asks there for credentials', async () => {
    const { file, ca } = await clusterFile(`https://${outward}:0`);
    const { http } = await startHttps(file);
    expect(http).toMatch(new RegExp(`^https://${outward!.replace(/\./g, '\\.')}:\\d+$`));
    expect((await get(`${http}/metrics`, ca)).status).toBe(401);
    expect((await get(`${http}/metrics`, ca, basic('ops', PASSWORDS.ops))).status).toBe(200);
  });
});

/** Runs `kiln ARGS` with `env` added and `input` on standard input. */
function kiln(args: string[], env: Record<string, string> = {}, input = ''): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const { KILN_PASSWORD: _p, KILN_TOKEN: _t, ...inherited } = process.env;
    const child = spawn(process.execPath, [KILN_BIN, ...args], { env: { ...inherited, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdin.end(input);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

describe('operator commands in a cluster with auth', () => {
  it('kiln status URL is refused without credentials, and served with a password from KILN_PASSWORD or stdin, or a token from KILN_TOKEN', async () => {
    const { file } = await clusterFile('https://127.0.0.1:0');
    const { kiln: server } = await startHttps(file);
    const { url } = server;

    const anonymous = await kiln(['status', url]);
    expect(anonymous.status).toBe(1);
    expect(anonymous.stderr).toContain('AuthenticationError');
    const wrong = await kiln(['status', url, '--user', 'ops'], { KILN_PASSWORD: 'wrong-pw-Lm3' });
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toContain('AuthenticationError');

    const fromEnv = await kiln(['status', url, '--user', 'ops'], { KILN_PASSWORD: PASSWORDS.ops });
    expect(fromEnv.stderr).toBe('');
    expect(fromEnv.stdout).toMatch(/^state +ACTIVE-COORDINATOR$/m);
    const fromStdin = await kiln(['status', url, '--user', 'ops', '--password-stdin', '--json'], {}, `${PASSWORDS.ops}\n`);
    expect(JSON.parse(fromStdin.stdout)).toMatchObject({ name: 'a', state: 'ACTIVE-COORDINATOR' });
    const token = await kiln(['status', url, '--json'], { KILN_TOKEN: TOKENS.billing });
    expect(JSON.parse(token.stdout)).toMatchObject({ name: 'a' });
    // The whole cluster, through the same credentials.
    const whole = await kiln(['status', '--config', file, '--user', 'ops', '--json'], { KILN_PASSWORD: PASSWORDS.ops });
    expect(JSON.parse(whole.stdout).stripes[0].members[0]).toMatchObject({ name: 'a', state: 'ACTIVE-COORDINATOR', reachable: true });

    // Never a password on the command line; a user without a password is told where to put it.
    const onCommandLine = await kiln(['status', url, '--user', 'ops', '--password', PASSWORDS.ops]);
    expect(onCommandLine.status).toBe(2);
    expect(onCommandLine.stderr).toMatch(/Unknown option '--password'/);
    const noPassword = await kiln(['status', url, '--user', 'ops']);
    expect(noPassword.status).toBe(1);
    expect(noPassword.stderr).toMatch(/--user ops needs its password: in the environment variable KILN_PASSWORD, or on standard input with --password-stdin/);
    for (const run of [anonymous, wrong, fromEnv, fromStdin, token, whole, noPassword]) expect(run.stderr + run.stdout).not.toContain(PASSWORDS.ops);
  }, 60_000);
});
