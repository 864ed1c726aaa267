// The frames servers send each other per transaction over several stripes, written and read by
// hand: the writers write the general encoder's bytes (a server that reads only the general form
// reads them), the readers agree with the general path on every frame they read and leave every
// other frame to it (a malformed one is refused there, with its typed error).
import { encode } from '@msgpack/msgpack';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../src/errors.js';
import { defaultLogLimits } from '../src/limits.js';
import { Decision, type StreamEntry } from '../src/log/record.js';
import { decodeClientFrame, decodeServerFrame, encodeRequest, encodeResult, FrameKind } from '../src/protocol/frames.js';
import type { TransactionRequest } from '../src/protocol/messages.js';
import { readDecided, readDecideFrame, readPrepareFrame, readResultHead, readVote, writeDecidedFrame, writeDecideFrame, writePrepareFrame, writeVoteFrame } from '../src/protocol/txn-frames.js';
import { decideFromWire, decideToWire, prepareFromWire, prepareToWire, streamEntriesFromWire, streamEntriesToWire, type DecideRequest, type PrepareRequest } from '../src/protocol/txn-messages.js';

const STREAMS_MAX = defaultLogLimits.streamsPerTransactionMax;

/** What the general path makes of a request frame: its id and arguments, or the error it refuses it with. */
function generalPath<T>(frame: Uint8Array, op: string, fromWire: (args: unknown) => T): { id: number; request: T } | { refused: unknown } {
  try {
    const decoded = decodeClientFrame(frame);
    if (decoded.kind !== FrameKind.Request || decoded.op !== op) return { refused: `not a ${op} request` };
    return { id: decoded.id, request: fromWire(decoded.args) };
  } catch (error) {
    return { refused: error };
  }
}
const preparePath = (frame: Uint8Array) => generalPath(frame, 'prepare', (args) => prepareFromWire(args, STREAMS_MAX));
const decidePath = (frame: Uint8Array) => generalPath(frame, 'decide', decideFromWire);

const asciiName = (maxLength: number) => fc.string({ unit: fc.integer({ min: 0, max: 0x7f }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength });
const anyName = fc.oneof(asciiName(40), fc.string({ unit: 'binary', minLength: 0, maxLength: 10 }), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }), asciiName(300));
const count = fc.oneof(fc.nat(300), fc.nat(), fc.maxSafeNat());
const version = fc.oneof(fc.constantFrom('any', 'no-stream', 'exists'), count);
const events = fc.option(fc.uint8Array({ maxLength: 300 }), { nil: undefined });

const part = (name: fc.Arbitrary<string>): fc.Arbitrary<TransactionRequest> =>
  fc.record({
    clientId: name.filter((n) => n.length <= 128),
    seq: count,
    appends: fc.array(fc.record({ stream: name, expectedVersion: version, events }, { requiredKeys: ['stream', 'expectedVersion'] }), { minLength: 1, maxLength: 4 }),
  }) as fc.Arbitrary<TransactionRequest>;

const prepare = (name: fc.Arbitrary<string>): fc.Arbitrary<PrepareRequest> =>
  fc.record({ txnId: name.filter((n) => n.length <= 200), participants: fc.uniqueArray(fc.nat(20), { minLength: 2, maxLength: 5 }).map((p) => p.sort((a, b) => a - b)), part: part(name) }).map((p) => ({ ...p, coordinator: p.participants[0]! }));

const decide = (name: fc.Arbitrary<string>): fc.Arbitrary<DecideRequest> =>
  fc.record({ txnId: name.filter((n) => n.length <= 200), decision: fc.constantFrom(Decision.Commit, Decision.Abort) });

const entries: fc.Arbitrary<StreamEntry[]> = fc.array(fc.record({ stream: anyName, firstVersion: count, eventCount: count }), { maxLength: 6 });

/** A frame mangled: a byte changed, cut short, or grown. */
const mangle = (frames: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> =>
  fc.tuple(frames, fc.nat(), fc.nat(255), fc.constantFrom('flip', 'cut', 'grow')).map(([original, at, byte, how]) => {
    const frame = original.slice();
    const i = at % frame.length;
    if (how === 'cut') return frame.subarray(0, i);
    if (how === 'grow') return Uint8Array.from([...frame, byte]);
    frame[i] = byte;
    return frame;
  });

describe('prepare frames', () => {
  it("writes the general encoder's bytes, and reads them as the general path does", () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), prepare(anyName), (id, p) => {
        const frame = writePrepareFrame(id, p);
        expect(frame).toEqual(encodeRequest(id, 'prepare', prepareToWire(p)));
        const read = readPrepareFrame(frame, STREAMS_MAX);
        if (read !== undefined) expect(read).toEqual(preparePath(frame));
      }),
    );
  });

  it('reads every prepare of ASCII names', () => {
    fc.assert(
      fc.property(fc.nat(), prepare(asciiName(40)), (id, p) => {
        expect(readPrepareFrame(writePrepareFrame(id, p), STREAMS_MAX)).toEqual({ id, request: p });
      }),
    );
  });

  it('reads only what the general path accepts, to the same values, and leaves it everything else', () => {
    const frames = fc.oneof(
      mangle(fc.tuple(fc.nat(), prepare(asciiName(20))).map(([id, p]) => writePrepareFrame(id, p))),
      fc.tuple(fc.anything(), fc.anything()).map(([id, args]) => encode([FrameKind.Request, id, 'prepare', args])),
      fc.tuple(fc.anything(), fc.anything(), fc.anything(), part(anyName)).map(([txnId, coordinator, participants, p]) =>
        encode([FrameKind.Request, 1, 'prepare', [txnId, coordinator, participants, [p.clientId, p.seq, p.appends.map((a) => [a.stream, a.expectedVersion])]]]),
      ),
    );
    fc.assert(
      fc.property(frames, (frame) => {
        const read = readPrepareFrame(frame, STREAMS_MAX);
        if (read !== undefined) expect(read).toEqual(preparePath(frame));
      }),
      { numRuns: 3000 },
    );
  });

  it('leaves malformed prepares to the general path, which refuses them with InvalidArgumentError', () => {
    const appends = [['s', 'any', encode([['id', 'E', 1]])]];
    const request = (args: unknown[]): Uint8Array => encodeRequest(1, 'prepare', args);
    const refused = [
      request(['t', 1, [0, 1], ['c', 1, appends]]), // the coordinator is not the first participant
      request(['t', 0, [0], ['c', 1, appends]]), // one participant
      request(['', 0, [0, 1], ['c', 1, appends]]),
      request(['t'.repeat(201), 0, [0, 1], ['c', 1, appends]]),
      request(['t', 0, [0, -1], ['c', 1, appends]]),
      request(['t', 0, [0, 1], ['c', 1, []]]),
      request(['t', 0, [0, 1], ['c', 1, [['s', 'some']]]]),
      request(['t', 0, [0, 1]]),
    ];
    for (const frame of refused) {
      expect(readPrepareFrame(frame, STREAMS_MAX)).toBeUndefined();
      expect(preparePath(frame)).toEqual({ refused: expect.any(InvalidArgumentError) });
    }
    expect(readPrepareFrame(Uint8Array.from([...request(['t', 0, [0, 1], ['c', 1, appends]]), 0xc0]), STREAMS_MAX)).toBeUndefined();
    expect(readPrepareFrame(encodeRequest(1, 'decide', ['t', 1]), STREAMS_MAX)).toBeUndefined();
  });
});

describe('decide frames', () => {
  it("writes the general encoder's bytes, and reads them as the general path does", () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), decide(anyName), (id, d) => {
        const frame = writeDecideFrame(id, d);
        expect(frame).toEqual(encodeRequest(id, 'decide', decideToWire(d)));
        const read = readDecideFrame(frame);
        if (read !== undefined) expect(read).toEqual(decidePath(frame));
      }),
    );
    fc.assert(fc.property(fc.nat(), decide(asciiName(200)), (id, d) => {
          expect(readDecideFrame(writeDecideFrame(id, d))).toEqual({ id, request: d });
        },
      ),
    );
  });

  it('reads only what the general path accepts, to the same values, and leaves it everything else', () => {
    const frames = fc.oneof(
      mangle(fc.tuple(fc.nat(), decide(asciiName(20))).map(([id, d]) => writeDecideFrame(id, d))),
      fc.tuple(fc.anything(), fc.anything()).map(([txnId, decision]) => encode([FrameKind.Request, 1, 'decide', [txnId, decision]])),
    );
    fc.assert(
      fc.property(frames, (frame) => {
        const read = readDecideFrame(frame);
        if (read !== undefined) expect(read).toEqual(decidePath(frame));
      }),
      { numRuns: 3000 },
    );
    for (const args of [['t', 0], ['t', 3], ['', 1], ['t'.repeat(201), 1], ['t']]) {
      const frame = encodeRequest(1, 'decide', args);
      expect(readDecideFrame(frame)).toBeUndefined();
      expect(decidePath(frame)).toEqual({ refused: expect.any(InvalidArgumentError) });
    }
  });
});

describe('answers', () => {
  /** What the general path makes of a vote: the ranges, or the error it refuses them with. */
  const generalVote = (frame: Uint8Array): unknown => {
    try {
      const decoded = decodeServerFrame(frame);
      return decoded.kind === FrameKind.Result ? streamEntriesFromWire(decoded.result) : 'not a result';
    } catch (error) {
      return error;
    }
  };

  it("writes a vote as the general encoder does, and reads it as the general path does", () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), entries, (id, e) => {
        const frame = writeVoteFrame(id, e);
        expect(frame).toEqual(encodeResult(id, streamEntriesToWire(e)));
        const head = readResultHead(frame)!;
        expect(head.id).toBe(id);
        const read = readVote(head.reader);
        if (read !== undefined) expect(read).toEqual(generalVote(frame));
        if (e.every((entry) => /^[\x00-\x7f]*$/.test(entry.stream))) expect(read).toEqual(e);
      }),
    );
  });

  it('reads only votes the general path accepts, and leaves it everything else', () => {
    const frames = fc.oneof(
      mangle(fc.tuple(fc.nat(), entries).map(([id, e]) => writeVoteFrame(id, e))),
      fc.anything().map((result) => encode([FrameKind.Result, 1, result])),
      fc.array(fc.tuple(fc.anything(), fc.anything(), fc.anything())).map((rows) => encode([FrameKind.Result, 1, rows])),
    );
    fc.assert(
      fc.property(frames, (frame) => {
        const head = readResultHead(frame);
        const read = head && readVote(head.reader);
        if (read !== undefined) expect(read).toEqual(generalVote(frame));
      }),
      { numRuns: 3000 },
    );
  });

  it("reads a decide's empty answer, and nothing else as one", () => {
    const frame = writeDecidedFrame(300);
    expect(frame).toEqual(encodeResult(300, null));
    expect(readDecided(readResultHead(frame)!.reader)).toBeNull();
    for (const other of [encodeResult(1, []), encodeResult(1, 0), Uint8Array.from([...frame, 0xc0])]) expect(readDecided(readResultHead(other)!.reader)).toBeUndefined();
    expect(readResultHead(encode([FrameKind.Error, 1, { name: 'E', message: '' }]))).toBeUndefined();
  });
});
