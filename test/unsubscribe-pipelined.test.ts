// A client that pipelines subscribe then unsubscribe, both read by the server in one read, while
// the subscription's start has to wait: a new active serves a subscription of the log starting past
// the commit index it knows only once it has committed the log it inherited (its read barrier).
// The unsubscribe, answered first, must cancel that start: no subscription may open after it,
// holding a slot and delivering to a client that ended it. Real processes over real sockets.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode } from '@msgpack/msgpack';
import { connect, type KilnClient } from '@kiln/core/client';
import { tcpTransport } from '@kiln/transport-tcp';
import { cluster, inSyncActive, killAllMembers, launch, pollUntil, seededRandom } from './support/cluster.js';
import { HELLO, RawTcp, tcpFrame } from './support/wire.js';

const dirs: string[] = [];
const clients: KilnClient[] = [];
afterAll(async () => {
  killAllMembers();
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

type Frame = [number, number | null, unknown];
const SUBSCRIPTION = 7;

describe('subscribe and unsubscribe in one read, the start waiting for a new active to commit its inherited log', () => {
  it('opens no subscription once the unsubscribe was answered, and delivers nothing to it', async () => {
    const root = await mkdtemp(join(tmpdir(), 'kiln-unsubscribe-'));
    dirs.push(root);
    const { file, members } = await cluster(2, 1, root, seededRandom(11), 'memory');
    for (const m of members) launch(file, m);
    const servers = members.filter((m) => !m.voter);
    const active = await inSyncActive(servers);
    const successor = servers.find((m) => m !== active)!;

    // Appends keep flowing when the active stops: its mirror then holds records it was not yet told are committed.
    const writer = await connect(active.client, { transports: [tcpTransport()], reconnectWindowMs: 0, requestTimeoutMs: 60_000 });
    clients.push(writer);
    let writing = true;
    const loops = Array.from({ length: 8 }, async (_, i) => {
      for (let n = 0; writing; n++) await writer.append(`w-${i}`, [{ type: 'E', data: n }]).catch(() => (writing = false));
    });
    await pollUntil('appends flowing', async () => Number((await writer.serverStatus()).lastLsn) > 200, 20_000);
    active.process!.kill('SIGSTOP');
    writing = false;
    void Promise.all(loops);

    const raw = await RawTcp.open(successor.client);
    try {
      raw.send(HELLO);
      await raw.waitFrames(1);
      let nextId = 1;
      const answerTo = async (id: number): Promise<Frame> => {
        let found: Frame | undefined;
        await pollUntil(`the answer to request ${id}`, () => (found = (raw.outcome.frames as Frame[]).find((f) => (f[0] === 3 || f[0] === 4) && f[1] === id)) !== undefined, 30_000, 5);
        return found!;
      };
      const status = async (): Promise<Record<string, unknown>> => {
        const id = nextId++;
        raw.send(encode([1, id, 'status', null]));
        return (await answerTo(id))[2] as Record<string, unknown>;
      };
      // The successor's first moment as the active, its inherited log not yet committed.
      let commitIndex = 0;
      await pollUntil('the successor to take office', async () => {
        const s = await status();
        commitIndex = Number(s.commitIndex);
        return s.state === 'ACTIVE-COORDINATOR';
      }, 60_000, 10);
      const subscribeId = nextId++;
      const unsubscribeId = nextId++;
      // One write: a subscription of the log from past the commit index known now, then its unsubscribe.
      raw.write(Uint8Array.from([...tcpFrame(encode([1, subscribeId, 'subscribe', [SUBSCRIPTION, null, commitIndex + 2]])), ...tcpFrame(encode([1, unsubscribeId, 'unsubscribe', SUBSCRIPTION]))]));
      const subscribed = await answerTo(subscribeId);
      const frames = raw.outcome.frames as Frame[];
      // The start waited for the read barrier: the unsubscribe was answered before it.
      expect(frames.indexOf(await answerTo(unsubscribeId)), JSON.stringify(subscribed)).toBeLessThan(frames.indexOf(subscribed));
      expect(subscribed, 'the subscription started within the committed log').toEqual([3, subscribeId, null]);

      // No subscription is left on the server, and a new event reaches none.
      expect((await status()).subscriptions).toBe(0);
      const appender = await connect(successor.client, { transports: [tcpTransport()], reconnectWindowMs: 0 });
      clients.push(appender);
      await appender.append('after-unsubscribe', [{ type: 'E', data: 1 }]);
      await status();
      expect(frames.filter((f) => f[0] === 5 && f[1] === SUBSCRIPTION)).toEqual([]);
    } finally {
      raw.destroy();
    }
  }, 120_000);
});
