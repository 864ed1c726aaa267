/**
 * The one bridge from a cluster configuration to the options of one member's group, used by the
 * CLI, the tests and the simulation alike, so a group runs with what its file says.
 */
import { ConfigError } from '../errors.js';
import type { GroupOptions } from '../replication/member.js';
import type { ClusterLayout } from '../cluster/layout.js';
import { SlotTable } from '../cluster/slots.js';
import type { ClusterConfig, StripeConfig } from './types.js';
import { serversOf, stripeOf, stripesOf } from './members.js';

/**
 * The group options every member of a stripe shares, seen from member `self`: a server of the
 * stripe, or a voter (voters vote in every stripe, so a voter names the stripe). `joining` marks
 * a server added to a running group.
 *
 * @throws ConfigError when `self` is not in the stripe
 */
export function groupOptionsOf(config: ClusterConfig, self: string, joining = false, stripeName?: string): GroupOptions {
  const stripes = stripesOf(config);
  const stripe = stripeName === undefined ? (stripeOf(config, self) ?? onlyStripe(stripes)) : stripes.find((s) => s.name === stripeName);
  if (stripe === undefined) throw new ConfigError('stripes', `no stripe is named '${stripeName ?? self}'`);
  return {
    self,
    members: [
      ...stripe.servers.map((s) => ({ name: s.name, kind: 'server' as const, peer: s.peer!, clientUrls: s.listen, weight: s.weight })),
      ...config.voters.map((v) => ({ name: v.name, kind: 'voter' as const, peer: v.peer, clientUrls: [], weight: 1 })),
    ],
    electionTimeMs: stripe.electionTimeMs,
    mirrorTimeoutMs: config.mirrorTimeoutMs,
    leaseMs: config.leaseMs,
    failoverPriority: config.failoverPriority,
    joining,
    ...(config.tls !== undefined && { mutualTls: true }),
  };
}

function onlyStripe(stripes: StripeConfig[]): StripeConfig | undefined {
  if (stripes.length === 1) return stripes[0];
  throw new ConfigError('stripes', `the cluster has ${stripes.length} stripes: name the stripe`);
}

/** The cluster's layout as its file describes it: stripes in file order, each with its servers, and the initial slot table. */
export function clusterLayoutOf(config: ClusterConfig): ClusterLayout {
  const stripes = stripesOf(config);
  return {
    name: config.cluster,
    stripes: stripes.map((stripe) => ({
      name: stripe.name,
      servers: stripe.servers.map((s) => ({ name: s.name, urls: [...s.listen], ...(s.peer !== undefined ? { peer: s.peer } : {}) })),
    })),
    slotTable: SlotTable.initial(stripes.length),
  };
}

/** True when the configuration is one server alone, with no voters: a lone active, no group to form. */
export function isLoneServer(config: ClusterConfig): boolean {
  return serversOf(config).length === 1 && config.voters.length === 0;
}
