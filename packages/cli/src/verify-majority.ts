/**
 * Judging by the majority, for `kiln verify`: when the servers holding a range of records whole
 * and undamaged do not all hold the same bytes, the copy that more than half of the stripe's
 * servers hold is taken as right, whichever server is the active. Half is of all of them: a server
 * down, damaged or behind may hold either copy, so two of four agreeing against one do not outvote
 * it. Two servers that differ, or several that split with no copy held by more than half, leave
 * nothing to tell which copy is right.
 */
import type { RangeDigest } from '@kiln/core/client';
import { sameDigest } from './verify-compare.js';

/** The servers grouped by the digest they gave of one range, in the order first seen. */
export function groupByDigest<S>(held: ReadonlyArray<{ server: S; digest: RangeDigest }>): S[][] {
  const groups: Array<{ digest: RangeDigest; servers: S[] }> = [];
  for (const { server, digest } of held) {
    const group = groups.find((g) => sameDigest(g.digest, digest));
    if (group) group.servers.push(server);
    else groups.push({ digest, servers: [server] });
  }
  return groups.map((g) => g.servers);
}

/** The group holding more than half of the stripe's `serverCount` servers; undefined when none does. */
export function majorityOf<S>(groups: ReadonlyArray<readonly S[]>, serverCount: number): readonly S[] | undefined {
  return groups.find((g) => g.length * 2 > serverCount);
}
