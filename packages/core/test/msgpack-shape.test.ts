// The pre-scan accepts every value the encoder makes and rejects deep or impossible shapes
// before the decoder allocates.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { encode } from '@msgpack/msgpack';
import { eventRowsProblem, msgpackShapeProblem } from '../src/log/msgpack-shape.js';
import { encodeEvents } from '../src/log/events.js';

describe('msgpackShapeProblem', () => {
  it('accepts whatever the encoder produces', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), fc.uint8Array({ maxLength: 300 }), (value, bytes) => {
        expect(msgpackShapeProblem(encode(value))).toBeUndefined();
        expect(msgpackShapeProblem(encode([value, bytes, { k: bytes }]))).toBeUndefined();
      }),
      { numRuns: 2000 },
    );
  });

  it('rejects nesting past the limit, before decoding', () => {
    const deep = new Uint8Array(4 * 1024 * 1024).fill(0x91);
    const started = performance.now();
    expect(msgpackShapeProblem(deep)).toMatch(/deeper than 64/);
    expect(performance.now() - started).toBeLessThan(1000);
    let nested: unknown = 1;
    for (let i = 0; i < 64; i++) nested = [nested];
    expect(msgpackShapeProblem(encode(nested))).toBeUndefined();
    expect(msgpackShapeProblem(encode([nested]))).toMatch(/deeper/);
  });

  it('rejects truncation, extra bytes, impossible counts and invalid type bytes', () => {
    const good = encode({ a: [1, 2, 'three'], b: new Uint8Array(10) });
    for (let cut = 0; cut < good.length; cut++) expect(msgpackShapeProblem(good.subarray(0, cut))).toBeDefined();
    expect(msgpackShapeProblem(new Uint8Array([...good, 0]))).toMatch(/extra/);
    expect(msgpackShapeProblem(new Uint8Array([0xdd, 0xff, 0xff, 0xff, 0xff]))).toMatch(/claims/);
    expect(msgpackShapeProblem(new Uint8Array([0xc1]))).toMatch(/invalid/);
  });
});

describe('eventRowsProblem', () => {
  const event = fc.record({
    id: fc.string({ minLength: 1, maxLength: 60 }),
    type: fc.string({ minLength: 1, maxLength: 60 }),
    data: fc.jsonValue({ maxDepth: 5 }),
    metadata: fc.option(fc.jsonValue({ maxDepth: 3 }), { nil: undefined }),
  });

  it('counts the events of every blob the client encodes', () => {
    fc.assert(
      fc.property(fc.array(event, { minLength: 1, maxLength: 20 }), (events) => {
        expect(eventRowsProblem(encodeEvents(events, () => 'unused'))).toBe(events.length);
      }),
      { numRuns: 1000 },
    );
  });

  it('names what is wrong with a malformed blob', () => {
    expect(eventRowsProblem(encode([]))).toMatch(/non-empty/);
    expect(eventRowsProblem(encode({ a: 1 }))).toMatch(/non-empty/);
    expect(eventRowsProblem(encode([['id', 'type']]))).toMatch(/\[id, type, data/);
    expect(eventRowsProblem(encode([['', 'type', 1]]))).toMatch(/id must be/);
    expect(eventRowsProblem(encode([['id', 7, 1]]))).toMatch(/type must be/);
    expect(eventRowsProblem(encode([['id', 'x'.repeat(300), 1]]))).toMatch(/type must be/);
    expect(eventRowsProblem(new Uint8Array([...encode([['id', 't', 1]]), 0]))).toMatch(/extra/);
    const good = encode([['id', 't', { deep: [1, 2, 3] }]]);
    for (let cut = 1; cut < good.length; cut++) expect(typeof eventRowsProblem(good.subarray(0, cut))).toBe('string');
  });
});
