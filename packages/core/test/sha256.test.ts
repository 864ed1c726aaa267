// The SHA-256 range digests are made with gives Node's own digest, fed in pieces of every size.
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Sha256 } from '../src/sha256.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

describe('Sha256', () => {
  it('gives the FIPS 180-4 digests of the standard inputs', () => {
    expect(hex(new Sha256().digest())).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(hex(new Sha256().update(new TextEncoder().encode('abc')).digest())).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it("equals node:crypto's digest of the same bytes however they are cut into pieces", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 700 }), fc.array(fc.nat(700), { maxLength: 8 }), (bytes, cuts) => {
        const hash = new Sha256();
        let at = 0;
        for (const cut of [...cuts].sort((a, b) => a - b).map((c) => Math.min(c, bytes.length))) {
          hash.update(bytes.subarray(at, Math.max(at, cut)));
          at = Math.max(at, cut);
        }
        hash.update(bytes.subarray(at));
        expect(hex(hash.digest())).toBe(createHash('sha256').update(bytes).digest('hex'));
      }),
      { numRuns: 500 },
    );
  });
});
