// A server's calls to another stripe's active, when no server of that stripe answers within the
// call's window: the call fails with StripeUnavailableError naming that stripe. A coordinator
// passes a prepare's failure on to its client, and a bare ConnectionClosedError there read, on the
// client, as the coordinator's own stripe being out of reach (the client names the stripe it
// called), though that stripe had just answered.
import { describe, expect, it } from 'vitest';
import type { ClusterLayout } from '../src/cluster/layout.js';
import { SlotTable } from '../src/cluster/slots.js';
import { StripeUnavailableError } from '../src/errors.js';
import { defaultConnectionLimits } from '../src/limits.js';
import { systemClock, systemRandom, systemTimers } from '../src/time.js';
import { inProcessTransport } from '../src/transport/in-process.js';
import { StripeCaller } from '../src/txn/stripe-caller.js';

/** Stripes alpha and bravo of one server each; nothing listens at bravo's URL. */
const layout: ClusterLayout = {
  name: 'c',
  stripes: ['alpha', 'bravo'].map((name) => ({ name, servers: [{ name: `${name[0]}1`, urls: [`memory://caller-${name}`] }] })),
  slotTable: SlotTable.initial(2),
};

describe('StripeCaller', () => {
  it('fails a call and a prepare to a stripe no server of which answers with StripeUnavailableError naming that stripe', async () => {
    const caller = new StripeCaller({ self: 'a1', layout, transports: [inProcessTransport()], limits: defaultConnectionLimits, callTimeoutMs: 300, clock: systemClock, timers: systemTimers, random: systemRandom });
    try {
      await expect(caller.call(1, 'txnStatus', 'c#1/0.1.1')).rejects.toSatisfy((error) => error instanceof StripeUnavailableError && error.stripe === 'bravo');
      const prepared = new Promise((resolve, reject) => caller.prepare(1, { txnId: 'c#2/0.1.2', coordinator: 0, participants: [0, 1], part: { clientId: 'c', seq: 2, appends: [] } }, resolve, reject));
      await expect(prepared).rejects.toSatisfy((error) => error instanceof StripeUnavailableError && error.stripe === 'bravo');
    } finally {
      await caller.close();
    }
  });
});
