/**
 * The cluster configuration: its shape, its validation, and lookups on a validated config.
 *
 * @packageDocumentation
 */
export {
  validateClusterConfig,
  clusterConfigDefaults,
  clusterConfigBounds,
  type ClusterConfig,
  type ClusterConfigInput,
  type ClusterSettings,
  type ClusterSettingsInput,
  type ConfigLimits,
  type FailoverPriority,
  type Persistence,
  type ServerConfig,
  type ServerConfigInput,
  type StripeConfig,
  type StripeConfigInput,
  type VoterConfig,
} from './cluster-config.js';
export {
  findServer,
  findVoter,
  quorumSize,
  serversOf,
  stripeOf,
  stripesOf,
  votingMembers,
  type ServerPlacement,
  type VotingMember,
} from './members.js';
