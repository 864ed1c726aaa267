// Peer messages: every kind round-trips, whole or cut into frames however the TCP framing splits
// the byte stream; truncation, garbage and wrong shapes give a ProtocolError, never a crash or a
// wrong message; and the peer network stamps and checks the stripe, and sends an ask's echo only
// to a member that said it reads one.
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decode, encode } from '@msgpack/msgpack';
import { ProtocolError } from '../src/errors.js';
import { defaultConnectionLimits } from '../src/limits.js';
import { encodeRecord, RecordKind } from '../src/log/record.js';
import { encodeWelcome, PROTOCOL_VERSION } from '../src/protocol/frames.js';
import type { GroupView } from '../src/replication/group-view.js';
import { PeerInbox } from '../src/replication/peer-inbox.js';
import { PeerNetwork } from '../src/replication/peer-network.js';
import { decodePeerMessage, encodePeerMessage, SINGLE_STRIPE, type OutgoingPeerMessage, type PeerMessage } from '../src/replication/peer-protocol.js';
import { systemTimers } from '../src/time.js';
import { inProcessTransport } from '../src/transport/in-process.js';
import type { Connection, Listener } from '../src/transport/transport.js';
import { HEADER_BYTES, LengthPrefixDecoder, writeHeader } from '../../transport-tcp/src/length-prefix.js';

const view: GroupView = {
  term: 3,
  version: 7,
  members: [
    { name: 's1', kind: 'server', peer: 'tcp://127.0.0.1:7411', clientUrls: ['tcp://127.0.0.1:7410'], weight: 2 },
    { name: 'v1', kind: 'voter', peer: 'tcp://127.0.0.1:7431', clientUrls: [], weight: 0 },
  ],
  inSync: ['s1'],
};

const record = (lsn: number) =>
  encodeRecord({ lsn, term: 3, kind: RecordKind.Commit, clientId: 'c', seq: lsn, timestampMs: 1_700_000_000_000, appends: [{ stream: 'orders', firstVersion: lsn, eventCount: 1, events: new Uint8Array([0x91, lsn]) }] }).bytes;

/** One message of every kind, and the variants that matter (a heartbeat, a refused ack, a stripe other than 0, an ask and its echo). */
const messages: PeerMessage[] = [
  { kind: 'append', stripe: SINGLE_STRIPE, term: 3, from: 's1', prevLsn: 40, prevTerm: 2, commitIndex: 39, termStartLsn: 38, records: [record(41), record(42)] },
  { kind: 'append', stripe: SINGLE_STRIPE, term: 3, from: 's1', prevLsn: 42, prevTerm: 3, commitIndex: 42, termStartLsn: 38, records: [] },
  { kind: 'append', stripe: SINGLE_STRIPE, term: 3, from: 's1', prevLsn: 42, prevTerm: 3, commitIndex: 42, termStartLsn: 38, records: [record(43)], askedAtMs: 123_456 },
  { kind: 'ack', stripe: SINGLE_STRIPE, term: 3, from: 's2', lastLsn: 42, matched: true },
  { kind: 'ack', stripe: SINGLE_STRIPE, term: 3, from: 's2', lastLsn: 43, matched: true, askedAtMs: 123_456 },
  { kind: 'ack', stripe: 5, term: 3, from: 's2', lastLsn: 0, matched: false },
  { kind: 'view', stripe: SINGLE_STRIPE, term: 3, from: 's1', view },
  { kind: 'view-ack', stripe: SINGLE_STRIPE, term: 3, from: 'v1', version: 7 },
  { kind: 'candidacy', stripe: SINGLE_STRIPE, term: 4, from: 's2', standing: true, lastTerm: 3, lastLsn: 42, weight: 1, view },
  { kind: 'candidacy', stripe: SINGLE_STRIPE, term: 4, from: 'v1', standing: false, lastTerm: 0, lastLsn: 0, weight: 0, view },
  { kind: 'pre-candidacy', stripe: SINGLE_STRIPE, term: 3, from: 's2' },
  { kind: 'pre-vote', stripe: SINGLE_STRIPE, term: 3, from: 'v1', granted: false },
  { kind: 'vote', stripe: SINGLE_STRIPE, term: 4, from: 'v1', votedFor: 's2', view },
  { kind: 'announce', stripe: 2, term: 6, from: 's9', epoch: 1_700_000_000_000 },
];

const kinds = ['append', 'ack', 'view', 'view-ack', 'candidacy', 'pre-candidacy', 'pre-vote', 'vote', 'announce'] as const;

/** Frames as the TCP transport writes them: a 4-byte length, then the frame. */
function lengthPrefixed(frames: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(frames.reduce((sum, f) => sum + HEADER_BYTES + f.length, 0));
  let at = 0;
  for (const frame of frames) {
    writeHeader(out, at, frame.length);
    out.set(frame, at + HEADER_BYTES);
    at += HEADER_BYTES + frame.length;
  }
  return out;
}

/** Feeds a byte stream, cut into the given chunks, through the TCP framing and the peer decoder. */
function decodeStream(stream: Uint8Array, cuts: readonly number[]): PeerMessage[] {
  const decoded: PeerMessage[] = [];
  const framing = new LengthPrefixDecoder(
    defaultConnectionLimits.frameBytesMax,
    (frame) => decoded.push(decodePeerMessage(frame)),
    () => {
      throw new Error('no control frames were sent');
    },
  );
  let from = 0;
  for (const cut of [...cuts, stream.length]) {
    framing.push(stream.subarray(from, cut));
    from = cut;
  }
  return decoded;
}

function errorOf(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('peer message codec', () => {
  it('has a test message of every kind', () => {
    expect(new Set(messages.map((m) => m.kind))).toEqual(new Set(kinds));
  });

  it.each(messages.map((m) => [m.kind, m] as const))('round-trips a %s, stripe first after the kind', (_kind, message) => {
    const frame = encodePeerMessage(message);
    expect(decodePeerMessage(frame)).toEqual(message);
    expect(frame[0]! & 0xf0).toBe(0x90); // a fixarray
    expect(frame[1]! & 0xe0).toBe(0xa0); // the kind, a fixstr
    expect(frame[2 + message.kind.length]).toBe(message.stripe);
  });

  it('decodes the same messages from the TCP byte stream fed one byte at a time, and cut at every offset', () => {
    const stream = lengthPrefixed(messages.map(encodePeerMessage));
    expect(decodeStream(stream, Array.from({ length: stream.length - 1 }, (_, i) => i + 1))).toEqual(messages);
    for (let cut = 0; cut <= stream.length; cut++) expect(decodeStream(stream, [cut]), `cut at ${cut}`).toEqual(messages);
  });

  it('decodes the same messages however the byte stream is chunked', () => {
    const stream = lengthPrefixed(messages.map(encodePeerMessage));
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 40 }), (cuts) => {
        expect(decodeStream(stream, cuts.sort((a, b) => a - b))).toEqual(messages);
      }),
    );
  });

  it.each(messages.map((m) => [m.kind, m] as const))('refuses every truncation of a %s with ProtocolError', (_kind, message) => {
    const frame = encodePeerMessage(message);
    for (let cut = 0; cut < frame.length; cut++) {
      expect(errorOf(() => decodePeerMessage(frame.subarray(0, cut))), `cut at ${cut}`).toBeInstanceOf(ProtocolError);
    }
  });

  it('writes an append byte for byte as the general encoder does, and reads what it writes, across every length form', () => {
    // Members of either version meet on one wire: the hand-written form must be the general one.
    const size = fc.constantFrom(0, 1, 255, 256, 65_535, 65_536);
    fc.assert(
      fc.property(
        fc.array(size, { maxLength: 18 }),
        fc.string({ minLength: 1, maxLength: 64 }),
        fc.constantFrom(0, 127, 128, 65_536, 2 ** 32, Number.MAX_SAFE_INTEGER),
        fc.option(fc.constantFrom(0, 127, 128, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER), { nil: undefined }),
        (sizes, from, lsn, askedAtMs) => {
          const message: PeerMessage = { kind: 'append', stripe: 1, term: 3, from, prevLsn: lsn, prevTerm: 2, commitIndex: lsn, termStartLsn: 0, records: sizes.map((n) => new Uint8Array(n).fill(n % 251)), askedAtMs };
          const fields = [message.kind, message.stripe, message.term, message.from, message.prevLsn, message.prevTerm, message.commitIndex, message.termStartLsn, message.records];
          const general = encode(askedAtMs === undefined ? fields : [...fields, askedAtMs]);
          // Compared as buffers: a deep equal of megabytes of typed arrays takes minutes.
          expect(Buffer.compare(encodePeerMessage(message), general)).toBe(0);
          const decoded = decodePeerMessage(general) as typeof message;
          expect({ ...decoded, records: decoded.records.length }).toEqual({ ...message, records: message.records.length });
          decoded.records.forEach((r, i) => expect(Buffer.compare(r, message.records[i]!)).toBe(0));
        },
      ),
      { numRuns: 50 },
    );
  });

  it('refuses random bytes with ProtocolError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        expect(errorOf(() => decodePeerMessage(bytes))).toBeInstanceOf(ProtocolError);
      }),
      { numRuns: 2000 },
    );
  });

  it('gives a ProtocolError or a well-formed message for any one byte changed, never a crash', () => {
    for (const message of messages) {
      const frame = encodePeerMessage(message);
      for (let at = 0; at < frame.length; at++) {
        for (const flip of [0x01, 0x10, 0x80, 0xff]) {
          const garbled = frame.slice();
          garbled[at]! ^= flip;
          let decoded: PeerMessage;
          try {
            decoded = decodePeerMessage(garbled);
          } catch (error) {
            expect(error, `${message.kind}: byte ${at} ^ ${flip}`).toBeInstanceOf(ProtocolError);
            continue;
          }
          // A message that decodes is whole: it passes the same checks again after re-encoding.
          expect(decodePeerMessage(encodePeerMessage(decoded))).toEqual(decoded);
        }
      }
    }
  });

  /** The wire array of a message, to build wrong shapes from. */
  const wireOf = (m: PeerMessage): unknown[] => decode(encodePeerMessage(m)) as unknown[];

  it.each(messages.map((m) => [m.kind, m] as const))('refuses a %s with any field of the wrong type, or a field missing or extra', (_kind, message) => {
    const wire = wireOf(message);
    const wrong: unknown[] = [null, -1, 1.5, 'x'.repeat(65), '', true, new Uint8Array([1]), [], { a: 1 }];
    for (let field = 0; field < wire.length; field++) {
      for (const value of wrong) {
        const changed = wire.slice();
        changed[field] = value;
        const error = errorOf(() => decodePeerMessage(encode(changed)));
        // Some wrong values are right for some fields (a boolean for `matched`, say); those decode to what they say.
        if (error === undefined) expect(decodePeerMessage(encode(changed))).toMatchObject({ kind: wire[0] });
        else expect(error, `field ${field} = ${String(value)}`).toBeInstanceOf(ProtocolError);
      }
    }
    // An append or ack may end with its ask (or echo): without it, it is whole, and a count past its
    // other fields is that ask, so any other value there is the extra one.
    const asks = message.kind === 'append' || message.kind === 'ack';
    const asked = asks && message.askedAtMs !== undefined;
    expect(errorOf(() => decodePeerMessage(encode(wire.slice(0, asked ? -2 : -1))))).toBeInstanceOf(ProtocolError);
    expect(errorOf(() => decodePeerMessage(encode([...wire, asks && !asked ? 'extra' : 0])))).toBeInstanceOf(ProtocolError);
  });

  it('refuses an unknown kind, a negative or fractional stripe, and a message in the layout before stripes', () => {
    const ack = wireOf(messages.find((m) => m.kind === 'ack')!);
    expect(errorOf(() => decodePeerMessage(encode(['prepare', ...ack.slice(1)])))).toBeInstanceOf(ProtocolError);
    expect(errorOf(() => decodePeerMessage(encode(['ack', -1, ...ack.slice(2)])))).toBeInstanceOf(ProtocolError);
    expect(errorOf(() => decodePeerMessage(encode(['ack', 0.5, ...ack.slice(2)])))).toBeInstanceOf(ProtocolError);
    // [kind, term, from, lastLsn, matched]: what a member of the previous version sends.
    expect(errorOf(() => decodePeerMessage(encode(['ack', 3, 's2', 42, true])))).toBeInstanceOf(ProtocolError);
    expect(errorOf(() => decodePeerMessage(encode({ kind: 'ack' })))).toBeInstanceOf(ProtocolError);
  });
});

describe('peer network and stripes', () => {
  const cleanup: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  /** The peer inbox of a process running member `b` of stripe 0, behind an in-process listener that answers the peer hello as a server does. */
  async function receiver(features: { leaseEcho?: boolean } = {}) {
    const transport = inProcessTransport();
    const received: PeerMessage[] = [];
    const announced: PeerMessage[] = [];
    const logged: string[] = [];
    const errors: unknown[] = [];
    const network = new PeerInbox({ self: 'b', log: (line) => logged.push(line), onError: (e) => errors.push(e), onAnnounce: (m) => announced.push(m) });
    network.register(SINGLE_STRIPE, (m) => received.push(m));
    const listener: Listener = await transport.listen!(
      'memory://b',
      (connection) => {
        const frames = connection[Symbol.asyncIterator]();
        void frames.next().then(() => {
          connection.send(encodeWelcome({ version: PROTOCOL_VERSION, server: 'b', clusterId: 'test', ...features }));
          return network.accept(connection, frames);
        });
      },
      defaultConnectionLimits,
    );
    cleanup.push(() => listener.close(), () => network.close());
    return { transport, url: listener.url, received, announced, logged, errors };
  }

  async function until(condition: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 5_000;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  it('stamps its stripe on what it sends', async () => {
    const b = await receiver();
    let up = false;
    const a = new PeerNetwork({ self: 'a', peers: [{ name: 'b', url: b.url }], transports: [b.transport], timers: systemTimers, limits: defaultConnectionLimits, onLinkChange: (_peer, isUp) => (up = isUp) });
    cleanup.push(() => a.close());
    a.start();
    await until(() => up, 'the link to b');
    expect(a.send('b', { kind: 'ack', term: 3, from: 'a', lastLsn: 9, matched: true })).toBe(true);
    a.broadcast({ kind: 'view-ack', term: 3, from: 'a', version: 7 });
    await until(() => b.received.length === 2, 'both messages');
    expect(b.received).toEqual([
      { kind: 'ack', stripe: SINGLE_STRIPE, term: 3, from: 'a', lastLsn: 9, matched: true },
      { kind: 'view-ack', stripe: SINGLE_STRIPE, term: 3, from: 'a', version: 7 },
    ]);
    expect(b.logged).toEqual([]);
  });

  it('sends an ask and its echo only to a member whose welcome said leaseEcho: an older one gets the fields it knows', async () => {
    const append: OutgoingPeerMessage = { kind: 'append', term: 3, from: 'a', prevLsn: 9, prevTerm: 3, commitIndex: 9, termStartLsn: 0, records: [], askedAtMs: 500 };
    const ack: OutgoingPeerMessage = { kind: 'ack', term: 3, from: 'a', lastLsn: 9, matched: true, askedAtMs: 500 };
    for (const leaseEcho of [true, false]) {
      const b = await receiver(leaseEcho ? { leaseEcho } : {});
      let up = false;
      const a = new PeerNetwork({ self: 'a', peers: [{ name: 'b', url: b.url }], transports: [b.transport], timers: systemTimers, limits: defaultConnectionLimits, onLinkChange: (_peer, isUp) => (up = isUp) });
      cleanup.push(() => a.close());
      a.start();
      await until(() => up, 'the link to b');
      expect(a.send('b', append) && a.send('b', ack)).toBe(true);
      await until(() => b.received.length === 2, 'both messages');
      expect(b.received.map((m) => (m.kind === 'append' || m.kind === 'ack') && m.askedAtMs), `leaseEcho ${leaseEcho}`).toEqual(leaseEcho ? [500, 500] : [undefined, undefined]);
    }
  });

  it('drops a message for a stripe it does not serve, logs it once per connection and stripe, and keeps the connection', async () => {
    const b = await receiver();
    const connection: Connection = await b.transport.dial(b.url, defaultConnectionLimits);
    cleanup.push(() => connection.close('test over'));
    connection.send(new Uint8Array([0x92, 0x00, 0x80])); // stands in for the hello, which the listener skips
    const ack = (stripe: number, lastLsn: number): PeerMessage => ({ kind: 'ack', stripe, term: 3, from: 'a', lastLsn, matched: true });
    const announce: PeerMessage = { kind: 'announce', stripe: 1, term: 4, from: 'a', epoch: 0 };
    for (const m of [ack(1, 1), ack(1, 2), ack(SINGLE_STRIPE, 3), announce, ack(2, 4), ack(SINGLE_STRIPE, 5)]) connection.send(encodePeerMessage(m));
    await until(() => b.received.length === 2, 'the messages of stripe 0');
    expect(b.received.map((m) => m.kind === 'ack' && m.lastLsn)).toEqual([3, 5]);
    // An announcement crosses stripes: it goes to the directory, whatever stripe it names.
    expect(b.announced).toEqual([announce]);
    expect(b.logged).toHaveLength(2);
    expect(b.logged[0]).toMatch(/b: dropped a 'ack' message from a for stripe 1, which this process does not serve \(it serves 0\)/);
    expect(b.logged[1]).toMatch(/for stripe 2/);
    expect(b.errors).toEqual([]);

    // Garbage is another matter: a ProtocolError, and the connection closes.
    connection.send(new Uint8Array([0xc1]));
    const closed = await connection.closed;
    expect(b.errors).toHaveLength(1);
    expect(b.errors[0]).toBeInstanceOf(ProtocolError);
    expect(closed.reason).toMatch(/peer frame/);
  });
});
