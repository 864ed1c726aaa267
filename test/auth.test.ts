// Users, tokens and roles on real servers over TCP on 127.0.0.1: every operation type against no
// credentials, a wrong password, an unknown user, a user without the permission and one with it;
// wrong password and unknown user answered alike; failures from one address slowed down; a
// transaction over two stripes refused whole before any prepare; no secret in a server's output.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encode } from '@msgpack/msgpack';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { firstValueFrom, take, toArray } from 'rxjs';
import { authConfig, PASSWORDS, TOKENS } from './support/auth.js';
import { AUTH_FAILURE_DELAY_MIN_MS } from '../packages/core/src/limits.js';
import {
  AuthenticationError,
  ConfigError,
  createServer,
  PermissionDeniedError,
  PROTOCOL_VERSION,
  validateClusterConfig,
  type Credentials,
  type KilnServer,
} from '@kiln/core';
import { connect, type KilnClient } from '@kiln/core/client';
import { memoryStore } from '@kiln/store-memory';
import { tcpTransport } from '@kiln/transport-tcp';
import { hashToken, scryptSecrets } from '@kiln/cli';
import { KILN_BIN, killAllKilns, startKiln } from './support/cluster.js';
import { RawTcp } from './support/wire.js';
import { layoutOf, freePort, freePorts, streamsByStripe } from './support/stripes.js';

/** The kind number of an error frame on the wire. */
const ERROR_FRAME = 4;
const EXAMPLE = fileURLToPath(new URL('../examples/auth-cluster.json', import.meta.url));

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(killAllKilns);

let auth: Awaited<ReturnType<typeof authConfig>>;
beforeAll(async () => {
  auth = await authConfig();
});

async function server(extra: { stripeCredentials?: Credentials } = {}): Promise<KilnServer> {
  const s = await createServer({ store: memoryStore(), transports: [tcpTransport()], listen: ['tcp://127.0.0.1:0'], auth: { ...auth, secrets: scryptSecrets, ...extra } });
  cleanups.push(() => s.close());
  return s;
}

async function client(url: string | string[], credentials?: Credentials): Promise<KilnClient> {
  // A slowed-down handshake may take longer than the default serverSilenceMs.
  const c = await connect(url, { transports: [tcpTransport()], reconnectWindowMs: 0, serverSilenceMs: 10_000, ...(credentials ? { credentials } : {}) });
  cleanups.push(() => c.close());
  return c;
}

/** The error an operation fails with, or undefined when it succeeds. */
const failure = (p: Promise<unknown>): Promise<unknown> => p.then(() => undefined, (e: unknown) => e);

const alice: Credentials = { username: 'alice', password: PASSWORDS.alice };
const reader: Credentials = { username: 'reader', password: PASSWORDS.reader };
const ops: Credentials = { username: 'ops', password: PASSWORDS.ops };
const billing: Credentials = { token: TOKENS.billing };

/** One operation type: what it needs, a user lacking it, a user holding it, and the call. */
interface OperationCase {
  op: string;
  needs: { stream: string; permission: 'read' | 'write' | 'admin' };
  lacking: Credentials;
  holding: Credentials;
  run(c: KilnClient): Promise<unknown>;
}

const placed = [{ type: 'Placed', data: { n: 1 } }];
const OPERATIONS: OperationCase[] = [
  { op: 'append', needs: { stream: 'orders-1', permission: 'write' }, lacking: reader, holding: alice, run: (c) => c.append('orders-1', placed) },
  { op: 'append (token)', needs: { stream: 'payments-1', permission: 'write' }, lacking: billing, holding: ops, run: (c) => c.append('payments-1', placed) },
  { op: 'transact', needs: { stream: 'payments-2', permission: 'write' }, lacking: alice, holding: ops, run: (c) => c.transact([{ stream: 'orders-2', events: placed }, { stream: 'payments-2', events: placed }]) },
  { op: 'read', needs: { stream: 'payments-1', permission: 'read' }, lacking: alice, holding: billing, run: (c) => c.read('payments-1') },
  { op: 'readAll', needs: { stream: '*', permission: 'read' }, lacking: alice, holding: billing, run: (c) => c.readAll() },
  { op: 'subscribe', needs: { stream: 'payments-1', permission: 'read' }, lacking: alice, holding: ops, run: (c) => firstSubscribed(c.subscribe('payments-1')) },
  { op: 'subscribeAll', needs: { stream: '*', permission: 'read' }, lacking: alice, holding: ops, run: (c) => firstSubscribed(c.subscribeAll()) },
  // A filter naming stream prefixes reaches only those streams: read on each prefix will do, and a wider one is refused.
  { op: 'readAll filtered', needs: { stream: 'payments-*', permission: 'read' }, lacking: alice, holding: billing, run: (c) => c.readAll({ filter: { streamPrefixes: ['payments-'] } }) },
  { op: 'subscribeAll filtered', needs: { stream: 'order*', permission: 'read' }, lacking: alice, holding: ops, run: (c) => firstSubscribed(c.subscribeAll({ filter: { streamPrefixes: ['orders-', 'order'] } })) },
];

/** A subscription's first event (one is appended first), or its error. */
function firstSubscribed(events: import('rxjs').Observable<unknown>): Promise<unknown> {
  return firstValueFrom(events.pipe(take(1), toArray()));
}

describe('authentication and permissions', () => {
  it.each(OPERATIONS)('$op: refused without credentials, with a wrong password or an unknown user; denied without the permission; served with it', async (c) => {
    const s = await server();
    const url = s.urls[0]!;
    // Something to read and subscribe to.
    const seeded = await client(url, ops);
    await seeded.append('payments-1', placed);
    await seeded.append('orders-1', placed);
    const before = await seeded.readAll();

    const refusals = await Promise.all([undefined, { username: 'alice', password: 'wrong' }, { username: 'nobody', password: PASSWORDS.alice }].map((creds) => failure(client(url, creds))));
    for (const refusal of refusals) expect(refusal).toBeInstanceOf(AuthenticationError);

    const denied = await failure(c.run(await client(url, c.lacking)));
    expect(denied).toBeInstanceOf(PermissionDeniedError);
    expect(denied).toMatchObject(c.needs);
    expect((denied as Error).message).toContain(c.needs.permission);
    // Refused whole: nothing written anywhere.
    expect(await seeded.readAll()).toEqual(before);

    const served = await failure(c.run(await client(url, c.holding)));
    expect(served).not.toBeInstanceOf(PermissionDeniedError);
    expect(served).not.toBeInstanceOf(AuthenticationError);
  });

  it('serves a read of the whole log filtered to granted prefixes to a user without read on "*"', async () => {
    const s = await server();
    const url = s.urls[0]!;
    const seeded = await client(url, ops);
    await seeded.append('payments-1', placed);
    await seeded.append('orders-1', placed);
    const c = await client(url, reader);
    expect(await failure(c.readAll())).toBeInstanceOf(PermissionDeniedError);
    const filtered = await c.readAll({ filter: { streamPrefixes: ['orders-'] } });
    expect(filtered.map((e) => e.stream)).toEqual(['orders-1']);
    const [first] = (await firstSubscribed(c.subscribeAll({ filter: { streamPrefixes: ['orders-1'] } }))) as Array<{ stream: string }>;
    expect(first!.stream).toBe('orders-1');
  });

  it('answers a wrong password, an unknown user and a bad token alike, and serves nothing sent after the hello', async () => {
    const s = await server();
    const answers = [];
    for (const credentials of [{ username: 'alice', password: 'wrong' }, { username: 'nobody', password: 'wrong' }, { token: 'kiln_not-a-token' }]) {
      const raw = await RawTcp.open(s.urls[0]!);
      cleanups.push(async () => raw.destroy());
      // A transact and a read pipelined behind the hello: neither may be served.
      raw.send(encode([0, { version: PROTOCOL_VERSION, role: 'client', credentials }]));
      raw.send(encode([1, 1, 'transact', ['c', 1, [['orders-9', 'any', encode([['e', 'E', 1]])]]]]));
      raw.send(encode([1, 2, 'read', ['orders-9', 0, 'forward', 10]]));
      answers.push(await raw.waitClosed(15_000));
    }
    for (const answer of answers) {
      expect(answer.frames).toHaveLength(1);
      expect(answer.closed).toBe(true);
    }
    const [first, ...rest] = answers.map((a) => a.frames[0]);
    expect(first).toEqual([ERROR_FRAME, null, { name: 'AuthenticationError', message: new AuthenticationError().message, fields: {} }]);
    for (const other of rest) expect(other).toEqual(first);
    const check = await client(s.urls[0]!, ops);
    expect(await check.read('orders-9')).toEqual([]);
  });

  it('slows down repeated failures from one address, and spaces attempts made at once', async () => {
    const s = await server();
    const url = s.urls[0]!;
    const wrong = { username: 'alice', password: 'wrong' };
    const timed = async (credentials: Credentials): Promise<{ ms: number; error: unknown }> => {
      const start = performance.now();
      const error = await failure(client(url, credentials));
      return { ms: performance.now() - start, error };
    };
    // The first failure is answered at once; each later attempt waits twice as long as the one before.
    expect((await timed(wrong)).error).toBeInstanceOf(AuthenticationError);
    for (const delayMs of [1, 2, 4].map((k) => k * AUTH_FAILURE_DELAY_MIN_MS)) {
      const { ms, error } = await timed(wrong);
      expect(error).toBeInstanceOf(AuthenticationError);
      expect(ms).toBeGreaterThanOrEqual(delayMs - 5);
    }
    // Three attempts at once after those: one at a time, 800 ms apart at least, so the last waits for both others.
    const start = performance.now();
    const parallel = await Promise.all([timed(wrong), timed(wrong), timed(alice)]);
    const slowest = Math.max(...parallel.map((p) => p.ms));
    expect(slowest).toBeGreaterThanOrEqual(8 * AUTH_FAILURE_DELAY_MIN_MS + 16 * AUTH_FAILURE_DELAY_MIN_MS - 10);
    expect(performance.now() - start).toBeGreaterThanOrEqual(slowest - 1);
    // Another server (another table) answers the right password without delay.
    const fresh = await server();
    const t0 = performance.now();
    await client(fresh.urls[0]!, alice);
    expect(performance.now() - t0).toBeLessThan(8 * AUTH_FAILURE_DELAY_MIN_MS);
  }, 30_000);

  it('lets clients without credentials in with the anonymous role only, when one is named', async () => {
    const s = await createServer({ store: memoryStore(), transports: [tcpTransport()], listen: ['tcp://127.0.0.1:0'], auth: { ...auth, anonymous: 'orders-r', secrets: scryptSecrets } });
    cleanups.push(() => s.close());
    const anonymous = await client(s.urls[0]!);
    expect(await anonymous.read('orders-1')).toEqual([]);
    expect(await failure(anonymous.append('orders-1', placed))).toMatchObject({ name: 'PermissionDeniedError', stream: 'orders-1', permission: 'write' });
  });

  it('refuses a transaction over two stripes whole when one stream is outside the grants, before any prepare; commits it with the grants', async () => {
    const ports = await freePorts(4);
    const urls = ports.slice(0, 2).map((p) => `tcp://127.0.0.1:${p}`);
    const layout = layoutOf(urls, ports.slice(2).map((p) => `tcp://127.0.0.1:${p}`));
    const servers = await Promise.all(
      urls.map((url, i) =>
        createServer({ name: `s${i}`, store: memoryStore(), transports: [tcpTransport()], listen: [url], cluster: { layout, stripe: i }, auth: { ...auth, secrets: scryptSecrets, stripeCredentials: { username: 'ops', password: PASSWORDS.ops } } }),
      ),
    );
    cleanups.push(() => Promise.all(servers.map((s) => s.close())));
    const [[orders], [ordersElsewhere]] = streamsByStripe(layout, 'orders-x') as [[string], [string]];
    const [, [otherStripe]] = streamsByStripe(layout, 'payments-x') as [[string], [string]];
    const a = await client(urls, alice);
    const denied = await failure(a.transact([{ stream: orders, events: placed }, { stream: otherStripe, events: placed }]));
    expect(denied).toMatchObject({ name: 'PermissionDeniedError', stream: otherStripe, permission: 'write' });
    const o = await client(urls, ops);
    expect(await o.read(orders)).toEqual([]);
    expect(await o.read(otherStripe)).toEqual([]);
    expect(await o.openTransactions()).toEqual([]);
    // Both streams in alice's grants, on two stripes: the coordinator's prepare reaches the other stripe with the server's credentials.
    await a.transact([{ stream: orders, events: placed }, { stream: ordersElsewhere, events: placed }]);
    expect(await a.read(ordersElsewhere)).toHaveLength(1);
  }, 30_000);

  it('checks the auth section of createServer like the cluster file, and needs the hash functions', async () => {
    const bad = [
      { ...auth, users: [{ name: 'x', passwordHash: 'hunter2', roles: [] }] },
      { ...auth, tokens: [{ name: 't', tokenHash: 'sha256$short', roles: ['orders-rw'] }] },
      { ...auth, users: [{ ...auth.users[0]!, roles: ['no-such-role'] }] },
      { ...auth, anonymous: 'no-such-role' },
    ];
    for (const section of bad) {
      const error = await failure(createServer({ store: memoryStore(), transports: [tcpTransport()], listen: ['tcp://127.0.0.1:0'], auth: { ...section, secrets: scryptSecrets } }));
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).not.toContain('hunter2');
    }
    const noSecrets = await failure(createServer({ store: memoryStore(), transports: [tcpTransport()], listen: ['tcp://127.0.0.1:0'], auth: auth as never }));
    expect(noSecrets).toMatchObject({ name: 'ConfigError', field: 'auth.secrets' });
  });
});

describe('kiln passwd, kiln token, and the example auth config', () => {
  it('hashes a password from standard input and makes tokens whose hashes match', async () => {
    const passwd = spawnSync(process.execPath, [KILN_BIN, 'passwd'], { input: 'correct horse\n', encoding: 'utf8', timeout: 20_000 });
    expect(passwd.status).toBe(0);
    const hash = passwd.stdout.trim();
    expect(hash).toMatch(/^scrypt\$16384\$8\$1\$/);
    expect(hash).not.toContain('correct horse');
    expect(await scryptSecrets.verifyPassword('correct horse', hash)).toBe(true);
    expect(await scryptSecrets.verifyPassword('correct horsf', hash)).toBe(false);
    const made = spawnSync(process.execPath, [KILN_BIN, 'token', '--json'], { encoding: 'utf8', timeout: 20_000 });
    const { token, tokenHash } = JSON.parse(made.stdout) as { token: string; tokenHash: string };
    expect(hashToken(token)).toBe(tokenHash);
    // Both go into a cluster file as they are printed.
    const file = { ...JSON.parse(readFileSync(EXAMPLE, 'utf8')), auth: { users: [{ name: 'u', passwordHash: hash }], tokens: [{ name: 't', tokenHash }] } };
    expect(validateClusterConfig(file).auth).toMatchObject({ users: [{ name: 'u', passwordHash: hash, roles: [] }], tokens: [{ name: 't', tokenHash, roles: [] }] });
  });

  it('runs the example config: its user and token get in with their grants, and no secret reaches the server output', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kiln-auth-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const example = JSON.parse(await readFile(EXAMPLE, 'utf8')) as { servers: Array<{ listen: string[] }> };
    expect(validateClusterConfig(example).auth?.users.map((u) => u.name)).toEqual(['alice']);
    const port = await freePort();
    example.servers[0]!.listen = [`tcp://127.0.0.1:${port}`];
    const file = join(dir, 'auth.json');
    await writeFile(file, JSON.stringify(example));
    const kiln = await startKiln({ args: ['--config', file] });
    cleanups.push(() => kiln.stop());
    const { url } = kiln;
    expect(url).toBe(`tcp://127.0.0.1:${port}`);
    const a = await client(url, { username: 'alice', password: 'change-me-alice' });
    await a.append('orders-1', placed);
    expect(await failure(a.append('invoices-1', placed))).toBeInstanceOf(PermissionDeniedError);
    const t = await client(url, { token: 'kiln_Dmml9JHRsFcqeI5XODe2oKOOSRyeALAmzBfbhVRMmEI' });
    expect(await t.readAll()).toHaveLength(1);
    expect(await failure(client(url, { username: 'alice', password: 'wrong-secret-xyz' }))).toBeInstanceOf(AuthenticationError);
    expect(await failure(client(url, { token: 'kiln_wrong-token-xyz' }))).toBeInstanceOf(AuthenticationError);
    await kiln.stop('SIGTERM');
    const output = kiln.lines.join('\n');
    expect(output).toMatch(/listening on/);
    for (const secret of ['change-me-alice', 'kiln_Dmml9JHRsFcqeI5XODe2oKOOSRyeALAmzBfbhVRMmEI', 'wrong-secret-xyz', 'kiln_wrong-token-xyz', 'YxnIdZefM', 'U2jFlcNy5']) expect(output).not.toContain(secret);
    // A config error names the field, not the hash.
    const broken = { ...example, auth: { users: [{ name: 'alice', passwordHash: 'plain-password-oops' }] } };
    await writeFile(file, JSON.stringify(broken));
    const refused = spawnSync(process.execPath, [KILN_BIN, 'start', '--config', file], { encoding: 'utf8', timeout: 20_000 });
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain('auth.users[0].passwordHash');
    expect(refused.stderr).not.toContain('plain-password-oops');
  }, 30_000);
});
