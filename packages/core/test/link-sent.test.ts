// A request a link fails says whether it was ever written to a connection: one never sent was done
// nowhere, so a transaction's error can say "not committed" where one sent may have committed (the
// cluster client's `transactionFate`). A stripe found down before a transaction left the client
// made it read "may have committed", and the application reconciled what had never been sent.
// And a link whose connection drops over a request, with nothing answered, dials again after a
// pause that grows, as after a failed dial: it dialled and sent the request again at once, as fast
// as both sides went (thousands of times a second), until the request timed out.
import { describe, expect, it } from 'vitest';
import { Link } from '../src/client/link.js';
import { ConnectionClosedError, TimeoutError } from '../src/errors.js';
import { defaultConnectionLimits } from '../src/limits.js';
import { encodeRequest } from '../src/protocol/frames.js';
import { encodeArguments } from '../src/protocol/operations.js';
import { systemClock, systemTimers } from '../src/time.js';
import type { Connection, Listener } from '../src/transport/transport.js';
import { fakeServers } from './fake-servers.js';

const servers = fakeServers('sent');

/** A server that welcomes the link and never answers; `requests` fires with the connection of each request it reads. */
function silentServer(requests: (connection: Connection) => void): Promise<Listener> {
  return servers.listen((_id, connection) => requests(connection));
}

function linkTo(url: string, reconnectWindowMs = 0, requestTimeoutMs = 30_000): Link {
  return servers.track(new Link({
    urls: [url],
    transports: [servers.transport],
    limits: defaultConnectionLimits,
    hello: { name: 'sent-test' },
    requestTimeoutMs,
    reconnectWindowMs,
    serverSilenceMs: 30_000,
    clock: systemClock,
    timers: systemTimers,
  }));
}

/** Sends a ping and resolves with what its failure said: the error, and whether it was sent. */
function failureOf(link: Link): Promise<{ error: unknown; sent: boolean }> {
  return new Promise((resolve, reject) => link.send('ping', (id) => encodeRequest(id, 'ping', encodeArguments('ping', null)), undefined, () => reject(new Error('answered')), (error, sent) => resolve({ error, sent })));
}

describe('a request the link fails', () => {
  it('was sent when the connection it went on dropped before the answer', async () => {
    let server: Connection | undefined;
    // The server goes as the request reaches it: the link's one redial finds nobody.
    const listener: Listener = await silentServer((connection) => {
      server = connection;
      void listener.close();
    });
    const link = linkTo(listener.url);
    await link.open();
    const failure = await failureOf(link);
    expect(server).toBeDefined();
    expect(failure.error).toBeInstanceOf(ConnectionClosedError);
    expect(failure.sent).toBe(true);
  });

  it('was not sent when the link had lost its connection before it was made, and found no server again', async () => {
    const listener = await silentServer(() => {});
    const link = linkTo(listener.url);
    await link.open();
    const lost = new Promise<void>((resolve) => link.status$.subscribe((s) => s.type === 'disconnected' && resolve()));
    await listener.close();
    await lost;
    const failure = await failureOf(link);
    expect(failure.error).toBeInstanceOf(ConnectionClosedError);
    expect(failure.sent).toBe(false);
  });

  it('was not sent when the link never connected', async () => {
    const listener = await silentServer(() => {});
    await listener.close();
    const link = linkTo(listener.url);
    link.start();
    const failure = await failureOf(link);
    expect(failure.error).toBeInstanceOf(ConnectionClosedError);
    expect(failure.sent).toBe(false);
  });
});

describe('a link whose server drops the connection over a request, and takes the next', () => {
  it('dials again after a growing pause, not at once, until the request times out', async () => {
    let dropped = 0;
    const listener = await silentServer((connection) => {
      dropped++;
      connection.close('dropped over the request');
    });
    const link = linkTo(listener.url, 10_000, 1_500);
    await link.open();
    const startedMs = performance.now();
    const failure = await failureOf(link);
    expect(failure.error).toBeInstanceOf(TimeoutError);
    expect(failure.sent).toBe(true);
    expect(performance.now() - startedMs).toBeGreaterThan(1_000);
    // 50 ms doubling to 1 s, with jitter: a handful of times in 1.5 s, where it was thousands.
    expect(dropped).toBeGreaterThanOrEqual(2);
    expect(dropped).toBeLessThan(15);
  });
});
