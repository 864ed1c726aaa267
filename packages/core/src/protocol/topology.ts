/**
 * The topology reply: what a client needs to route every stream of a cluster. Any server answers
 * it, with what it knows: the cluster id, the slot table, every stripe's members and client URLs,
 * and each stripe's active and term as far as it has heard (its own stripe's from its group,
 * the others' from their actives' announcements over the peer links).
 */
import { SLOT_COUNT, type SlotRange } from '../cluster/slots.js';
import { ReplyReader } from './replies.js';

/** One server of a stripe, as a client reaches it. */
export interface TopologyMember {
  name: string;
  /** Its client URLs. */
  urls: string[];
}

/** One stripe as a server knows it. */
export interface StripeTopology {
  name: string;
  /**
   * The life of the stripe's log: the commit time (ms) of its first record, 0 while it is empty
   * or not yet heard of. A memory-mode stripe that lost every server comes back empty, and its
   * next first record makes a new epoch. Positions carry it.
   */
  epoch: number;
  members: TopologyMember[];
  /** The name of its active as far as this server knows, or null. */
  active: string | null;
  /** The term that active was elected in (0 when none is known). */
  term: number;
}

/** The whole cluster as one server knows it. */
export interface Topology {
  clusterId: string;
  /** The cluster's name in its file. */
  cluster: string;
  slotTableVersion: number;
  /** The slot table as runs `[first, last, stripeIndex]`, covering every slot once, in order. */
  slots: SlotRange[];
  /** Every stripe, in the order of the file: a stripe's index is its position here. */
  stripes: StripeTopology[];
}

export function topologyToWire(t: Topology): unknown[] {
  return [
    t.clusterId,
    t.cluster,
    t.slotTableVersion,
    t.slots.map((r) => [r[0], r[1], r[2]]),
    t.stripes.map((s) => [s.name, s.epoch, s.members.map((m) => [m.name, m.urls]), s.active, s.term]),
  ];
}

export function topologyFromWire(value: unknown): Topology {
  const check = new ReplyReader('topology');
  const [clusterId, cluster, version, slots, stripes] = check.tuple(value, 'topology', 5);
  const stripeList = check.array(stripes, 'stripes').map((wire, i): StripeTopology => {
    const [name, epoch, members, active, term] = check.tuple(wire, `stripes[${i}]`, 5);
    return {
      name: check.string(name, `stripes[${i}].name`),
      epoch: check.count(epoch, `stripes[${i}].epoch`),
      members: check.array(members, `stripes[${i}].members`).map((m, j) => {
        const [memberName, urls] = check.tuple(m, `stripes[${i}].members[${j}]`, 2);
        return { name: check.string(memberName, `stripes[${i}].members[${j}].name`), urls: check.array(urls, `stripes[${i}].members[${j}].urls`).map((u, k) => check.string(u, `stripes[${i}].members[${j}].urls[${k}]`)) };
      }),
      active: active === null ? null : check.string(active, `stripes[${i}].active`),
      term: check.count(term, `stripes[${i}].term`),
    };
  });
  if (stripeList.length === 0) check.fail('stripes', 'must name at least one stripe');
  let next = 0;
  const ranges = check.array(slots, 'slots').map((wire, i): SlotRange => {
    const [first, last, stripe] = check.tuple(wire, `slots[${i}]`, 3).map((v, k) => check.count(v, `slots[${i}][${k}]`)) as [number, number, number];
    if (first !== next || last < first || last >= SLOT_COUNT || stripe >= stripeList.length) check.fail(`slots[${i}]`, 'must continue the runs before it and name a listed stripe');
    next = last + 1;
    return [first, last, stripe];
  });
  if (next !== SLOT_COUNT) check.fail('slots', `must cover all ${SLOT_COUNT} slots`);
  return { clusterId: check.string(clusterId, 'clusterId'), cluster: check.string(cluster, 'cluster'), slotTableVersion: check.count(version, 'slotTableVersion'), slots: ranges, stripes: stripeList };
}
