/**
 * A seeded pseudo-random generator for the simulation: xoshiro128** seeded through splitmix32.
 * Pure 32-bit integer arithmetic, so one seed gives the same sequence on every platform and run.
 */
import type { Random } from '../../time.js';

/** Reduces any number to the uint32 seed the generator uses (non-integers and negatives too). */
export function normalizeSeed(seed: number): number {
  if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`);
  return Math.trunc(seed) >>> 0;
}

function splitmix32(state: number): [next: number, value: number] {
  const next = (state + 0x9e3779b9) >>> 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return [next, (z ^ (z >>> 16)) >>> 0];
}

const HEX = '0123456789abcdef';

/**
 * A deterministic generator. It implements core's {@link Random}, so it can be handed to a server
 * or a client directly; {@link fork} derives independent generators (one per node) whose
 * sequences do not shift when another node draws more numbers.
 */
export class Prng implements Random {
  private a = 0;
  private b = 0;
  private c = 0;
  private d = 0;

  /** @param seed any finite number; reduced to a uint32 */
  constructor(seed: number) {
    let state = normalizeSeed(seed);
    const words: number[] = [];
    for (let i = 0; i < 4; i++) {
      const [next, value] = splitmix32(state);
      state = next;
      words.push(value);
    }
    [this.a, this.b, this.c, this.d] = words as [number, number, number, number];
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1; // xoshiro's one forbidden state
  }

  /** The next uint32. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.b << 9) >>> 0;
    this.c = (this.c ^ this.a) >>> 0;
    this.d = (this.d ^ this.b) >>> 0;
    this.b = (this.b ^ this.c) >>> 0;
    this.a = (this.a ^ this.d) >>> 0;
    this.c = (this.c ^ t) >>> 0;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** A float in [0, 1), with 32 bits of randomness. */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** An integer in [min, max], both inclusive. */
  int(min: number, max: number): number {
    if (max < min) return min;
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** A float in [min, max). */
  float(min: number, max: number): number {
    return min + this.next() * (max - min);
  }

  /** True with probability `p`. Draws a number even when `p` is 0 or 1, so sequences stay aligned. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty array');
    return items[this.int(0, items.length - 1)]!;
  }

  /** A new generator seeded from this one. */
  fork(): Prng {
    return new Prng(this.nextUint32());
  }

  /** A random RFC 4122 version 4 UUID, from this generator. */
  uuid(): string {
    let out = '';
    for (let i = 0; i < 16; i++) {
      let byte = this.nextUint32() & 0xff;
      if (i === 6) byte = (byte & 0x0f) | 0x40;
      if (i === 8) byte = (byte & 0x3f) | 0x80;
      if (i === 4 || i === 6 || i === 8 || i === 10) out += '-';
      out += HEX[byte >>> 4]! + HEX[byte & 0x0f]!;
    }
    return out;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
