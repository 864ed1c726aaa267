// Outputs carved from one slab stay the caller's: a later encode never writes over an earlier one.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { encode } from '@msgpack/msgpack';
import { SlabEncoder } from '../src/log/slab-encoder.js';

describe('SlabEncoder', () => {
  it('encodes as the plain encoder does, and every output keeps its bytes across later encodes and new slabs', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.uint8Array({ maxLength: 6000 })), { minLength: 1, maxLength: 300 }), (values) => {
        const encoder = new SlabEncoder({ ignoreUndefined: true });
        const outputs = values.map((value) => encoder.encode(value));
        // Checked once every value is encoded: a later encode must not have written over an output.
        // (Bytes, not decoded values: MessagePack's decoder refuses keys such as `__proto__`.)
        outputs.forEach((output, i) => expect(output).toEqual(encode(values[i], { ignoreUndefined: true })));
      }),
      { numRuns: 50 },
    );
  });

  it('shares a slab among small outputs and gives a large one a buffer of its own', () => {
    const encoder = new SlabEncoder({});
    const a = encoder.encode('a');
    const b = encoder.encode('b');
    expect(a.buffer).toBe(b.buffer);
    const large = encoder.encode(new Uint8Array(17 * 1024));
    expect(large.buffer).not.toBe(a.buffer);
    expect(large.byteOffset).toBe(0);
    expect(large.byteLength).toBe(large.buffer.byteLength);
  });
});
