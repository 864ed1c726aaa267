// The record codec and CRC: what recovery relies on to tell a whole record from a torn one.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { encode } from '@msgpack/msgpack';
import {
  CorruptRecordError,
  crc32c,
  decodeRecord,
  encodeRecord,
  indexRecord,
  InvalidArgumentError,
  RecordKind,
  recordTerm,
  RECORD_HEADER_BYTES,
  UnsupportedRecordKindError,
  type LogRecord,
} from '@kiln/core';

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('crc32c', () => {
  it('matches the published check value', () => {
    expect(crc32c(ascii('123456789'))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(0))).toBe(0);
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
  });

  it('agrees with the bit-by-bit definition at every length and offset the table steps can meet', () => {
    const bitwise = (bytes: Uint8Array): number => {
      let crc = 0xffffffff;
      for (const byte of bytes) {
        crc ^= byte;
        for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
      }
      return (crc ^ 0xffffffff) >>> 0;
    };
    const data = Uint8Array.from({ length: 300 }, (_, i) => (i * 167 + 13) & 0xff);
    for (let start = 0; start < 8; start++) {
      for (let length = 0; length <= 40; length++) expect(crc32c(data.subarray(start, start + length))).toBe(bitwise(data.subarray(start, start + length)));
    }
    expect(crc32c(data)).toBe(bitwise(data));
  });
});

const record = (over: Partial<LogRecord> = {}): LogRecord => ({
  lsn: 7,
  term: 2,
  kind: RecordKind.Commit,
  clientId: 'c1',
  seq: 3,
  timestampMs: 1_700_000_000_000,
  appends: [{ stream: 'orders-1', firstVersion: 4, eventCount: 1, events: new Uint8Array([0x91, 0x93, 0xa1, 0x61, 0xa1, 0x62, 0xc0]) }],
  ...over,
});

describe('record codec', () => {
  it('round-trips a record and lists its stream entries', () => {
    const encoded = encodeRecord(record());
    expect(encoded.streams).toEqual([{ stream: 'orders-1', firstVersion: 4, eventCount: 1 }]);
    expect(decodeRecord(encoded.bytes, 7)).toEqual(record());
  });

  it('indexes a record from its bytes as encoding it does: term and stream entries, for any shape', () => {
    const append = fc.record({
      stream: fc.string({ unit: 'binary', minLength: 1, maxLength: 300 }),
      firstVersion: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
      eventCount: fc.integer({ min: 1, max: 100_000 }),
      events: fc.uint8Array({ minLength: 0, maxLength: 70_000 }),
    });
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        fc.array(append, { maxLength: 20 }),
        fc.oneof(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.double({ noNaN: true })),
        (lsn, term, appends, timestampMs) => {
          const encoded = encodeRecord(record({ lsn, term, appends, timestampMs }));
          expect(indexRecord(encoded.bytes, lsn)).toEqual(encoded);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('refuses a stream name with a lone surrogate, whose bytes would name another stream than its entry', () => {
    const events = record().appends[0]!.events;
    for (const stream of ['a\uD800', '\uDC00', `${'n'.repeat(300)}\uD83D`]) {
      const appends = [{ stream: 'fine', firstVersion: 0, eventCount: 1, events }, { stream, firstVersion: 0, eventCount: 1, events }];
      expect(() => encodeRecord(record({ appends })), JSON.stringify(stream.slice(-2))).toThrow(InvalidArgumentError);
    }
    expect(encodeRecord(record({ appends: [{ stream: 'a\uD83D\uDE00', firstVersion: 0, eventCount: 1, events }] })).streams[0]!.stream).toBe('a\uD83D\uDE00');
  });

  it('refuses to index a record with a bad CRC or another LSN', () => {
    const bytes = encodeRecord(record()).bytes;
    expect(() => indexRecord(bytes, 8)).toThrow(CorruptRecordError);
    const garbled = bytes.slice();
    garbled[garbled.length - 1]! ^= 0xff;
    expect(() => indexRecord(garbled, 7)).toThrow(CorruptRecordError);
  });

  it('reads the term from the head of a record as a full decode does, for any LSN and term', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (lsn, term) => {
        expect(recordTerm(encodeRecord(record({ lsn, term })).bytes, lsn)).toBe(term);
      }),
    );
  });

  it('detects every single flipped byte and every cut', () => {
    const { bytes } = encodeRecord(record());
    for (let i = 0; i < bytes.length; i++) {
      const garbled = bytes.slice();
      garbled[i] = garbled[i]! ^ 0x5a;
      expect(() => decodeRecord(garbled, 7)).toThrow(CorruptRecordError);
    }
    for (let cut = 0; cut < bytes.length; cut++) expect(() => decodeRecord(bytes.subarray(0, cut), 7)).toThrow(CorruptRecordError);
  });

  it('refuses a whole record stored under another LSN', () => {
    expect(() => decodeRecord(encodeRecord(record()).bytes, 8)).toThrow(/holds LSN 7/);
  });

  it('round-trips arbitrary records', () => {
    const append = fc.record({
      stream: fc.string({ minLength: 1, maxLength: 40 }),
      firstVersion: fc.nat(),
      eventCount: fc.integer({ min: 1, max: 100 }),
      events: fc.uint8Array({ minLength: 1, maxLength: 300 }),
    });
    fc.assert(
      fc.property(fc.nat(), fc.nat(), fc.string({ maxLength: 40 }), fc.nat(), fc.array(append, { minLength: 1, maxLength: 5 }), (lsn, term, clientId, seq, appends) => {
        const r: LogRecord = { lsn, term, kind: RecordKind.Commit, clientId, seq, timestampMs: 0, appends };
        const { bytes } = encodeRecord(r);
        expect(bytes.length).toBeGreaterThan(RECORD_HEADER_BYTES);
        expect(decodeRecord(bytes, lsn)).toEqual(r);
      }),
    );
  });

  it('writes a commit record byte for byte as the general MessagePack encoder does, for any size of integer, string and list', () => {
    const count = fc.oneof(fc.nat({ max: 300 }), fc.nat({ max: 70_000 }), fc.nat(), fc.maxSafeNat());
    const text = fc.oneof(fc.string({ minLength: 1, maxLength: 40 }), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }), fc.string({ minLength: 250, maxLength: 300 }), fc.constant('x'.repeat(70_000)));
    const append = fc.record({ stream: text, firstVersion: count, eventCount: count, events: fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.constant(new Uint8Array(70_000))) });
    fc.assert(
      fc.property(count, count, text, count, count, fc.array(append, { minLength: 1, maxLength: 17 }), (lsn, term, clientId, seq, timestampMs, appends) => {
        const r: LogRecord = { lsn, term, kind: RecordKind.Commit, clientId, seq, timestampMs, appends };
        const { bytes } = encodeRecord(r);
        expect(Buffer.from(bytes).equals(Buffer.from(framed(encode([lsn, term, RecordKind.Commit, clientId, seq, timestampMs, appends.map((a) => [a.stream, a.firstVersion, a.eventCount, a.events])]))))).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it('keeps every record it wrote intact while it writes many more', () => {
    // Records share slabs: a later one must never land on an earlier one's bytes.
    const written = Array.from({ length: 3000 }, (_, i) => {
      const { bytes } = encodeRecord(record({ lsn: i + 1, seq: i, appends: [{ stream: `s-${i}`, firstVersion: i, eventCount: 1, events: new Uint8Array(i % 7 === 0 ? 20_000 : 100).fill(i & 0xff) }] }));
      return { bytes, copy: bytes.slice() };
    });
    const changed = written.filter(({ bytes, copy }, i) => !Buffer.from(bytes).equals(Buffer.from(copy)) || decodeRecord(bytes, i + 1).seq !== i);
    expect(changed).toHaveLength(0);
  });
});

/** Frames a record body as every format does: `u32le length | u32le crc32c | body`. */
function framed(body: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(RECORD_HEADER_BYTES + body.length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, body.length, true);
  view.setUint32(4, crc32c(body), true);
  bytes.set(body, RECORD_HEADER_BYTES);
  return bytes;
}

/** A record as format version 1 wrote it: no kind. */
const formatOne = (r: LogRecord): Uint8Array =>
  framed(encode([r.lsn, r.term, r.clientId, r.seq, r.timestampMs, r.appends.map((a) => [a.stream, a.firstVersion, a.eventCount, a.events])]));

/** A record of the current layout but of any kind, as a newer version might write. */
const ofKind = (r: LogRecord, kind: number): Uint8Array =>
  framed(encode([r.lsn, r.term, kind, r.clientId, r.seq, r.timestampMs, r.appends.map((a) => [a.stream, a.firstVersion, a.eventCount, a.events])]));

describe('record kinds and format versions', () => {
  it('writes the kind third, after the LSN and term', () => {
    const body = encodeRecord(record()).bytes.subarray(RECORD_HEADER_BYTES);
    expect([...body.subarray(0, 4)]).toEqual([0x97, 7, 2, RecordKind.Commit]);
  });

  it('reads a format-1 record, which has no kind, as a commit record: decoded, indexed and its term read as the encoder would', () => {
    const append = fc.record({
      stream: fc.string({ unit: 'binary', minLength: 1, maxLength: 100 }),
      firstVersion: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
      eventCount: fc.integer({ min: 1, max: 100_000 }),
      events: fc.uint8Array({ minLength: 0, maxLength: 300 }),
    });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.array(append, { maxLength: 8 }), (lsn, term, appends) => {
        const r = record({ lsn, term, appends });
        const bytes = formatOne(r);
        expect(decodeRecord(bytes, lsn)).toEqual(r);
        expect(recordTerm(bytes, lsn)).toBe(term);
        expect(indexRecord(bytes, lsn)).toEqual({ ...encodeRecord(r), bytes });
      }),
      { numRuns: 100 },
    );
  });

  it('refuses a record of a reserved or unknown kind with UnsupportedRecordKindError, not as corrupt', () => {
    for (const kind of [RecordKind.Scavenge, 0, 99]) {
      const bytes = ofKind(record(), kind);
      for (const read of [() => decodeRecord(bytes, 7), () => indexRecord(bytes, 7)]) {
        let error: unknown;
        try {
          read();
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(UnsupportedRecordKindError);
        expect(error).not.toBeInstanceOf(CorruptRecordError);
        expect(error).toMatchObject({ lsn: 7, kind, message: `record at LSN 7 is of kind ${kind}, which this version of Kiln does not read` });
      }
      // Every kind opens with [lsn, term]: a mirror's term lookup needs no more.
      expect(recordTerm(bytes, 7)).toBe(2);
    }
  });

  it('round-trips the steps of a transaction over several stripes; a prepare indexes nothing, a committing decide or outcome its part', () => {
    const txn = (decision: 0 | 1 | 2, prepareLsn = 0) => ({ id: 'client#4', coordinator: 0, participants: [0, 2], decision, prepareLsn, streams: decision === 1 && prepareLsn === 0 ? [{ stream: 'a', firstVersion: 3, eventCount: 1 }, { stream: 'b', firstVersion: 0, eventCount: 2 }] : [] });
    const part = [{ stream: 'b', firstVersion: 0, eventCount: 2, events: new Uint8Array([0x92, 1, 2]) }];
    const steps: LogRecord[] = [
      { ...record(), kind: RecordKind.Prepare, appends: part, txn: txn(0) },
      { ...record(), kind: RecordKind.Decide, appends: [{ stream: 'a', firstVersion: 3, eventCount: 1, events: new Uint8Array([0x91, 1]) }], txn: txn(1) },
      { ...record(), kind: RecordKind.Decide, appends: [], txn: txn(2) },
      { ...record(), kind: RecordKind.Outcome, appends: part, txn: txn(1, 5) },
      { ...record(), kind: RecordKind.Outcome, appends: [], txn: txn(2, 5) },
    ];
    for (const step of steps) {
      const encoded = encodeRecord(step);
      expect(decodeRecord(encoded.bytes, step.lsn)).toEqual(step);
      const indexed = indexRecord(encoded.bytes, step.lsn);
      expect(indexed.streams).toEqual(encoded.streams);
      expect(indexed.streams).toEqual(step.kind === RecordKind.Prepare ? [] : step.appends.map(({ stream, firstVersion, eventCount }) => ({ stream, firstVersion, eventCount })));
      expect(recordTerm(encoded.bytes, step.lsn)).toBe(step.term);
    }
  });

  it('writes a transaction step byte for byte as the general MessagePack encoder does, and indexes it from its bytes as a full decode does', () => {
    const count = fc.oneof(fc.nat({ max: 300 }), fc.nat({ max: 70_000 }), fc.maxSafeNat());
    const text = fc.oneof(fc.string({ minLength: 1, maxLength: 40 }), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }), fc.string({ minLength: 250, maxLength: 300 }));
    const entry = fc.record({ stream: text, firstVersion: count, eventCount: count });
    const append = fc.record({ stream: text, firstVersion: count, eventCount: count, events: fc.uint8Array({ maxLength: 300 }) });
    const txn = fc.record({ id: text, coordinator: count, participants: fc.array(count, { maxLength: 17 }), decision: fc.constantFrom(0, 1, 2), prepareLsn: count, streams: fc.array(entry, { maxLength: 17 }) });
    const kind = fc.constantFrom(RecordKind.Prepare, RecordKind.Decide, RecordKind.Outcome);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), count, kind, text, count, count, fc.array(append, { maxLength: 17 }), txn, (lsn, term, kind, clientId, seq, timestampMs, appends, txn) => {
        const r: LogRecord = { lsn, term, kind, clientId, seq, timestampMs, appends, txn };
        const encoded = encodeRecord(r);
        const wire = [lsn, term, kind, clientId, seq, timestampMs, appends.map((a) => [a.stream, a.firstVersion, a.eventCount, a.events]), [txn.id, txn.coordinator, txn.participants, txn.decision, txn.prepareLsn, txn.streams.map((e) => [e.stream, e.firstVersion, e.eventCount])]];
        expect(Buffer.from(encoded.bytes).equals(Buffer.from(framed(encode(wire))))).toBe(true);
        expect(decodeRecord(encoded.bytes, lsn)).toEqual(r);
        expect(indexRecord(encoded.bytes, lsn)).toEqual(encoded);
        expect(encoded.streams).toEqual(kind === RecordKind.Prepare ? [] : appends.map(({ stream, firstVersion, eventCount }) => ({ stream, firstVersion, eventCount })));
        expect(recordTerm(encoded.bytes, lsn)).toBe(term);
      }),
      { numRuns: 100 },
    );
  });

  it('refuses to index a transaction step whose txn field is malformed, as a full decode does', () => {
    const good = ['c#1/0.1.1', 0, [0, 1], 0, 0, []];
    const bad: unknown[][] = [good.slice(0, 5), ['c#1', 0, [0, 1], 7, 0, []], ['c#1', 0, ['x'], 0, 0, []], [1, 0, [0, 1], 0, 0, []], ['c#1', 0, [0, 1], 0, 0, [['s', 1]]], [...good, 'extra']];
    expect(indexRecord(framed(encode([7, 2, RecordKind.Prepare, 'c', 1, 0, [], good])), 7).lsn).toBe(7);
    for (const txn of bad) {
      const bytes = framed(encode([7, 2, RecordKind.Prepare, 'c', 1, 0, [['s', 1, 1, new Uint8Array([0x91])]], txn]));
      expect(() => indexRecord(bytes, 7)).toThrow(CorruptRecordError);
      expect(() => decodeRecord(bytes, 7)).toThrow(CorruptRecordError);
    }
  });

  it('refuses a kind that is not an integer as a corrupt record', () => {
    expect(() => decodeRecord(ofKind(record(), 'commit' as unknown as number), 7)).toThrow(CorruptRecordError);
  });
});
