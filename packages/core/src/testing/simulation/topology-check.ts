/**
 * A liveness check of a healed cluster of several stripes: each stripe's active, asked for the
 * topology, must name every stripe's current active (its own from its group, the others from
 * their announcements), so a client routed by any active finds every stripe.
 */
import { connect } from '../../client/client.js';
import type { SimCluster } from './cluster.js';
import { simUrl, type SimNetwork } from './network.js';
import type { Scheduler } from './scheduler.js';

/** The harness's node for the topology queries. */
const ASKER = 'topology-check';
/**
 * How long the last active to take office must have held it before the question: docs/stripes.md
 * promises the topology current within a redial (half a second at most) of an election; the rest
 * is the dial, handshake and announcement over the simulated network.
 */
const ANNOUNCED_WITHIN_MS = 1000;
/** How long the stripes may take to hold still once the network loses nothing (two elections' worth and more). */
const STILL_WITHIN_MS = 30_000;
/** How often the check looks whether the stripes hold still. */
const POLL_MS = 100;

/**
 * Asks each stripe's active for the topology; returns what disagrees with the actives the cluster
 * reports. The network loses no frame meanwhile: the question is the servers', not the link's.
 * Frames lost before still cost leases after (an active of one server and a voter steps down when
 * two resets in a row leave its heartbeats unanswered for a lease), and a server that steps down
 * names no active for its own stripe, while the others keep naming it until a successor announces
 * itself (docs/stripes.md: each stripe's active "as far as the server has heard"). So
 * the check asks only while every stripe has had an active long enough for its announcements to
 * arrive, and judges only answers given while those actives stayed in office.
 */
export async function checkTopology(scheduler: Scheduler, network: SimNetwork, cluster: SimCluster): Promise<string[]> {
  const { resetProbability } = network.faults;
  network.faults.resetProbability = 0;
  try {
    const deadline = scheduler.now + STILL_WITHIN_MS;
    for (;;) {
      const offices = heldOffices(cluster);
      const lastTookOffice = cluster.tookOffice.at(-1)?.atMs ?? -Infinity;
      if (offices !== undefined && scheduler.now - lastTookOffice >= ANNOUNCED_WITHIN_MS) {
        let problems: string[] | undefined;
        try {
          problems = await askActives(scheduler, network, offices.map((office) => office.name));
        } catch (error) {
          // An active that steps down as it is asked refuses the question (`ConnectionClosedError`): ask again.
          if (sameOffices(offices, heldOffices(cluster))) throw error;
        }
        if (problems !== undefined && sameOffices(offices, heldOffices(cluster))) return problems;
      }
      if (scheduler.now >= deadline) {
        return [`liveness: the stripes did not each hold an active for ${ANNOUNCED_WITHIN_MS} ms within ${STILL_WITHIN_MS} ms of a network that loses nothing: ${cluster.describeServers().join('; ')}`];
      }
      await scheduler.sleep(POLL_MS);
    }
  } finally {
    network.faults.resetProbability = resetProbability;
  }
}

interface Office {
  name: string;
  term: number;
}

/** Each stripe's active and its term, or undefined while a stripe has none. */
function heldOffices(cluster: SimCluster): Office[] | undefined {
  const offices: Office[] = [];
  for (const i of cluster.stripes.keys()) {
    const name = cluster.activeName(i);
    const term = name === undefined ? undefined : cluster.member(name)?.server?.status().term;
    if (name === undefined || term === undefined) return undefined;
    offices.push({ name, term });
  }
  return offices;
}

function sameOffices(before: readonly Office[], after: readonly Office[] | undefined): boolean {
  return after !== undefined && before.every((office, i) => office.name === after[i]!.name && office.term === after[i]!.term);
}

async function askActives(scheduler: Scheduler, network: SimNetwork, actives: readonly string[]): Promise<string[]> {
  const node = scheduler.spawn(ASKER);
  const random = scheduler.random.fork();
  const problems: string[] = [];
  try {
    for (const [i, active] of actives.entries()) {
      const client = await connect([simUrl(active)], {
        transports: [network.transport(ASKER)],
        clientId: `${ASKER}-${i}`,
        clock: scheduler.clock(node),
        timers: scheduler.timers(node),
        random,
      });
      try {
        const topology = await client.topology();
        topology.stripes.forEach((stripe, j) => {
          if (stripe.active !== actives[j]) problems.push(`topology: ${active}, the active of stripe ${topology.stripes[i]?.name}, names ${stripe.active ?? 'no active'} for stripe ${stripe.name}, whose active is ${actives[j]}`);
        });
      } finally {
        await client.close();
      }
    }
  } finally {
    scheduler.kill(ASKER);
  }
  return problems;
}
