// What happens when credentials are refused, on real servers over TCP on 127.0.0.1: the server logs
// one line naming the address and the user (never the password or token); a client gives up at
// once with AuthenticationError, at connect and on reconnect (a restarted server that no longer
// takes the password), instead of retrying until its reconnect window runs out.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { firstValueFrom, filter } from 'rxjs';
import { AuthenticationError, createServer, type AuthConfig, type KilnServer } from '@kiln/core';
import { connect, type KilnClient } from '@kiln/core/client';
import { memoryStore } from '@kiln/store-memory';
import { tcpTransport } from '@kiln/transport-tcp';
import { hashPassword, scryptSecrets } from '@kiln/cli';
import { authConfig, PASSWORDS, TOKENS } from './support/auth.js';
import { freePort } from './support/stripes.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

let auth: AuthConfig;
beforeAll(async () => {
  auth = await authConfig();
});

/** The reconnect window the clients are given: the refusals must come well inside it. */
const WINDOW_MS = 20_000;

async function server(url: string, section: AuthConfig, log?: (line: string) => void): Promise<KilnServer> {
  const s = await createServer({ name: 's1', store: memoryStore(), transports: [tcpTransport()], listen: [url], auth: { ...section, secrets: scryptSecrets }, ...(log && { log }) });
  cleanups.push(() => s.close());
  return s;
}

const failure = (p: Promise<unknown>): Promise<unknown> => p.then(() => undefined, (e: unknown) => e);

describe('refused credentials', () => {
  it('are logged by the server: address and user name, never the password or token', async () => {
    const lines: string[] = [];
    const s = await server('tcp://127.0.0.1:0', auth, (line) => lines.push(line));
    const dial = (credentials?: { username: string; password: string } | { token: string }) =>
      failure(connect(s.urls[0]!, { transports: [tcpTransport()], reconnectWindowMs: 0, serverSilenceMs: 10_000, ...(credentials && { credentials }) }));
    expect(await dial({ username: 'alice', password: 'wrong-pw-Vb6' })).toBeInstanceOf(AuthenticationError);
    expect(await dial({ token: 'kiln_wrong-token-Jp2' })).toBeInstanceOf(AuthenticationError);
    expect(await dial()).toBeInstanceOf(AuthenticationError);
    const failures = lines.filter((line) => line.includes('authentication failed'));
    expect(failures).toEqual([
      expect.stringMatching(/^s1: authentication failed from tcp:\/\/127\.0\.0\.1:\d+ \(user "alice"\)$/),
      expect.stringMatching(/^s1: authentication failed from tcp:\/\/127\.0\.0\.1:\d+ \(a token\)$/),
      expect.stringMatching(/^s1: authentication failed from tcp:\/\/127\.0\.0\.1:\d+ \(no credentials\)$/),
    ]);
    // A good sign-in is not a failure.
    const ok = await connect(s.urls[0]!, { transports: [tcpTransport()], credentials: { token: TOKENS.billing } });
    await ok.close();
    expect(lines.filter((line) => line.includes('authentication failed'))).toHaveLength(3);
    expect(lines.join('\n')).not.toMatch(/wrong-pw-Vb6|kiln_wrong-token-Jp2|kiln_test-billing/);
  });

  it('fail connect at once with AuthenticationError, well inside the reconnect window', async () => {
    const s = await server('tcp://127.0.0.1:0', auth);
    const started = performance.now();
    const error = await failure(connect(s.urls[0]!, { transports: [tcpTransport()], reconnectWindowMs: WINDOW_MS, credentials: { username: 'alice', password: 'wrong-pw-Vb6' } }));
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(performance.now() - started).toBeLessThan(WINDOW_MS / 4);
  });

  it('on reconnect fail the requests waiting, and the client, at once with AuthenticationError', async () => {
    const url = `tcp://127.0.0.1:${await freePort()}`;
    const first = await server(url, auth);
    const client: KilnClient = await connect(url, { transports: [tcpTransport()], reconnectWindowMs: WINDOW_MS, credentials: { username: 'alice', password: PASSWORDS.alice } });
    cleanups.push(() => client.close());
    await client.append('orders-1', [{ type: 'Placed', data: 1 }]);
    const failed = firstValueFrom(client.status$.pipe(filter((s) => s.type === 'failed')));

    // The server restarts with alice's password changed: the client's reconnect is refused.
    await first.close();
    const waiting = failure(client.append('orders-2', [{ type: 'Placed', data: 2 }]));
    const newHash = await hashPassword('a-new-password');
    const changed = { ...auth, users: auth.users.map((u) => (u.name === 'alice' ? { ...u, passwordHash: newHash } : u)) };
    const restarted = performance.now();
    await server(url, changed);
    expect(await waiting).toBeInstanceOf(AuthenticationError);
    expect(await failed).toMatchObject({ type: 'failed', error: expect.any(AuthenticationError) });
    expect(performance.now() - restarted).toBeLessThan(WINDOW_MS / 4);
  }, 30_000);
});
