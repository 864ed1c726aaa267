/**
 * The one bridge from a cluster configuration to the options of one member's group, used by the
 * CLI, the tests and the simulation alike, so a group runs with what its file says.
 */
import { ConfigError } from '../errors.js';
import type { GroupOptions } from '../replication/member.js';
import type { ClusterConfig } from './types.js';
import { serversOf, stripesOf } from './members.js';

/**
 * The group options every member of the (single) stripe shares, seen from member `self`; `joining`
 * marks a server added to a running group.
 *
 * @throws ConfigError when the configuration has several stripes, which this version does not run
 */
export function groupOptionsOf(config: ClusterConfig, self: string, joining = false): GroupOptions {
  const stripes = stripesOf(config);
  if (stripes.length !== 1) throw new ConfigError('stripes', 'this version runs one stripe; several stripes are not supported yet');
  const stripe = stripes[0]!;
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
  };
}

/** True when the configuration is one server alone, with no voters: a lone active, no group to form. */
export function isLoneServer(config: ClusterConfig): boolean {
  return serversOf(config).length === 1 && config.voters.length === 0;
}
