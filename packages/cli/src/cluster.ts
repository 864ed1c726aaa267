/**
 * `kiln start` and `kiln voter`: one member of a cluster, as its configuration describes it; a
 * lone server is a cluster of one.
 */
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  Authenticator,
  ConfigError,
  FailureLog,
  clusterLayoutOf,
  createServer,
  createVoter,
  findServer,
  findVoter,
  groupOptionsOf,
  isLoneServer,
  serversOf,
  stripesOf,
  systemClock,
  systemTimers,
  type ClusterConfig,
  type Credentials,
  type MemberTlsConfig,
  type ServerAuthOptions,
  type AuthConfig,
  type KilnServer,
  type ServerConfig,
  type KilnVoter,
  type Store,
  type Transport,
} from '@kiln/core';
import { levelStore } from '@kiln/store-level';
import { memoryStore } from '@kiln/store-memory';
import { logCatchUp } from './catch-up-log.js';
import { checkHttpBind, type HttpBind } from './http/bind-policy.js';
import { serveObservability, type Observed } from './http/observability.js';
import { scryptSecrets } from './scrypt-secrets.js';
import type { Running } from './start.js';
import type { MemberLog } from './member-log.js';
import { memberCertificate, memberTransports, type Dial } from './transports.js';

/** How a server takes part in its stripe. */
export type ServerRole = 'server' | 'joining server';

/** Where a member keeps its store on disk: undefined in memory mode or without a `dataDir`. */
function diskDir(config: ClusterConfig, dataDir: string | undefined): string | undefined {
  return config.persistence === 'memory' || dataDir === undefined ? undefined : resolve(dataDir);
}

function storeAt(config: ClusterConfig, dataDir: string | undefined): Store {
  const dir = diskDir(config, dataDir);
  return dir === undefined ? memoryStore() : levelStore({ path: dir });
}

function where(config: ClusterConfig, dataDir: string | undefined): string {
  const dir = diskDir(config, dataDir);
  return dir === undefined ? 'memory mode, nothing on disk' : `restartable mode, data in ${dir}`;
}

/**
 * Starts server `name` of the cluster `config`, in the role given. `name` may be left out when the
 * cluster has a single server. Its HTTP listener, if any, is on `http` (`--http`) or else the
 * address the file gives it; its WebSocket listeners let in the pages `wsOrigins` (`--ws-origins`) names, see {@link memberTransports}.
 */
export async function startServerMember(config: ClusterConfig, name: string | undefined, role: ServerRole, log: MemberLog, http?: string, wsOrigins?: readonly string[]): Promise<Running> {
  const servers = serversOf(config);
  if (name === undefined) {
    if (servers.length !== 1) throw new ConfigError('--server', `the file names ${servers.length} servers: ${servers.map((s) => s.name).join(', ')}; pick one`);
    name = servers[0]!.name;
  }
  const { stripe, server: self } = findServer(config, name);
  // An address the listener may not bind is refused before the server starts.
  const httpAt = httpAddressOf(config, self, http, self.http, `servers[${name}].http`);
  // One server and no voters is a lone active: no group to form.
  const lone = isLoneServer(config) && role !== 'joining server';
  const group = lone ? undefined : groupOptionsOf(config, name, role === 'joining server');
  const layout = clusterLayoutOf(config);
  const cluster = { layout, stripe: layout.stripes.findIndex((s) => s.name === stripe.name) };
  const transports = await memberTransports(config, self, name, wsOrigins);
  const server = await createServer({
    name,
    store: storeAt(config, self.dataDir),
    transports,
    listen: self.listen,
    limits: config.limits,
    log,
    cluster,
    ...(group ? { group } : {}),
    ...(config.auth ? { auth: serverAuth(config.auth) } : {}),
  });
  const striped = layout.stripes.length > 1 ? ` stripe ${stripe.name}` : '';
  log(`kiln: ${name}${lone ? '' : ` (${role}${striped}) of cluster ${config.cluster}`} listening on ${server.urls.join(', ')} (${where(config, self.dataDir)})`);
  const running = await withHttp(server, boundAt(config, name, server.urls), { name, kind: 'server', observe: () => [server.observe()], dial: memberDial(transports) }, httpAt, self, log);
  const stopProgress = logCatchUp(() => server.status().group?.mirrors, log);
  return {
    failed: running.failed,
    dataDir: diskDir(config, self.dataDir),
    close: () => {
      stopProgress();
      return running.close();
    },
  };
}

/** The cluster with server `name` listening where it bound (a lone server may ask for port 0): the status page asks it there. */
function boundAt(config: ClusterConfig, name: string, urls: readonly string[]): ClusterConfig {
  const rebind = (s: ServerConfig): ServerConfig => (s.name === name ? { ...s, listen: urls.filter((url) => url !== s.peer) } : s);
  return config.stripes ? { ...config, stripes: config.stripes.map((stripe) => ({ ...stripe, servers: stripe.servers.map(rebind) })) } : { ...config, servers: config.servers.map(rebind) };
}

/** Environment variable holding the token a server presents to other stripes for transactions over several (needs `admin` on `"*"`). */
const STRIPE_TOKEN_VARIABLE = 'KILN_STRIPE_TOKEN';

/** What a member presents to the servers of a cluster with `auth`: its token, from {@link STRIPE_TOKEN_VARIABLE}, when it has one. */
function memberCredentials(): Credentials | undefined {
  const stripeToken = process.env[STRIPE_TOKEN_VARIABLE];
  return stripeToken ? { token: stripeToken } : undefined;
}

/** The file's users, tokens and roles, checked with node:crypto's scrypt and SHA-256. */
function serverAuth(auth: AuthConfig): ServerAuthOptions {
  const stripeCredentials = memberCredentials();
  return { ...auth, secrets: scryptSecrets, ...(stripeCredentials && { stripeCredentials }) };
}

/** How the status page dials the other members: the member's transports and, under auth, its token. */
function memberDial(transports: Transport[]): Dial {
  const credentials = memberCredentials();
  return { transports, ...(credentials && { credentials }) };
}

/**
 * Where the member's HTTP listener goes (`--http` over the file's), checked before the member
 * starts, so that an address it may not bind is refused first; undefined for none.
 */
function httpAddressOf(config: ClusterConfig, own: { tls?: MemberTlsConfig }, flag: string | undefined, file: string | undefined, fileField: string): HttpAt | undefined {
  const url = flag ?? file;
  if (url === undefined) return undefined;
  const field = flag !== undefined ? '--http' : fileField;
  return { url, field, bind: checkHttpBind(url, field, { certificate: own.tls !== undefined, auth: config.auth !== undefined }) };
}

/** A member's HTTP address, the field it came from, and how it binds. */
interface HttpAt {
  url: string;
  field: string;
  bind: HttpBind;
}

/**
 * Starts voter `name`, voting in every stripe. With several stripes, each stripe's state rests in
 * a folder of its own under the voter's `dataDir`, named after the stripe.
 */
export async function startVoterMember(config: ClusterConfig, name: string, log: (line: string) => void, http?: string): Promise<Running> {
  const self = findVoter(config, name, '--name');
  const { dataDir, http: fileHttp } = self;
  const httpAt = httpAddressOf(config, self, http, fileHttp, `voters[${name}].http`);
  const transports = await memberTransports(config, self, name);
  const stripes = stripesOf(config);
  const dirOf = (stripe: string): string | undefined => (dataDir === undefined || stripes.length === 1 ? dataDir : join(dataDir, stripe));
  for (const stripe of stripes) {
    const dir = dirOf(stripe.name);
    if (dir !== undefined && config.persistence === 'restartable') await mkdir(resolve(dir), { recursive: true });
  }
  const voter = await createVoter({
    name,
    layout: clusterLayoutOf(config),
    stripes: stripes.map((stripe) => ({ group: groupOptionsOf(config, name, false, stripe.name), store: storeAt(config, dirOf(stripe.name)) })),
    transports,
    limits: config.limits,
    log,
  });
  log(`kiln: ${name} (voter of ${stripes.length === 1 ? 'the group' : `stripes ${stripes.map((s) => s.name).join(', ')}`}) of cluster ${config.cluster} listening on ${voter.urls.join(', ')} (${where(config, dataDir)})`);
  const running = await withHttp(voter, config, { name, kind: 'voter', observe: () => voter.observe(), dial: memberDial(transports) }, httpAt, self, log);
  // Not a spread: without HTTP, `running` is the voter itself, whose `close` is on its prototype.
  return { failed: running.failed, close: () => running.close(), dataDir: diskDir(config, dataDir) };
}

/**
 * Starts the member's HTTP listener when it has an address, closed with the member; a listener
 * that cannot start stops the member too. It serves https with the member's certificate, and in
 * a cluster with `auth` checks credentials as the server does, logging failures beside its own.
 */
async function withHttp(member: KilnServer | KilnVoter, config: ClusterConfig, observed: Observed, at: HttpAt | undefined, own: { tls?: MemberTlsConfig }, log: (line: string) => void): Promise<Running> {
  if (at === undefined) return member;
  let http;
  try {
    const certificate = at.bind.https && own.tls ? await memberCertificate(own.tls, `${observed.kind}s[${observed.name}]`) : undefined;
    const failures = new FailureLog(log, `${observed.name} (HTTP)`, systemClock, systemTimers);
    const authenticator = config.auth && new Authenticator({ ...config.auth, secrets: scryptSecrets }, systemClock, systemTimers, failures);
    http = await serveObservability(config, observed, at.url, at.field, { certificate, authenticator });
  } catch (error) {
    await member.close();
    throw error;
  }
  log(`kiln: ${observed.name} serves HTTP on ${http.url} (health, metrics, status page)`);
  return {
    failed: member.failed,
    close: async () => {
      await http.close();
      await member.close();
    },
  };
}
