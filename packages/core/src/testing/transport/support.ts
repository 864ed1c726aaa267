// Shared pieces of the transport suite: the fixture, a per-test harness that closes everything
// it opened, and waits with deadlines (never sleeps) for frames, connections and closes.
import type { Connection, ConnectionCloseInfo, DialOptions, Listener, ListenOptions, Transport } from '../../transport/transport.js';
import type { TestRunner } from '../runner.js';

/** How the transport suite reaches one transport. */
export interface TransportFixture {
  /** Names the suite in the test report, for example `tcp`. */
  name: string;
  /**
   * Called before every test. Returns the transport under test and an address to listen on;
   * port 0 (or the transport's equivalent) lets each test get a fresh address.
   */
  setup(): Promise<TransportSetup>;
  /** Called after every test, after the suite closed what it opened. */
  teardown?(): Promise<void>;
  /** What the transport can do; tests of what it cannot are skipped. */
  capabilities?: TransportCapabilities;
}

/** What {@link TransportFixture.setup} returns. */
export interface TransportSetup {
  /** The transport under test. */
  transport: Transport;
  /** Where to listen, for example `tcp://127.0.0.1:0`. */
  listenUrl: string;
  /**
   * The transport that listens when `transport` cannot (a browser dialer, say). Connections it
   * accepts are the "other side" of every test.
   * @default transport
   */
  listenTransport?: Transport;
}

/** What a transport can do. */
export interface TransportCapabilities {
  /** The transport under test can listen; when false, `setup` must return a `listenTransport`. @default true */
  canListen?: boolean;
  /** The reason given to `close` reaches the other side's `closed`. @default true */
  carriesCloseReason?: boolean;
}

/** Bytes in a mebibyte. */
export const MiB = 1024 * 1024;

/** Options the suite listens and dials with unless a test says otherwise. */
export const suiteLimits = Object.freeze({ frameBytesMax: 1 * MiB, sendQueueBytesMax: 4 * MiB, connectionsMax: 64 });

/** How long any single wait may take before the test fails, in milliseconds. */
export const DEADLINE_MS = 10_000;
/** Per-test time limit handed to the runner, in milliseconds. */
export const TEST_TIMEOUT_MS = 60_000;

/** Resolves with `promise`, or rejects if it takes longer than `ms`. */
export async function within<T>(promise: Promise<T>, what: string, ms = DEADLINE_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: did not happen within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves with the error `promise` rejects with; fails if it resolves instead. */
export async function rejection(promise: Promise<unknown>, what: string): Promise<Error> {
  try {
    await within(promise, what);
  } catch (error) {
    if (error instanceof Error && error.message.startsWith(`${what}: did not happen`)) throw error;
    return error as Error;
  }
  throw new Error(`${what}: expected a rejection, but it resolved`);
}

/** Calls `fn` and returns what it throws; fails if it does not throw. */
export function thrown(fn: () => unknown, what: string): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error(`${what}: expected a throw`);
}

/** A frame of `bytes` bytes whose content depends on `seed`, so mix-ups show. */
export function patternFrame(bytes: number, seed: number): Uint8Array {
  const frame = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) frame[i] = (i * 31 + seed * 7 + (i >>> 8)) & 0xff;
  return frame;
}

/** True when both frames hold the same bytes. Cheaper than a deep-equal diff on megabytes. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A frame carrying `index` in its first four bytes and `extra` filler bytes. */
export function indexFrame(index: number, extra = index % 37): Uint8Array {
  const frame = new Uint8Array(4 + extra);
  new DataView(frame.buffer).setUint32(0, index);
  frame.fill(index & 0xff, 4);
  return frame;
}

/** Reads the index {@link indexFrame} wrote, checking the filler. */
export function indexOf(frame: Uint8Array): number {
  const index = new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(0);
  for (let i = 4; i < frame.byteLength; i++) if (frame[i] !== (index & 0xff)) return -1;
  return index;
}

/** Connections a listener handed over, in order, to wait for one at a time. */
export class AcceptQueue {
  private readonly arrived: Connection[] = [];
  private readonly waiting: Array<(connection: Connection) => void> = [];
  /** Every connection accepted so far. */
  readonly all: Connection[] = [];

  readonly onConnection = (connection: Connection): void => {
    this.all.push(connection);
    const waiter = this.waiting.shift();
    if (waiter) waiter(connection);
    else this.arrived.push(connection);
  };

  /** The next accepted connection. */
  next(what = 'the listener accepts a connection'): Promise<Connection> {
    const ready = this.arrived.shift();
    if (ready) return Promise.resolve(ready);
    return within(new Promise<Connection>((resolve) => this.waiting.push(resolve)), what);
  }
}

/** A listener with the queue of connections it accepted. */
export interface Listening {
  listener: Listener;
  accepted: AcceptQueue;
}

/** Both ends of one connection. */
export interface Pair extends Listening {
  /** The dialing end. */
  client: Connection;
  /** The accepted end. */
  server: Connection;
}

/** One test's view of the fixture: opens listeners and connections and closes them afterwards. */
export class Harness {
  private readonly listeners: Listener[] = [];
  private readonly connections: Connection[] = [];
  private readonly iterators = new WeakMap<Connection, AsyncIterator<Uint8Array>>();

  constructor(
    readonly setup: TransportSetup,
    readonly capabilities: Required<TransportCapabilities>,
  ) {}

  get transport(): Transport {
    return this.setup.transport;
  }

  /** Listens at the fixture's address (or `url`) with the suite's limits and `options`. */
  async listen(options: Partial<ListenOptions> = {}, url = this.setup.listenUrl): Promise<Listening> {
    const listening = this.setup.listenTransport ?? this.setup.transport;
    if (!listening.listen) throw new TypeError('the fixture must return a listenTransport when its transport cannot listen');
    const accepted = new AcceptQueue();
    const listener = await listening.listen(url, (connection) => {
      this.connections.push(connection);
      accepted.onConnection(connection);
    }, { ...suiteLimits, ...options });
    this.listeners.push(listener);
    return { listener, accepted };
  }

  /** Dials `url` with the suite's limits and `options`. */
  async dial(url: string, options: Partial<DialOptions> = {}): Promise<Connection> {
    const connection = await this.transport.dial(url, { ...suiteLimits, ...options });
    this.connections.push(connection);
    return connection;
  }

  /** Listens, dials, and waits until the listener accepted. */
  async pair(listenOptions: Partial<ListenOptions> = {}, dialOptions: Partial<DialOptions> = {}): Promise<Pair> {
    const listening = await this.listen(listenOptions);
    const client = await this.dial(listening.listener.url, dialOptions);
    const server = await listening.accepted.next();
    return { ...listening, client, server };
  }

  /** The next frame `connection` receives, or `undefined` when its frames ended. */
  async read(connection: Connection, what = 'a frame arrives'): Promise<Uint8Array | undefined> {
    const result = await within(this.iterator(connection).next(), what);
    return result.done ? undefined : result.value;
  }

  /** The next `count` frames. */
  async readFrames(connection: Connection, count: number, what = `${count} frames arrive`): Promise<Uint8Array[]> {
    const iterator = this.iterator(connection);
    const read = async (): Promise<Uint8Array[]> => {
      const frames: Uint8Array[] = [];
      while (frames.length < count) {
        const result = await iterator.next();
        if (result.done) throw new Error(`${what}: frames ended after ${frames.length}`);
        frames.push(result.value);
      }
      return frames;
    };
    return within(read(), what);
  }

  /** Waits until `connection`'s frames end, failing if another frame arrives first. */
  async readEnd(connection: Connection, what = 'the frames end'): Promise<void> {
    const frame = await this.read(connection, what);
    if (frame !== undefined) throw new Error(`${what}: got a frame of ${frame.byteLength} bytes instead`);
  }

  /** Waits for `connection` to close. */
  closed(connection: Connection, what = 'the connection closes'): Promise<ConnectionCloseInfo> {
    return within(connection.closed, what);
  }

  /** Sends `frames`, waiting for the connection whenever it is not writable. */
  async sendAll(connection: Connection, frames: Iterable<Uint8Array>): Promise<void> {
    for (const frame of frames) {
      connection.send(frame);
      if (!connection.writable) await within(connection.whenWritable(), 'the connection drains');
    }
  }

  /** Sends one frame from `from` and checks `to` receives it intact. */
  async exchange(from: Connection, to: Connection, seed = 1): Promise<void> {
    const frame = patternFrame(100, seed);
    from.send(frame);
    const got = await this.read(to, 'a frame crosses the connection');
    if (got === undefined || !sameBytes(got, frame)) throw new Error('the frame did not arrive intact');
  }

  private iterator(connection: Connection): AsyncIterator<Uint8Array> {
    let iterator = this.iterators.get(connection);
    if (!iterator) {
      iterator = connection[Symbol.asyncIterator]();
      this.iterators.set(connection, iterator);
    }
    return iterator;
  }

  /** Closes every connection and listener this test opened. */
  async dispose(): Promise<void> {
    for (const connection of this.connections) connection.close('test over');
    await Promise.all(this.listeners.map((listener) => within(listener.close(), 'the listener closes')));
  }
}

/** Registers one test that gets a fresh {@link Harness}, disposed of however the test ends. */
export function harnessTest(
  runner: TestRunner,
  fixture: TransportFixture,
  name: string,
  body: (harness: Harness) => Promise<void>,
): void {
  runner.it(name, async () => {
    const capabilities: Required<TransportCapabilities> = {
      canListen: fixture.capabilities?.canListen ?? true,
      carriesCloseReason: fixture.capabilities?.carriesCloseReason ?? true,
    };
    const harness = new Harness(await fixture.setup(), capabilities);
    try {
      await body(harness);
    } finally {
      try {
        await harness.dispose();
      } finally {
        await fixture.teardown?.();
      }
    }
  }, TEST_TIMEOUT_MS);
}
