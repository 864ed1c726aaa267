// The client trusts no reply: against a fake in-process server that answers with malformed
// results, every client method fails with ProtocolError instead of handing out a cast value.
import { decode, encode } from '@msgpack/msgpack';
import { firstValueFrom } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, type KilnClient } from '../src/client/client.js';
import { ConnectionClosedError, ProtocolError, UnsupportedProtocolVersionError } from '../src/errors.js';
import { defaultConnectionLimits } from '../src/limits.js';
import { FrameKind, PROTOCOL_VERSION } from '../src/protocol/frames.js';
import { inProcessTransport } from '../src/transport/in-process.js';
import type { Listener } from '../src/transport/transport.js';

const transport = inProcessTransport();
let listener: Listener | undefined;
let client: KilnClient | undefined;
let serial = 0;

afterEach(async () => {
  await client?.close();
  await listener?.close();
  client = undefined;
  listener = undefined;
});

/** A server that welcomes with `welcome` and answers every request with what `answer` returns (a whole frame). */
async function fakeServer(answer: (id: number, op: string, args: unknown) => unknown[], welcome: Record<string, unknown> = { version: PROTOCOL_VERSION, server: 'fake', clusterId: 'c' }): Promise<string> {
  let connections = 0;
  listener = await transport.listen!(
    `memory://fake-${++serial}`,
    (connection) => {
      // One connection only: a client that dropped this one for a malformed frame finds no server again.
      if (++connections > 1) {
        connection.close('one connection only');
        return;
      }
      void (async () => {
        let greeted = false;
        for await (const frame of connection) {
          const [kind, id, op, args] = decode(frame) as [number, number, string, unknown];
          if (!greeted) {
            greeted = true;
            connection.send(encode([FrameKind.Welcome, welcome]));
          } else if (kind === FrameKind.Request) {
            connection.send(encode(op === 'ping' ? [FrameKind.Result, id, null] : answer(id, op, args)));
          }
        }
      })();
    },
    defaultConnectionLimits,
  );
  return listener.url;
}

const dial = (url: string): Promise<KilnClient> => connect(url, { transports: [transport], reconnectWindowMs: 0, requestTimeoutMs: 5000 });

describe('client reply checks', () => {
  it('refuses malformed results of every request with ProtocolError', async () => {
    const replies: Record<string, unknown> = {
      transact: [1, [['s', 'zero', 1]]],
      read: [[]], // a version 1 read reply: slices without `truncated`
      readAll: [[[1, 's', 0, 5, 0, encode([['id', 'T', null]])]], 2], // a slice claiming 5 events holding 1
      status: { name: 'fake', state: 'ACTIVE-COORDINATOR' },
      addMirror: [1, 'members', [], 0],
      removeMirror: null,
      logDigest: [5, 'crc'],
      diverged: [0, 0, 1, [[1, 'not a record']]],
      backupPage: ['c', 'alpha', 1, 9, ['not a record']],
    };
    client = await dial(await fakeServer((id, op) => [FrameKind.Result, id, replies[op]]));
    const calls: Array<[string, () => Promise<unknown>]> = [
      ['transact', () => client!.append('s', [{ type: 'T', data: 1 }])],
      ['read', () => client!.read('s')],
      ['readAll', () => client!.readAll()],
      ['status', () => client!.serverStatus()],
      ['addMirror', () => client!.addMirror({ name: 'b', peer: 'tcp://b:1', clientUrls: ['tcp://b:2'], weight: 1 })],
      ['removeMirror', () => client!.removeMirror('b')],
      ['logDigest', () => client!.logDigest(5)],
      ['diverged', () => client!.diverged().next()],
      ['backupPage', () => client!.backupPage({ fromLsn: 1, throughLsn: 0 })],
    ];
    for (const [op, call] of calls) await expect(call(), op).rejects.toThrow(ProtocolError);
    // The connection is still usable: a malformed result fails its own request only.
    await expect(client.readAll()).rejects.toThrow(/malformed readAll reply/);
  });

  it('ends a subscription whose events frame is malformed', async () => {
    client = await dial(await fakeServer((id, op, args) => (op === 'subscribe' ? [FrameKind.Events, (args as unknown[])[0], [[1, 's', 0, 1, 0, 'not bytes']]] : [FrameKind.Result, id, null])));
    const error = await firstValueFrom(client.subscribeAll()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect((error as Error).message).toMatch(/malformed events reply/);
  });

  it('refuses a server that welcomes with another protocol version', async () => {
    const url = await fakeServer((id) => [FrameKind.Result, id, null], { version: 1, server: 'old', clusterId: 'c' });
    await expect(dial(url)).rejects.toThrow(UnsupportedProtocolVersionError);
  });
});
