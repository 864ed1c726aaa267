// Servers that speak only the hello, on the in-process transport, for tests of the client link:
// each welcomes a link, then hands every request it reads to the test. They, and the links a test
// tracks, are closed after each test.
import { decode, encode } from '@msgpack/msgpack';
import { afterEach } from 'vitest';
import type { Link } from '../src/client/link.js';
import { defaultConnectionLimits } from '../src/limits.js';
import { FrameKind, PROTOCOL_VERSION } from '../src/protocol/frames.js';
import { inProcessTransport } from '../src/transport/in-process.js';
import type { Connection, Listener, Transport } from '../src/transport/transport.js';

export interface FakeServers {
  transport: Transport;
  /** A server on a URL of its own; `onRequest` gets each request's id and the connection it came on. Past `connectionsMax`, a connection is closed at once. */
  listen(onRequest: (id: number, connection: Connection) => void, connectionsMax?: number): Promise<Listener>;
  /** Closes `link` after the test. */
  track(link: Link): Link;
}

export function fakeServers(prefix: string): FakeServers {
  const transport = inProcessTransport();
  const listeners: Listener[] = [];
  const links: Link[] = [];
  let serial = 0;
  afterEach(async () => {
    await Promise.all(links.splice(0).map((l) => l.close()));
    await Promise.all(listeners.splice(0).map((l) => l.close()));
  });
  return {
    transport,
    async listen(onRequest, connectionsMax = Infinity) {
      let connections = 0;
      const listener = await transport.listen!(
        `memory://${prefix}-${++serial}`,
        (connection) =>
          void (async () => {
            if (++connections > connectionsMax) return connection.close('one connection only');
            let greeted = false;
            for await (const frame of connection) {
              const [kind, id] = decode(frame) as [number, number];
              if (!greeted) {
                greeted = true;
                connection.send(encode([FrameKind.Welcome, { version: PROTOCOL_VERSION, server: prefix, clusterId: 'c' }]));
              } else if (kind === FrameKind.Request) {
                onRequest(id, connection);
              }
            }
          })(),
        defaultConnectionLimits,
      );
      listeners.push(listener);
      return listener;
    },
    track(link) {
      links.push(link);
      return link;
    },
  };
}
