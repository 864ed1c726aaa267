/**
 * Routing: which stripe holds a stream. A stream's slot is the CRC-16 (XMODEM, as Redis Cluster
 * uses) of the UTF-8 bytes of its hash key, modulo {@link SLOT_COUNT}; the slot table maps each
 * slot to a stripe. The hash key is the whole name, unless the name holds a `{` followed later by
 * a `}` with at least one character between them: then only those characters are hashed (a hash
 * tag), so `account-{42}` and `ledger-{42}` share a slot, and a transaction over both stays on one
 * stripe. The slot of a name never changes; adding stripes later moves slots between stripes
 * (a new table version), it never rehashes a stream.
 *
 * @packageDocumentation
 */
import { InvalidArgumentError } from '../errors.js';
import { crc32c } from '../crc32c.js';

/** Slots in every cluster: fixed, whatever the number of stripes. */
export const SLOT_COUNT = 16_384;

/** The version of the table a cluster is created with; moving slots later makes a new version. */
export const INITIAL_SLOT_TABLE_VERSION = 1;

const utf8 = new TextEncoder();
const crc16Table = buildCrc16Table();

function buildCrc16Table(): Uint16Array {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 8;
    for (let k = 0; k < 8; k++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
    table[i] = c;
  }
  return table;
}

/** CRC-16/XMODEM (polynomial 0x1021, initial value 0): Redis Cluster's slot hash. */
export function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (let i = 0; i < bytes.length; i++) crc = crc16Step(crc, bytes[i]!);
  return crc;
}

function crc16Step(crc: number, byte: number): number {
  return ((crc << 8) & 0xffff) ^ crc16Table[((crc >>> 8) ^ byte) & 0xff]!;
}

/**
 * {@link crc16} of the UTF-8 bytes of `text`, taken from its UTF-16 code units as they are
 * encoded, without encoding it first: every operation of a client and a server of several
 * stripes routes by it, and `TextEncoder`'s copy cost several times the hash. A lone surrogate
 * counts as U+FFFD, as `TextEncoder` writes it.
 */
function crc16OfUtf8(text: string): number {
  let crc = 0;
  for (let i = 0; i < text.length; i++) {
    let code = text.charCodeAt(i);
    if (code < 0x80) {
      crc = crc16Step(crc, code);
      continue;
    }
    if (code < 0x800) {
      crc = crc16Step(crc16Step(crc, 0xc0 | (code >>> 6)), 0x80 | (code & 0x3f));
      continue;
    }
    if (code >= 0xd800 && code <= 0xdfff) {
      const low = i + 1 < text.length ? text.charCodeAt(i + 1) : 0;
      if (code <= 0xdbff && low >= 0xdc00 && low <= 0xdfff) {
        const point = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
        i++;
        crc = crc16Step(crc16Step(crc, 0xf0 | (point >>> 18)), 0x80 | ((point >>> 12) & 0x3f));
        crc = crc16Step(crc16Step(crc, 0x80 | ((point >>> 6) & 0x3f)), 0x80 | (point & 0x3f));
        continue;
      }
      code = 0xfffd;
    }
    crc = crc16Step(crc16Step(crc16Step(crc, 0xe0 | (code >>> 12)), 0x80 | ((code >>> 6) & 0x3f)), 0x80 | (code & 0x3f));
  }
  return crc;
}

/** The part of a stream name that is hashed: the text inside its first non-empty `{...}`, or the whole name. */
export function hashKeyOf(stream: string): string {
  const open = stream.indexOf('{');
  if (open < 0) return stream;
  const close = stream.indexOf('}', open + 1);
  if (close <= open + 1) return stream;
  return stream.slice(open + 1, close);
}

/** The slot of a stream, 0..16383. Names are checked for well-formed Unicode before they get here. */
export function slotOf(stream: string): number {
  return crc16OfUtf8(hashKeyOf(stream)) % SLOT_COUNT;
}

/** A run of slots held by one stripe: `[first, last]` inclusive, and the stripe's index. */
export type SlotRange = readonly [first: number, last: number, stripe: number];

/**
 * Which stripe holds each slot, with a version that grows whenever slots move. A cluster records
 * its table at creation; every server and client routes by it.
 */
export class SlotTable {
  private readonly owners: Uint16Array;

  private constructor(
    readonly version: number,
    readonly stripeCount: number,
    owners: Uint16Array,
  ) {
    this.owners = owners;
  }

  /** The table a new cluster of `stripeCount` stripes starts with: stripe `i` holds the `i`-th of equal contiguous runs. */
  static initial(stripeCount: number): SlotTable {
    if (!Number.isSafeInteger(stripeCount) || stripeCount < 1 || stripeCount > SLOT_COUNT) {
      throw new InvalidArgumentError('stripes', `a cluster has 1..${SLOT_COUNT} stripes, got ${stripeCount}`);
    }
    const owners = new Uint16Array(SLOT_COUNT);
    for (let stripe = 0; stripe < stripeCount; stripe++) {
      owners.fill(stripe, Math.floor((stripe * SLOT_COUNT) / stripeCount), Math.floor(((stripe + 1) * SLOT_COUNT) / stripeCount));
    }
    return new SlotTable(INITIAL_SLOT_TABLE_VERSION, stripeCount, owners);
  }

  /**
   * A table as it travels: its version and its runs, which must cover every slot once, in order.
   * @throws InvalidArgumentError when the runs leave a gap, overlap, or name a stripe out of range
   */
  static fromRanges(version: number, stripeCount: number, ranges: readonly SlotRange[]): SlotTable {
    const problem = (why: string): InvalidArgumentError => new InvalidArgumentError('slots', why);
    if (!Number.isSafeInteger(version) || version < 1) throw problem(`version must be a positive integer, got ${version}`);
    if (!Number.isSafeInteger(stripeCount) || stripeCount < 1) throw problem(`stripe count must be a positive integer, got ${stripeCount}`);
    const owners = new Uint16Array(SLOT_COUNT);
    let next = 0;
    for (const range of ranges) {
      const [first, last, stripe] = range;
      if (first !== next || !Number.isSafeInteger(last) || last < first || last >= SLOT_COUNT) throw problem(`run [${first}, ${last}] does not continue from slot ${next}`);
      if (!Number.isSafeInteger(stripe) || stripe < 0 || stripe >= stripeCount) throw problem(`run [${first}, ${last}] names stripe ${stripe}, not one of 0..${stripeCount - 1}`);
      owners.fill(stripe, first, last + 1);
      next = last + 1;
    }
    if (next !== SLOT_COUNT) throw problem(`runs end at slot ${next - 1}, not ${SLOT_COUNT - 1}`);
    return new SlotTable(version, stripeCount, owners);
  }

  /** The index of the stripe holding `slot`. */
  stripeOfSlot(slot: number): number {
    return this.owners[slot]!;
  }

  /** The index of the stripe holding `stream`. */
  stripeOf(stream: string): number {
    return this.owners[slotOf(stream)]!;
  }

  /** The table as runs of slots, the form it travels and is recorded in. */
  ranges(): SlotRange[] {
    const ranges: SlotRange[] = [];
    let first = 0;
    for (let slot = 1; slot <= SLOT_COUNT; slot++) {
      if (slot === SLOT_COUNT || this.owners[slot] !== this.owners[first]) {
        ranges.push([first, slot - 1, this.owners[first]!]);
        first = slot;
      }
    }
    return ranges;
  }

  /** A short fingerprint of the whole assignment (CRC-32C of its runs), for comparing tables in logs and errors. */
  fingerprint(): string {
    return crc32c(utf8.encode(JSON.stringify(this.ranges()))).toString(16).padStart(8, '0');
  }

  /** True when both tables send every slot to the same stripe. */
  sameAssignment(other: SlotTable): boolean {
    if (other.stripeCount !== this.stripeCount) return false;
    for (let slot = 0; slot < SLOT_COUNT; slot++) if (other.owners[slot] !== this.owners[slot]) return false;
    return true;
  }
}
