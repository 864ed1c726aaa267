/**
 * Questions asked of a validated {@link ClusterConfig}: which stripe a server is in, who votes in a
 * stripe's elections, and how many votes make a majority.
 *
 * @packageDocumentation
 */
import { ConfigError } from '../errors.js';
import type { ClusterConfig, ServerConfig, StripeConfig, VoterConfig } from './types.js';

/** A server found by name, with the stripe it belongs to. */
export interface ServerPlacement {
  /** The stripe (mirror group) the server is in. */
  stripe: StripeConfig;
  /** The server itself. */
  server: ServerConfig;
}

/** A process that votes in a stripe's elections: one of its servers, or a voter. */
export interface VotingMember {
  /** The member's name. */
  name: string;
  /** Whether it is a server of the stripe (holds the log, may become active) or a voter (votes only). */
  kind: 'server' | 'voter';
  /** Its peer address; absent only for a lone server with no voters. */
  peer?: string;
  /** Election preference; voters are never candidates and weigh 0. */
  weight: number;
}

/**
 * The cluster's stripes, whichever form the file used. A config written with `servers` is one
 * stripe named after the cluster, with the cluster's `electionTimeMs`.
 */
export function stripesOf(config: ClusterConfig): StripeConfig[] {
  if (config.stripes !== undefined) return config.stripes;
  return [{ name: config.cluster, electionTimeMs: config.electionTimeMs, servers: config.servers }];
}

/** Every server of the cluster, stripe by stripe. */
export function serversOf(config: ClusterConfig): ServerConfig[] {
  return stripesOf(config).flatMap((stripe) => stripe.servers);
}

/** The stripe of the named server, or `undefined` when the cluster has no such server. */
export function stripeOf(config: ClusterConfig, serverName: string): StripeConfig | undefined {
  return stripesOf(config).find((stripe) => stripe.servers.some((server) => server.name === serverName));
}

/**
 * The named server and its stripe: what `kiln start --config FILE --server NAME` runs.
 *
 * @throws ConfigError on `field` (the flag that named it) naming the cluster's servers when there is no such server
 */
export function findServer(config: ClusterConfig, name: string, field = '--server'): ServerPlacement {
  for (const stripe of stripesOf(config)) {
    const server = stripe.servers.find((s) => s.name === name);
    if (server !== undefined) return { stripe, server };
  }
  const known = serversOf(config).map((s) => `'${s.name}'`).join(', ');
  if (config.voters.some((v) => v.name === name)) throw new ConfigError(field, `'${name}' is a voter, not a server; the servers are ${known}`);
  throw new ConfigError(field, `no server is named '${name}'; the servers are ${known}`);
}

/**
 * The named voter.
 *
 * @throws ConfigError on `field` naming the cluster's voters when there is no such voter
 */
export function findVoter(config: ClusterConfig, name: string, field = '--voter'): VoterConfig {
  const voter = config.voters.find((v) => v.name === name);
  if (voter !== undefined) return voter;
  const known = config.voters.map((v) => `'${v.name}'`).join(', ');
  throw new ConfigError(field, known === '' ? `no voter is named '${name}'; the cluster has no voters` : `no voter is named '${name}'; the voters are ${known}`);
}

/**
 * Who votes in a stripe's elections and records its in-sync set: every server of the stripe,
 * then every voter of the cluster.
 */
export function votingMembers(stripe: StripeConfig, voters: readonly VoterConfig[]): VotingMember[] {
  const members: VotingMember[] = stripe.servers.map((s) => {
    const member: VotingMember = { name: s.name, kind: 'server', weight: s.weight };
    if (s.peer !== undefined) member.peer = s.peer;
    return member;
  });
  for (const v of voters) members.push({ name: v.name, kind: 'voter', peer: v.peer, weight: 0 });
  return members;
}

/**
 * Votes that make a majority of `n` voting members: `floor(n / 2) + 1`.
 *
 * @throws RangeError when `n` is not a positive integer
 */
export function quorumSize(n: number): number {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`a group has a positive whole number of voting members, got ${n}`);
  return Math.floor(n / 2) + 1;
}
