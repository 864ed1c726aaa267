// A client session spoken by hand, frame by frame, for tests that need exact control of the wire.
import { decode, encode } from '@msgpack/msgpack';
import { defaultConnectionLimits, PROTOCOL_VERSION, type Connection, type Transport } from '@kiln/core';

export interface RawSession {
  connection: Connection;
  /** Sends a request and resolves with its result, or rejects with the error frame's body. */
  request(op: string, args: unknown): Promise<unknown>;
}

let nextId = 1;

export async function rawSession(transport: Transport, url: string): Promise<RawSession> {
  const connection = await transport.dial(url, defaultConnectionLimits);
  const frames = connection[Symbol.asyncIterator]();
  const nextFrame = async (): Promise<unknown[]> => {
    const next = await frames.next();
    if (next.done) throw new Error(`connection closed: ${(await connection.closed).reason}`);
    return decode(next.value) as unknown[];
  };
  connection.send(encode([0, { version: PROTOCOL_VERSION, role: 'client' }]));
  const welcome = await nextFrame();
  if (welcome[0] !== 2) throw new Error(`no welcome: ${JSON.stringify(welcome)}`);
  return {
    connection,
    async request(op, args) {
      const id = nextId++;
      connection.send(encode([1, id, op, args]));
      for (;;) {
        const frame = await nextFrame();
        if (frame[1] !== id) continue;
        if (frame[0] === 3) return frame[2];
        throw Object.assign(new Error('error frame'), { body: frame[2] });
      }
    },
  };
}
