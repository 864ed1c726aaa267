// Routing is fixed forever once a cluster holds data: a stream's slot, and the initial slot table,
// must never change between versions. These tests pin both, and check the hash against the
// values Redis Cluster publishes (Kiln uses the same CRC-16 and hash-tag rule).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc16, hashKeyOf, SLOT_COUNT, slotOf, SlotTable, type SlotRange } from '../src/cluster/slots.js';
import { InvalidArgumentError } from '../src/errors.js';

const utf8 = new TextEncoder();

/** CRC-16/XMODEM bit by bit, straight from its definition: an independent check of the table-driven one. */
function crc16Bitwise(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** Any well-formed name: every code point, astral ones included, never a lone surrogate. */
const anyName = fc.string({ unit: 'binary', maxLength: 40 });

describe('crc16', () => {
  it('gives the CRC-16/XMODEM check value for "123456789"', () => {
    expect(crc16(utf8.encode('123456789'))).toBe(0x31c3);
  });

  it('is 0 for no bytes, and agrees with a bit-by-bit CRC on any bytes', () => {
    expect(crc16(new Uint8Array(0))).toBe(0);
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => crc16(bytes) === crc16Bitwise(bytes)));
  });
});

describe('slotOf', () => {
  // Computed once from this implementation; a change to the hash or the tag rule fails here.
  it.each([
    ['foo', 12182],
    ['bar', 5061],
    ['hello', 866],
    ['orders', 105],
    ['account-{42}', 8000],
    ['ledger-{42}', 8000],
    ['{user1000}.following', 3443],
    ['{user1000}.followers', 3443],
    ['foo{}{bar}', 8363],
    ['foo{{bar}}zap', 4015],
    ['é', 10180],
    ['日本語', 12788],
    ['😀', 2959],
  ])('slotOf(%j) is %i', (stream, slot) => {
    expect(slotOf(stream)).toBe(slot);
  });

  // Published by Redis: the CLUSTER KEYSLOT reference page, Dragonfly's page for the same
  // command, and a community table of one key per slot (its first three rows).
  it.each([
    ['somekey', 11058],
    ['foo{hash_tag}', 2515],
    ['bar{hash_tag}', 2515],
    ['{user1}.following', 8106],
    ['fyimk7v1CgnBo', 0],
    ['8HMdi', 1],
    ['IQhHSeAVHI', 2],
  ])('matches Redis Cluster: %j is in slot %i', (stream, slot) => {
    expect(slotOf(stream)).toBe(slot);
  });

  it('follows the hash-tag rules of Redis Cluster', () => {
    expect(slotOf('{user1000}.following')).toBe(slotOf('{user1000}.followers'));
    expect(slotOf('{user1000}.following')).toBe(slotOf('user1000'));
    // An empty first tag means no tag: the whole name is hashed, the later {bar} does not count.
    expect(hashKeyOf('foo{}{bar}')).toBe('foo{}{bar}');
    expect(slotOf('foo{}{bar}')).toBe(crc16(utf8.encode('foo{}{bar}')) % SLOT_COUNT);
    // The tag runs from the first '{' to the first '}' after it.
    expect(hashKeyOf('foo{{bar}}zap')).toBe('{bar');
    expect(slotOf('foo{{bar}}zap')).toBe(crc16(utf8.encode('{bar')) % SLOT_COUNT);
    expect(hashKeyOf('foo{bar}{zap}')).toBe('bar');
    // No closing brace after the opening one: no tag.
    expect(hashKeyOf('foo}{bar')).toBe('foo}{bar');
  });

  it('hashes the UTF-8 bytes of the key and lands in 0..16383, for any name', () => {
    fc.assert(
      fc.property(anyName, (stream) => {
        const slot = slotOf(stream);
        return Number.isInteger(slot) && slot >= 0 && slot < SLOT_COUNT && slot === crc16Bitwise(utf8.encode(hashKeyOf(stream))) % SLOT_COUNT;
      }),
    );
  });

  it('hashes the bytes TextEncoder gives for any UTF-16 text, a lone surrogate as U+FFFD', () => {
    // slotOf takes the UTF-8 bytes from the code units as it hashes; TextEncoder is the reference.
    expect(slotOf('a\ud800b')).toBe(slotOf('a\ufffdb'));
    expect(slotOf('\udc00\ud83d')).toBe(slotOf('\ufffd\ufffd'));
    const codeUnits = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 40 });
    fc.assert(fc.property(codeUnits, (stream) => slotOf(stream) === crc16Bitwise(utf8.encode(hashKeyOf(stream))) % SLOT_COUNT), { numRuns: 2000 });
  });

  it('puts any name with a non-empty first tag in the slot of the tag alone', () => {
    const noOpen = fc.string({ unit: 'binary', maxLength: 20 }).filter((s) => !s.includes('{'));
    const tag = fc.string({ unit: 'binary', minLength: 1, maxLength: 20 }).filter((s) => s.length > 0 && !s.includes('}'));
    fc.assert(
      fc.property(noOpen, tag, anyName, (prefix, key, suffix) => {
        const stream = `${prefix}{${key}}${suffix}`;
        return hashKeyOf(stream) === key && slotOf(stream) === slotOf(key);
      }),
    );
  });
});

describe('SlotTable.initial', () => {
  // A fingerprint per stripe count: a change to how a new cluster splits its slots fails here.
  const fingerprints: Record<number, string> = {
    1: 'c8d1db76',
    2: '03ab688e',
    3: 'b502c6e0',
    4: 'be1a43d6',
    5: '48c709ef',
    6: 'c5a97a41',
    7: 'f80adbde',
    8: '6d6726d7',
  };

  it.each([1, 2, 3, 4, 5, 6, 7, 8])('splits the slots among %i stripe(s): every slot, one contiguous run each, balanced, stable', (n) => {
    const table = SlotTable.initial(n);
    expect(table.version).toBe(1);
    expect(table.stripeCount).toBe(n);
    const ranges = table.ranges();
    // One run per stripe, in stripe order, each continuing the last, together covering 0..16383.
    expect(ranges.map((r) => r[2])).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(ranges[0]![0]).toBe(0);
    expect(ranges[n - 1]![1]).toBe(SLOT_COUNT - 1);
    ranges.forEach((r, i) => i > 0 && expect(r[0]).toBe(ranges[i - 1]![1] + 1));
    const sizes = ranges.map(([first, last]) => last - first + 1);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(SLOT_COUNT);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    for (let slot = 0; slot < SLOT_COUNT; slot++) {
      const owner = table.stripeOfSlot(slot);
      const [first, last] = ranges[owner]!;
      if (slot < first || slot > last) expect.fail(`slot ${slot} is held by stripe ${owner}, outside its run [${first}, ${last}]`);
    }
    expect(table.fingerprint()).toBe(fingerprints[n]);
  });

  it('routes a stream to the stripe holding its slot', () => {
    const table = SlotTable.initial(2);
    expect(table.stripeOf('bar')).toBe(0); // slot 5061
    expect(table.stripeOf('foo')).toBe(1); // slot 12182
    expect(table.stripeOf('account-{42}')).toBe(table.stripeOf('ledger-{42}'));
  });

  it.each([0, -1, 1.5, Number.NaN, SLOT_COUNT + 1])('refuses %d stripes with InvalidArgumentError', (n) => {
    expect(() => SlotTable.initial(n)).toThrow(InvalidArgumentError);
  });
});

describe('SlotTable.fromRanges', () => {
  const last = SLOT_COUNT - 1;

  it.each<[string, number, readonly SlotRange[], RegExp]>([
    ['a gap', 2, [[0, 99, 0], [101, last, 1]], /does not continue from slot 100/],
    ['an overlap', 2, [[0, 100, 0], [100, last, 1]], /does not continue from slot 101/],
    ['a run that does not start at slot 0', 1, [[1, last, 0]], /does not continue from slot 0/],
    ['runs that stop short', 2, [[0, 99, 0], [100, last - 1, 1]], /end at slot 16382/],
    ['no runs', 1, [], /end at slot -1/],
    ['a run past the last slot', 1, [[0, SLOT_COUNT, 0]], /does not continue/],
    ['a run that ends before it starts', 2, [[0, 99, 0], [100, 50, 1]], /does not continue/],
    ['a stripe past the count', 2, [[0, 99, 0], [100, last, 2]], /names stripe 2, not one of 0..1/],
    ['a negative stripe', 2, [[0, 99, -1], [100, last, 1]], /names stripe -1/],
    ['a fractional stripe', 2, [[0, 99, 0.5], [100, last, 1]], /names stripe 0.5/],
  ])('refuses %s with InvalidArgumentError', (_what, stripeCount, ranges, message) => {
    const attempt = (): SlotTable => SlotTable.fromRanges(1, stripeCount, ranges);
    expect(attempt).toThrow(InvalidArgumentError);
    expect(attempt).toThrow(message);
  });

  it.each([0, -1, 1.5])('refuses version %d', (version) => {
    expect(() => SlotTable.fromRanges(version, 1, [[0, last, 0]])).toThrow(InvalidArgumentError);
  });

  it('round-trips every initial table through ranges()', () => {
    for (let n = 1; n <= 8; n++) {
      const table = SlotTable.initial(n);
      const again = SlotTable.fromRanges(table.version, n, table.ranges());
      expect(again.ranges()).toEqual(table.ranges());
      expect(again.sameAssignment(table)).toBe(true);
      expect(again.fingerprint()).toBe(table.fingerprint());
    }
  });

  it('round-trips any table through ranges(), merging neighbouring runs of one stripe', () => {
    // A table as cut points and owners: runs [cut[i], cut[i+1] - 1] held by owners[i].
    const table = fc
      .tuple(fc.integer({ min: 1, max: 8 }), fc.uniqueArray(fc.integer({ min: 1, max: last }), { maxLength: 30 }))
      .chain(([stripeCount, cuts]) =>
        fc.tuple(fc.constant(stripeCount), fc.constant([0, ...cuts.sort((a, b) => a - b), SLOT_COUNT]), fc.array(fc.nat({ max: stripeCount - 1 }), { minLength: cuts.length + 1, maxLength: cuts.length + 1 })),
      );
    fc.assert(
      fc.property(table, fc.integer({ min: 1, max: 1000 }), ([stripeCount, bounds, owners], version) => {
        const ranges: SlotRange[] = owners.map((owner, i) => [bounds[i]!, bounds[i + 1]! - 1, owner]);
        const built = SlotTable.fromRanges(version, stripeCount, ranges);
        const again = SlotTable.fromRanges(version, stripeCount, built.ranges());
        expect(again.sameAssignment(built)).toBe(true);
        expect(again.ranges()).toEqual(built.ranges());
        // ranges() never leaves two neighbouring runs of one stripe.
        built.ranges().forEach((r, i, all) => i > 0 && expect(r[2]).not.toBe(all[i - 1]![2]));
        for (const [first, lastSlot, owner] of ranges) {
          expect(built.stripeOfSlot(first)).toBe(owner);
          expect(built.stripeOfSlot(lastSlot)).toBe(owner);
        }
      }),
    );
  });
});
