/**
 * Comparing one server's stored records with another's (the active's, or a server of the
 * majority's) over a range, for `kiln verify`: both digest the range; where the digests differ, halving the range (two digests a step, about 17
 * steps for 100,000 records) finds the first LSN at which the two logs differ.
 */
import type { KilnClient, RangeDigest } from '@kiln/core/client';

/** Whether two digests of the same range are equal. */
export function sameDigest(a: RangeDigest, b: RangeDigest): boolean {
  return a.throughLsn === b.throughLsn && a.digest.length === b.digest.length && a.digest.every((byte, i) => byte === b.digest[i]);
}

/** A server's digest of `fromLsn..throughLsn`. */
export function digestOf(client: KilnClient, fromLsn: number, throughLsn: number): Promise<RangeDigest> {
  return client.rangeDigest({ fromLsn, throughLsn });
}

/**
 * The first LSN of `fromLsn..throughLsn` at which `server`'s records differ from `reference`'s,
 * or null when they are the same. Both must hold the whole range undamaged (as the digests `known`
 * of it, when given, say).
 */
export async function firstDifference(reference: KilnClient, server: KilnClient, fromLsn: number, throughLsn: number, known?: [RangeDigest, RangeDigest]): Promise<number | null> {
  let [ours, theirs] = known ?? (await Promise.all([digestOf(reference, fromLsn, throughLsn), digestOf(server, fromLsn, throughLsn)]));
  if (sameDigest(ours, theirs)) return null;
  let low = fromLsn;
  let high = throughLsn;
  // The records low..high hold a difference; the first one lies in the lower half or, if that half agrees, in the upper.
  while (low < high) {
    const middle = Math.floor((low + high) / 2);
    [ours, theirs] = await Promise.all([digestOf(reference, low, middle), digestOf(server, low, middle)]);
    if (theirs.damagedLsn !== null || ours.damagedLsn !== null || !sameDigest(ours, theirs)) high = middle;
    else low = middle + 1;
  }
  return low;
}
