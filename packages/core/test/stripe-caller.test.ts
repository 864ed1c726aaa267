// A server's calls to another stripe's active. When no server of that stripe answers within the
// call's window, the call fails with StripeUnavailableError naming that stripe: a coordinator
// passes a prepare's failure on to its client, and a bare ConnectionClosedError there read, on the
// client, as the coordinator's own stripe being out of reach. And a new link dials the stripe's
// active as this server knows it first: a paused server still takes TCP connections and never
// answers, and a link that dialled it first, as the first configured, spent its whole window
// there whenever the window was no longer than the dial's (found with SIGSTOP in
// stripes-partition.test.ts: no transaction over both stripes committed while bravo's first
// server was paused, though the client reached bravo's new active). A call that waited for room
// (past `inFlightMax` to one stripe) is sent with only what is left of its window, so that a
// transaction fails within about `txnTimeoutMs` as docs/transactions.md says, not twice that; and
// it goes at the turn's end, not on a link that is giving up (whose close failed it with
// ClientClosedError, which the coordinator passed on to its client).
import { decode, encode } from '@msgpack/msgpack';
import { afterEach, describe, expect, it } from 'vitest';
import type { ClusterLayout } from '../src/cluster/layout.js';
import { SlotTable } from '../src/cluster/slots.js';
import { StripeUnavailableError, TimeoutError } from '../src/errors.js';
import { defaultConnectionLimits, SWEEP_INTERVAL_MS } from '../src/limits.js';
import { Decision } from '../src/log/record.js';
import { FrameKind, PROTOCOL_VERSION } from '../src/protocol/frames.js';
import { systemClock, systemRandom, systemTimers, type Timers } from '../src/time.js';
import { inProcessTransport } from '../src/transport/in-process.js';
import type { Listener } from '../src/transport/transport.js';
import { StripeCaller, type StripeCallerOptions } from '../src/txn/stripe-caller.js';
import { turns } from './held-timers.js';

const transport = inProcessTransport();
const listeners: Listener[] = [];
const callers: StripeCaller[] = [];

afterEach(async () => {
  await Promise.all(callers.splice(0).map((c) => c.close()));
  await Promise.all(listeners.splice(0).map((l) => l.close()));
});

/** Stripes alpha (a1) and bravo (b1, b2), at in-process URLs of their own. */
const layout: ClusterLayout = {
  name: 'c',
  stripes: [
    { name: 'alpha', servers: [{ name: 'a1', urls: ['memory://caller-a1'] }] },
    { name: 'bravo', servers: ['b1', 'b2'].map((name) => ({ name, urls: [`memory://caller-${name}`] })) },
  ],
  slotTable: SlotTable.initial(2),
};

/** A server at `url` that takes connections and never answers, as a paused process's kernel does. */
async function paused(url: string): Promise<void> {
  listeners.push(await transport.listen!(url, () => undefined, defaultConnectionLimits));
}

/** A server at `url` that welcomes a caller and answers every `txnStatus` with `decision`; with none, it never answers. */
async function answering(url: string, decision?: Decision): Promise<void> {
  const listener = await transport.listen!(
    url,
    (connection) =>
      void (async () => {
        let greeted = false;
        for await (const frame of connection) {
          const [kind, id] = decode(frame) as [number, number];
          if (!greeted) connection.send(encode([FrameKind.Welcome, { version: PROTOCOL_VERSION, server: 'b2', clusterId: 'c' }]));
          else if (kind === FrameKind.Request && decision !== undefined) connection.send(encode([FrameKind.Result, id, decision]));
          greeted = true;
        }
      })(),
    defaultConnectionLimits,
  );
  listeners.push(listener);
}

/**
 * A clock the test moves, and timers that run when it says: the link's pauses between tries, but
 * not its sweep of overdue requests (SWEEP_INTERVAL_MS).
 */
function manualTime() {
  let nowMs = 0;
  const due = new Set<{ delayMs: number; callback: () => void }>();
  const timers: Timers = {
    setTimeout(callback, delayMs) {
      const entry = { delayMs, callback };
      due.add(entry);
      return { cancel: () => void due.delete(entry) };
    },
    defer: systemTimers.defer,
  };
  const pending = () => [...due].filter((e) => e.delayMs !== SWEEP_INTERVAL_MS);
  return {
    clock: { monotonicMs: () => nowMs, wallMs: () => systemClock.wallMs() },
    timers,
    advance: (ms: number) => void (nowMs += ms),
    /** Resolves once a timer other than a sweep is set: the link's first try failed, and it waits to try again. */
    async waitForTimer(): Promise<void> {
      for (let turn = 0; pending().length === 0; turn++) {
        if (turn > 1000) throw new Error('the link set no timer');
        await turns(1);
      }
    },
    fireAllButSweeps(): void {
      for (const entry of pending()) {
        due.delete(entry);
        entry.callback();
      }
    },
    /** Runs the link's sweep once: it times out the requests overdue now. */
    fireSweeps(): void {
      for (const entry of [...due].filter((e) => e.delayMs === SWEEP_INTERVAL_MS)) {
        due.delete(entry);
        entry.callback();
      }
    },
  };
}

function callerOf(options: Partial<StripeCallerOptions>): StripeCaller {
  const caller = new StripeCaller({ self: 'a1', layout, transports: [transport], limits: defaultConnectionLimits, callTimeoutMs: 300, clock: systemClock, timers: systemTimers, random: systemRandom, ...options });
  callers.push(caller);
  return caller;
}

describe('StripeCaller', () => {
  it('fails a call and a prepare to a stripe no server of which answers with StripeUnavailableError naming that stripe', async () => {
    const time = manualTime();
    const caller = callerOf({ clock: time.clock, timers: time.timers });
    const outcomes = [
      caller.call(1, 'txnStatus', 'c#1/0.1.1').catch((error: unknown) => error),
      new Promise((resolve, reject) => caller.prepare(1, { txnId: 'c#2/0.1.2', coordinator: 0, participants: [0, 1], part: { clientId: 'c', seq: 2, appends: [] } }, resolve, reject)).catch((error: unknown) => error),
    ];
    // The link's window runs out (its next try finds the time past it) before the requests' own sweep times them out.
    await time.waitForTimer();
    time.advance(1000);
    time.fireAllButSweeps();
    for (const error of await Promise.all(outcomes)) expect(error).toSatisfy((e) => e instanceof StripeUnavailableError && e.stripe === 'bravo');
  });

  it("dials the stripe's known active first, not a paused server listed before it", async () => {
    await paused('memory://caller-b1');
    await answering('memory://caller-b2', Decision.Commit);
    // A window no longer than one dial's wait for a hello: a link that dialled b1 first never reached b2.
    const caller = callerOf({ callTimeoutMs: 1000, activeUrl: (stripe) => (stripe === 1 ? 'memory://caller-b2' : null) });
    expect(await caller.call(1, 'txnStatus', 'c#1/0.1.1')).toBe(Decision.Commit);
  });

  it('sends a call that waited for room with what is left of its callTimeoutMs, not a whole one more', async () => {
    await answering('memory://caller-b1');
    const time = manualTime();
    const caller = callerOf({ clock: time.clock, timers: time.timers, callTimeoutMs: 1000, limits: { ...defaultConnectionLimits, inFlightMax: 1 } });
    const first = caller.call(1, 'txnStatus', 'c#1/0.1.1').catch((error: unknown) => error);
    time.advance(600);
    time.fireSweeps(); // sweeps run no later than half the silence allowed, or the link takes its process for stalled and skips them
    let second: unknown = 'unanswered';
    void caller.call(1, 'txnStatus', 'c#2/0.1.2').catch((error: unknown) => (second = error));
    // At 1000 ms the first times out; the second, which waited 400 ms for room, goes with 600 ms left.
    time.advance(400);
    time.fireSweeps();
    expect(await first).toBeInstanceOf(TimeoutError);
    time.advance(600);
    time.fireSweeps();
    await turns(1);
    expect(second, '1000 ms after it was made').toBeInstanceOf(TimeoutError);
  });

  it('fails a call that waited for room behind calls to a stripe gone out of reach with StripeUnavailableError too, never ClientClosedError', async () => {
    const time = manualTime();
    const caller = callerOf({ clock: time.clock, timers: time.timers, callTimeoutMs: 1000, limits: { ...defaultConnectionLimits, inFlightMax: 1 } });
    const prepare = (n: number) => new Promise((resolve, reject) => caller.prepare(1, { txnId: `c#${n}/0.1.${n}`, coordinator: 0, participants: [0, 1], part: { clientId: 'c', seq: n, appends: [] } }, resolve, reject)).catch((error: unknown) => error);
    const first = prepare(1);
    await time.waitForTimer();
    time.advance(500);
    const second = prepare(2);
    // The link's window runs out: the first fails, and the second, within its own window, goes
    // next, on a new link, which finds no server either.
    time.advance(600);
    time.fireAllButSweeps();
    expect(await first).toSatisfy((e) => e instanceof StripeUnavailableError && e.stripe === 'bravo');
    await time.waitForTimer();
    time.advance(1000);
    time.fireAllButSweeps();
    expect(await second).toSatisfy((e) => e instanceof StripeUnavailableError && e.stripe === 'bravo');
  });
});
