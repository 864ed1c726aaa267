/**
 * The timing rules of one mirror group, checked the same way whether the settings came from the
 * config file or from code (`createServer({ group })`).
 *
 * @packageDocumentation
 */
import { ConfigError } from '../errors.js';
import type { GroupTiming } from '../limits.js';
import { clusterConfigDefaults } from './defaults.js';
import { time } from './fields.js';
import type { FailoverPriority } from './types.js';

/** The settings of one mirror group that must fit together, however they were given. */
export interface GroupSettings extends GroupTiming {
  failoverPriority?: FailoverPriority;
  /** The group's voting members; only their kinds matter here. */
  members: readonly { kind: 'server' | 'voter' }[];
}

/**
 * The rules a mirror group's settings keep, as the config file enforces them, for settings given
 * in code (`createServer({ group })`) too: each time within its bounds, `mirrorTimeoutMs` and
 * `leaseMs` less than `electionTimeMs`, `leaseMs` less than `mirrorTimeoutMs`, and in
 * consistency mode a voter beside a pair of servers.
 *
 * @throws ConfigError naming `${prefix}.<setting>` and the rule it broke
 */
export function checkGroupSettings(group: GroupSettings, prefix = 'group'): void {
  for (const setting of ['electionTimeMs', 'mirrorTimeoutMs', 'leaseMs'] as const) {
    if (group[setting] === undefined) throw new ConfigError(`${prefix}.${setting}`, 'is required');
    time(group[setting], `${prefix}.${setting}`, Number.NaN);
  }
  const { electionTimeMs, mirrorTimeoutMs, leaseMs } = group;
  if (mirrorTimeoutMs >= electionTimeMs) {
    throw new ConfigError(`${prefix}.mirrorTimeoutMs`, `must be less than electionTimeMs (${electionTimeMs} ms), got ${mirrorTimeoutMs} ms: a slow mirror must leave the in-sync set before an election would start`);
  }
  if (leaseMs >= electionTimeMs) {
    throw new ConfigError(`${prefix}.leaseMs`, `must be less than electionTimeMs (${electionTimeMs} ms), got ${leaseMs} ms: an active must stop acknowledging commits before another can be elected`);
  }
  if (leaseMs >= mirrorTimeoutMs) {
    throw new ConfigError(`${prefix}.leaseMs`, `must be less than mirrorTimeoutMs (${mirrorTimeoutMs} ms), got ${leaseMs} ms: an active must stop serving before a successor can acknowledge anything`);
  }
  const servers = group.members.filter((m) => m.kind === 'server').length;
  if ((group.failoverPriority ?? clusterConfigDefaults.failoverPriority) === 'consistency' && servers === 2 && servers === group.members.length) {
    throw new ConfigError(`${prefix}.members`, "must list at least one voter: two servers in 'consistency' mode could never fail over; add a voter or set failoverPriority to 'availability'");
  }
}
