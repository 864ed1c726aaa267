// A hostile client of a cluster of stripes, below the client library: the operations one stripe's
// servers send another (prepare, decide) are on the wire for anyone to send, and must not let a
// stripe take a stream the slot table gives another: every stream lives on exactly one stripe.
import { encode } from '@msgpack/msgpack';
import { connect, type KilnClient } from '@kiln/core/client';
import { tcpTransport } from '@kiln/transport-tcp';
import { afterEach, describe, expect, it } from 'vitest';
import { startStripes, streamsByStripe, type Stripes } from './support/stripes.js';
import { rawSession } from './support/wire.js';

const tcp = tcpTransport();
let stripes: Stripes | undefined;
const clients: KilnClient[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) await client.close();
  await stripes?.close();
  stripes = undefined;
});

async function open(url: string): Promise<KilnClient> {
  const client = await connect(url, { transports: [tcp], reconnectWindowMs: 2000, requestTimeoutMs: 10_000 });
  clients.push(client);
  return client;
}

describe("a stripe's part of a transaction over several", () => {
  // Defect (txn/participant, left to its owners): a participant prepares, and on a decide commits,
  // a part whose streams the slot table gives another stripe. The forged part below put an event
  // of alpha's stream into beta's log, where alpha's own reads of that stream never see it.
  it.fails('is refused with WrongStripeError when it names a stream of another stripe, and beta writes nothing', async () => {
    stripes = await startStripes(2);
    const [[alphaStream]] = streamsByStripe(stripes.layout, 'owned') as [[string]];
    const beta = await rawSession(tcp, stripes.urls[1]!);
    const txnId = 'forged#1/1.1';
    const part = ['forger', 1, [[alphaStream, 'any', encode([['smuggled-1', 'Smuggled', 1]])]]];
    const prepared = beta.request('prepare', [txnId, 0, [0, 1], part]).then(
      () => 'prepared',
      (error: { body?: { name?: string } }) => error.body?.name,
    );
    // Before the fix beta prepares; the decide then writes the part.
    if ((await prepared) === 'prepared') await beta.request('decide', [txnId, 1]);
    beta.connection.close('test done');

    const client = await open(stripes.urls[0]!);
    const betaLog = await client.readAll({ stripe: 'beta' });
    expect(betaLog.filter((e) => e.stream === alphaStream), "alpha's stream in beta's log").toEqual([]);
    expect(await prepared).toBe('WrongStripeError');
  });
});
