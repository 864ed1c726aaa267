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
 * Asks each stripe's active for the topology; returns what disagrees with the actives the cluster
 * reports. The network loses no frame meanwhile: the question is the servers', not the link's.
 */
export async function checkTopology(scheduler: Scheduler, network: SimNetwork, cluster: SimCluster): Promise<string[]> {
  const { resetProbability } = network.faults;
  network.faults.resetProbability = 0;
  try {
    return await askActives(scheduler, network, cluster);
  } finally {
    network.faults.resetProbability = resetProbability;
  }
}

async function askActives(scheduler: Scheduler, network: SimNetwork, cluster: SimCluster): Promise<string[]> {
  const node = scheduler.spawn(ASKER);
  const random = scheduler.random.fork();
  const actives = cluster.stripes.map((_, i) => cluster.activeName(i));
  const problems: string[] = [];
  for (const [i, active] of actives.entries()) {
    if (active === undefined) continue;
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
        if (stripe.active !== (actives[j] ?? null)) problems.push(`topology: ${active}, the active of stripe ${topology.stripes[i]?.name}, names ${stripe.active ?? 'no active'} for stripe ${stripe.name}, whose active is ${actives[j] ?? 'unknown'}`);
      });
    } finally {
      await client.close();
    }
  }
  scheduler.kill(ASKER);
  return problems;
}
