// A client process that was itself stalled (SIGSTOP, a long GC pause, a frozen VM) must not drop a
// healthy connection. On wake-up Node runs due timers before it reads the sockets, so the link's
// sweep saw only the stall: it judged the server silent, or a request overdue, though the answer
// was already waiting (backup-mirror.test.ts failed so in CI: a SIGSTOPped `kiln backup` woke to
// "server silent for 2074 ms" instead of the server's answer). A sweep that runs late judges
// nothing and leaves it to the next; a server that truly says nothing is still dropped then.
import { encode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { Link } from '../src/client/link.js';
import type { ClientStatus } from '../src/client/link-types.js';
import { ConnectionClosedError, TimeoutError } from '../src/errors.js';
import { defaultConnectionLimits, SWEEP_INTERVAL_MS } from '../src/limits.js';
import { FrameKind } from '../src/protocol/frames.js';
import type { Clock } from '../src/time.js';
import { fakeServers } from './fake-servers.js';
import { heldTimers } from './held-timers.js';

const SILENCE_MS = 2_000;
const servers = fakeServers('stall');

/** A server that welcomes the link and, if `answers`, answers every request at once with null. It takes one connection only. */
async function fakeServer(answers: boolean): Promise<string> {
  const listener = await servers.listen((id, connection) => answers && connection.send(encode([FrameKind.Result, id, null])), 1);
  return listener.url;
}

/** A link on a clock that moves only when the test says, and a sweep that runs only when it says. */
async function stalledLink(url: string, requestTimeoutMs = SILENCE_MS): Promise<{ link: Link; statuses: ClientStatus['type'][]; stall: (ms: number) => void; sweep: () => void }> {
  let nowMs = 1_000;
  const clock: Clock = { monotonicMs: () => nowMs, wallMs: () => nowMs };
  const { timers, fire } = heldTimers();
  const link = servers.track(new Link({
    urls: [url],
    transports: [servers.transport],
    limits: defaultConnectionLimits,
    hello: { name: 'stall-test' },
    requestTimeoutMs,
    reconnectWindowMs: 0,
    serverSilenceMs: SILENCE_MS,
    clock,
    timers,
  }));
  await link.open();
  const statuses: ClientStatus['type'][] = [];
  link.status$.subscribe((s) => statuses.push(s.type));
  return {
    link,
    statuses,
    stall: (ms) => (nowMs += ms),
    sweep: () => {
      nowMs += SWEEP_INTERVAL_MS;
      fire(SWEEP_INTERVAL_MS);
    },
  };
}

describe('a client whose own process stalled', () => {
  it('keeps the connection and takes the answer that waited in the socket, though the stall outlasted the silence and the request timeout', async () => {
    const { link, statuses, stall, sweep } = await stalledLink(await fakeServer(true));
    const answer = link.request('ping', null);
    // The process stalls before it reads the answer, and wakes to its due sweep first.
    stall(SILENCE_MS + 1_000);
    sweep();
    await expect(answer).resolves.toBeNull();
    expect(statuses).toEqual(['connected']);
  });

  it('still drops a server that says nothing, at the sweep after the late one', async () => {
    const { link, statuses, stall, sweep } = await stalledLink(await fakeServer(false), 60_000);
    const answer = link.request('ping', null);
    const failed = answer.catch((error: unknown) => error);
    stall(SILENCE_MS + 1_000);
    sweep();
    await new Promise((resolve) => setImmediate(resolve));
    expect(statuses).toEqual(['connected']);
    sweep();
    const error = await failed;
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect(statuses).toContain('disconnected');
  });

  it('judges two late sweeps in a row: a process stalled over and over still times out its requests', async () => {
    const { link, stall, sweep } = await stalledLink(await fakeServer(false));
    const failed = link.request('ping', null).catch((error: unknown) => error);
    stall(SILENCE_MS + 1_000);
    sweep();
    stall(SILENCE_MS + 1_000);
    sweep();
    expect(await failed).toBeInstanceOf(TimeoutError);
  });
});
