// Speaking to a Kiln server below the client: raw node:net sockets that write any bytes at all
// (length prefix included), and in-process connections that send any frame body. Each gathers
// what the server answers until it closes, so a test can judge one hostile frame at a time.
import { connect as netConnect, type Socket } from 'node:net';
import { decode, encode } from '@msgpack/msgpack';
import { defaultConnectionLimits, PROTOCOL_VERSION, type Connection, type Transport } from '@kiln/core';

/** What came back on one connection. */
export interface Outcome {
  /** Decoded data frames (MessagePack), in order; undecodable ones as the string 'undecodable'. */
  frames: unknown[];
  /** True once the connection closed. */
  closed: boolean;
  /** The reason a TCP close control frame (or the in-process close) carried, if any. */
  closeReason?: string;
  /** The error name the close carried, if any. */
  closeError?: string;
}

export const HELLO = encode([0, { version: PROTOCOL_VERSION, role: 'client' }]);

function decodeOrMark(body: Uint8Array): unknown {
  try {
    return decode(body);
  } catch {
    return 'undecodable';
  }
}

/** A 4-byte big-endian header then the body, as transport-tcp frames it. */
export function tcpFrame(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length);
  out.set(body, 4);
  return out;
}

/** A raw TCP connection that parses the server's length-prefixed frames as they come. */
export class RawTcp {
  readonly outcome: Outcome = { frames: [], closed: false };
  readonly closed: Promise<void>;
  private buffer: Buffer = Buffer.alloc(0);
  private waiters: Array<() => void> = [];

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.outcome.closed = true;
        this.notify();
        resolve();
      }),
    );
  }

  static open(url: string): Promise<RawTcp> {
    const { hostname, port } = new URL(url);
    return new Promise((resolve, reject) => {
      const socket = netConnect({ host: hostname, port: Number(port), noDelay: true });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new RawTcp(socket));
      });
    });
  }

  /** Sends a frame body with a correct length prefix. */
  send(body: Uint8Array): boolean {
    return this.socket.write(tcpFrame(body));
  }

  /** Writes bytes exactly as given. */
  write(bytes: Uint8Array): boolean {
    return this.socket.write(bytes);
  }

  /** Resolves once `frames.length >= count` or the connection closed; rejects at the deadline. */
  async waitFrames(count: number, timeoutMs = 5_000): Promise<void> {
    await this.waitFor(() => this.outcome.frames.length >= count || this.outcome.closed, timeoutMs, `${count} frame(s)`);
  }

  /** Resolves once closed; rejects at the deadline. */
  async waitClosed(timeoutMs = 5_000): Promise<Outcome> {
    await this.waitFor(() => this.outcome.closed, timeoutMs, 'the server to close the connection');
    return this.outcome;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private waitFor(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; got ${this.outcome.frames.length} frame(s), the first ${JSON.stringify(this.outcome.frames.slice(0, 3)).slice(0, 300)}`));
      }, timeoutMs);
      const check = (): void => {
        if (!done()) return;
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
        resolve();
      };
      this.waiters.push(check);
    });
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  private receive(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    while (this.buffer.length >= 4) {
      const header = this.buffer.readUInt32BE(0);
      const control = header >= 0x8000_0000;
      const length = header & 0x7fff_ffff;
      if (this.buffer.length < 4 + length) break;
      const body = this.buffer.subarray(4, 4 + length);
      this.buffer = this.buffer.subarray(4 + length);
      if (control) {
        try {
          const message = JSON.parse(body.toString('utf8')) as { reason?: string; error?: { name?: string } };
          this.outcome.closeReason = message.reason;
          this.outcome.closeError = message.error?.name;
        } catch {
          this.outcome.closeReason = 'undecodable close frame';
        }
      } else {
        this.outcome.frames.push(decodeOrMark(body));
      }
    }
    this.notify();
  }
}

/**
 * Sends frame bodies on a fresh connection over `transport` (after a hello when `hello` is true),
 * then gathers the answers until the server closes the connection or `timeoutMs` passes.
 * Resolves with what came back; `closed` is false if the connection was still open at the deadline.
 */
export async function exchange(transport: Transport, url: string, bodies: readonly Uint8Array[], options: { hello: boolean; timeoutMs?: number; until?: (o: Outcome) => boolean }): Promise<Outcome> {
  const connection: Connection = await transport.dial(url, defaultConnectionLimits);
  const outcome: Outcome = { frames: [], closed: false };
  const frames = connection[Symbol.asyncIterator]();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<'deadline'>((resolve) => (timer = setTimeout(() => resolve('deadline'), options.timeoutMs ?? 5_000)));
  try {
    if (options.hello) {
      connection.send(HELLO);
      const welcome = await Promise.race([frames.next(), deadline]);
      if (welcome === 'deadline' || welcome.done) throw new Error('no welcome');
      outcome.frames.push(decodeOrMark(welcome.value));
    }
    for (const body of bodies) connection.send(body);
    for (;;) {
      if (options.until?.(outcome)) break;
      const next = await Promise.race([frames.next(), deadline]);
      if (next === 'deadline') break;
      if (next.done) {
        const info = await connection.closed;
        outcome.closed = true;
        outcome.closeReason = info.reason;
        outcome.closeError = info.error?.name;
        break;
      }
      outcome.frames.push(decodeOrMark(next.value));
    }
  } finally {
    clearTimeout(timer);
    connection.close('test done');
  }
  return outcome;
}
