/**
 * The shapes of the cluster configuration (`kiln.config.json`): as written (`*Input`) and as
 * {@link validateClusterConfig} returns them, every default filled in.
 *
 * @packageDocumentation
 */
import type { ConnectionLimits, LogLimits } from '../limits.js';
import type { Permission } from '../errors/auth.js';

/** Where the log rests: on disk and restartable, or in memory only. */
export type Persistence = 'restartable' | 'memory';

/**
 * What a mirror group gives up when it cannot be sure: `consistency` never risks two actives (a
 * two-server group needs a voter to fail over); `availability` lets a lone mirror promote itself,
 * and writes what diverged to a report when the sides meet.
 */
export type FailoverPriority = 'consistency' | 'availability';

/** Every limit and timeout of a connection and of the log; see docs/LIMITS.md. */
export type ConfigLimits = ConnectionLimits & LogLimits;

/**
 * A member's certificate and private key, PEM files. Paths are relative to the cluster file's
 * folder; the CLI resolves them when it loads the file.
 */
export interface MemberTlsConfig {
  /** The member's certificate (chain). Under mutual TLS it must carry the member's name. */
  certFile: string;
  /** The certificate's private key. */
  keyFile: string;
}

/** The cluster's TLS: with it, peer links are mutual TLS between members of the cluster. */
export interface ClusterTlsConfig {
  /** The CA every member's certificate comes from (PEM), relative to the cluster file's folder. */
  caFile: string;
}

/** One server as written in the file. */
export interface ServerConfigInput {
  /** The server's name, unique in the cluster; `kiln start --server NAME` picks it. Letters, digits, `.`, `_`, `-`; at most 64. */
  name: string;
  /** Client addresses to listen on: `tcp://`, `tls://`, `ws://` or `wss://` URLs with a port. At least one. */
  listen: string[];
  /**
   * Address other servers and voters reach this one at (`tcp://host:port`, or `ws://`/`wss://`;
   * `tls://` when the cluster has a top-level `tls`, and only then).
   * Required unless the cluster is one server alone with no voters.
   */
  peer?: string;
  /** The server's certificate and key: required to listen on `tls://` or `wss://`, and under the cluster's `tls`. */
  tls?: MemberTlsConfig;
  /** Directory of the server's store. Required when `persistence` is `restartable`; ignored in memory mode. */
  dataDir?: string;
  /** Preference in elections between equally up-to-date candidates: higher wins. Positive integer. @default 1 */
  weight?: number;
  /**
   * Address of the server's HTTP listener (health, metrics, status page): `http://host:port` or
   * `https://host:port` (with the server's `tls`). Loopback only, unless https and the cluster's
   * `auth` both guard it. @default no listener
   */
  http?: string;
  /**
   * Origins of the web pages (`https://app.example.com`, or `*` for every page) the server's
   * `ws://` and `wss://` listeners let in, besides pages of the host they dial by IP address or
   * of this machine. `KILN_WS_ORIGINS` and `kiln start --ws-origins` win over it. @default []
   */
  wsOrigins?: string[];
}

/** One server, validated: `weight` filled in. */
export interface ServerConfig {
  /** The server's name, unique in the cluster. */
  name: string;
  /** Client addresses to listen on. */
  listen: string[];
  /** Peer address; absent only for a lone server with no voters. */
  peer?: string;
  /** The server's certificate and key. */
  tls?: MemberTlsConfig;
  /** Directory of the server's store; always present in restartable mode. */
  dataDir?: string;
  /** Election preference between equally up-to-date candidates. @default 1 */
  weight: number;
  /** Address of the server's HTTP listener; absent when it has none. */
  http?: string;
  /** Web origins its WebSocket listeners let in; absent when the file lists none. */
  wsOrigins?: string[];
}

/** A voter: a tiny process that holds no log, only `(term, votedFor, inSync)`, and votes in every stripe's elections. */
export interface VoterConfig {
  /** The voter's name, unique in the cluster. */
  name: string;
  /** Address servers reach the voter at (`tcp://host:port`, or `ws://`/`wss://`; `tls://` under the cluster's `tls`). */
  peer: string;
  /** The voter's certificate and key: required under the cluster's `tls`. */
  tls?: MemberTlsConfig;
  /**
   * Directory where the voter keeps its term, vote and in-sync sets. Optional; without it they
   * live in memory and a restarted voter may vote again in a term it already voted in.
   */
  dataDir?: string;
  /**
   * Address of the voter's HTTP listener (health, metrics, status page): `http://host:port` or
   * `https://host:port` (with the voter's `tls`). Loopback only, unless https and the cluster's
   * `auth` both guard it. @default no listener
   */
  http?: string;
}

/** One stripe (mirror group) as written in the file. */
export interface StripeConfigInput {
  /** The stripe's name, unique in the cluster (among stripes, servers and voters). */
  name: string;
  /** This stripe's election window, in milliseconds, 100..600000. @default the cluster's `electionTimeMs` */
  electionTimeMs?: number;
  /** The stripe's servers: one active, the rest mirrors. At least one. */
  servers: ServerConfigInput[];
}

/** One stripe, validated: `electionTimeMs` resolved. */
export interface StripeConfig {
  /** The stripe's name; for a one-stripe cluster written with `servers`, the cluster's name. */
  name: string;
  /** The stripe's election window, in milliseconds. */
  electionTimeMs: number;
  /** The stripe's servers. */
  servers: ServerConfig[];
}

/** Settings shared by both forms of the file. */
export interface ClusterSettingsInput {
  /** The cluster's name, recorded with its cluster id. Letters, digits, `.`, `_`, `-`; at most 64. */
  cluster: string;
  /** `restartable`: each server's store is on disk in its `dataDir`; `memory`: nothing survives a restart. @default 'restartable' */
  persistence?: Persistence;
  /** @default 'consistency' */
  failoverPriority?: FailoverPriority;
  /** Election window of every stripe that does not set its own, in milliseconds, 100..600000. @default 5000 */
  electionTimeMs?: number;
  /** A mirror that does not acknowledge for this long, or answers without taking the records shipped to it, leaves the in-sync set (a quarter of it once its address refuses the active's redial), in milliseconds, 10..600000; less than every `electionTimeMs`; a mirror that hears nothing from the active for this long starts an election (a quarter of it once its redial of the active is refused). @default 1000 */
  mirrorTimeoutMs?: number;
  /** An active that cannot reach a majority for this long stops acknowledging commits and serving reads, in milliseconds, 10..600000; less than `mirrorTimeoutMs`, so it stops before a successor can acknowledge anything. @default 800 */
  leaseMs?: number;
  /** How long a client keeps trying to reach an active before it surfaces an error, in milliseconds, 100..3600000; at least every `electionTimeMs`. @default 10000 */
  reconnectWindowMs?: number;
  /** Voters, shared by every stripe. @default [] */
  voters?: VoterConfig[];
  /** Any limit from docs/LIMITS.md; the rest keep their defaults. @default {} */
  limits?: Partial<ConfigLimits>;
  /** Users, tokens and roles; without it every client may do everything. @default none */
  auth?: AuthConfigInput;
  /** The cluster's CA: peer links become mutual TLS, every peer address `tls://`. @default none */
  tls?: ClusterTlsConfig;
}

/** The file's shape, as written: either `servers` (one stripe) or `stripes`, never both. */
export type ClusterConfigInput = ClusterSettingsInput &
  ({ servers: ServerConfigInput[]; stripes?: undefined } | { stripes: StripeConfigInput[]; servers?: undefined });

/** Settings shared by both forms, validated, every default filled in. */
export interface ClusterSettings {
  /** The cluster's name. */
  cluster: string;
  /** @default 'restartable' */
  persistence: Persistence;
  /** @default 'consistency' */
  failoverPriority: FailoverPriority;
  /** Election window of a stripe that sets none, in milliseconds. @default 5000 */
  electionTimeMs: number;
  /** Mirror acknowledgement timeout, in milliseconds. @default 1000 */
  mirrorTimeoutMs: number;
  /** Active's lease, in milliseconds. @default 800 */
  leaseMs: number;
  /** Client reconnect window, in milliseconds. @default 10000 */
  reconnectWindowMs: number;
  /** Voters, shared by every stripe. @default [] */
  voters: VoterConfig[];
  /** Every limit, defaults merged with the file's. */
  limits: ConfigLimits;
  /** The cluster's CA, when peer links are mutual TLS. */
  tls?: ClusterTlsConfig;
  /** Users, tokens and roles, when the file sets them. */
  auth?: AuthConfig;
}

/**
 * A validated cluster configuration. It keeps the form it was written in (`servers` or
 * `stripes`); use {@link stripesOf} for a uniform list of stripes. Validating it again returns an
 * equal value.
 */
export type ClusterConfig = ClusterSettings &
  ({ servers: ServerConfig[]; stripes?: undefined } | { stripes: StripeConfig[]; servers?: undefined });

/** What a role allows on the streams whose names start with `prefix`. */
export interface GrantConfig {
  /** A stream-name prefix, or `"*"` for every stream (and for operations over all of them). */
  prefix: string;
  /** At least one of `read`, `write`, `admin`; none implies another. */
  permissions: Permission[];
}

/** A named set of grants that users and tokens hold. */
export interface RoleConfig {
  /** The role's name, unique among roles. */
  name: string;
  /** What the role allows. @default [] */
  grants: GrantConfig[];
}

/** A user, who connects with a name and a password. */
export interface UserConfig {
  /** The user's name, unique among users. */
  name: string;
  /** The password's scrypt hash as `kiln passwd` prints it: `scrypt$N$r$p$salt$hash`. Never the password. */
  passwordHash: string;
  /** Names of roles in `auth.roles`. @default [] */
  roles: string[];
}

/** A token, for programs: the client passes the token, the file holds only its hash. */
export interface TokenConfig {
  /** The token's name (for operators; clients never send it), unique among tokens. */
  name: string;
  /** The token's hash as `kiln token` prints it: `sha256$...`. Never the token. */
  tokenHash: string;
  /** Names of roles in `auth.roles`. @default [] */
  roles: string[];
}

/** The `auth` section as written: every list may be left out. */
export interface AuthConfigInput {
  roles?: RoleConfig[];
  users?: Array<Omit<UserConfig, 'roles'> & { roles?: string[] }>;
  tokens?: Array<Omit<TokenConfig, 'roles'> & { roles?: string[] }>;
  /** A role granted to clients that connect without credentials. @default none: they are refused */
  anonymous?: string;
}

/** The `auth` section, validated: once it is set, only its users and tokens (and `anonymous`) get in. */
export interface AuthConfig {
  roles: RoleConfig[];
  users: UserConfig[];
  tokens: TokenConfig[];
  /** A role granted to clients that connect without credentials; absent: they are refused. */
  anonymous?: string;
}
