/**
 * The server's check of a client's credentials, from the `auth` section: a user's password
 * against its scrypt hash, or a token against the stored token hashes. Every failure is the same
 * `AuthenticationError`, and an unknown user costs what a known one does (its password is checked
 * against a stand-in hash with a real user's parameters), so neither the answer nor its timing
 * says which users exist. Failures from an address slow that address down ({@link FailureGate}),
 * and are logged, a bounded number a minute ({@link FailureLog}).
 *
 * Core holds no hash function (it imports nothing from `node:`): the host passes one in
 * `secrets`, as `kiln start` passes `scryptSecrets` of `@kiln/cli`.
 *
 * @packageDocumentation
 */
import { AuthenticationError, ConfigError } from '../errors.js';
import { parseAuth } from '../config/auth.js';
import type { AuthConfig } from '../config/types.js';
import type { Credentials } from '../protocol/handshake.js';
import type { Clock, Timers } from '../time.js';
import { Access } from './access.js';
import { FailureGate } from './failure-gate.js';
import type { FailureLog } from './failure-log.js';

/** The hash functions the server checks secrets with. */
export interface SecretHashes {
  /**
   * True when `password` matches `passwordHash` (`scrypt$N$r$p$salt$hash`, its parameters inside).
   * Takes the same time whether or not it matches (a constant-time compare).
   */
  verifyPassword(password: string, passwordHash: string): Promise<boolean>;
  /** The token's hash, as the cluster file stores it (`sha256$...`). */
  hashToken(token: string): Promise<string>;
}

/** The `auth` option of `createServer`: the section of the cluster file, and the functions that check its hashes. */
export interface ServerAuthOptions extends AuthConfig {
  /** How passwords and tokens are hashed: `scryptSecrets` from `@kiln/cli` in Node. */
  secrets: SecretHashes;
  /**
   * What this server presents to the actives of other stripes, for transactions over several
   * stripes; it needs `admin` on `"*"` there. Only a cluster of several stripes needs it.
   */
  stripeCredentials?: Credentials;
}

/** @throws ConfigError when the section breaks a rule of the cluster file's `auth`, or `secrets` is missing */
export function checkServerAuth(options: ServerAuthOptions): void {
  const { secrets, stripeCredentials: _, ...section } = options;
  parseAuth(section, 'auth');
  if (typeof secrets?.verifyPassword !== 'function' || typeof secrets.hashToken !== 'function') {
    throw new ConfigError('auth.secrets', "is required: the functions that check password and token hashes (scryptSecrets from '@kiln/cli' in Node)");
  }
}

/** Checked when no user is configured, so an unknown user still costs a scrypt. */
const STAND_IN_HASH = 'scrypt$16384$8$1$bmg4tV4wmhOscjzH86pIHA==$j3Q1188j0uwfpeonzSzAO8EcoDntwoupdETXsdjVQpo=';

export class Authenticator {
  private readonly users = new Map<string, { passwordHash: string; access: Access }>();
  private readonly tokens: Array<{ tokenHash: string; access: Access }>;
  private readonly anonymous: Access | undefined;
  private readonly standInHash: string;
  private readonly gate: FailureGate;
  private readonly secrets: SecretHashes;

  constructor(
    options: ServerAuthOptions,
    clock: Clock,
    timers: Timers,
    private readonly failures?: FailureLog,
  ) {
    const { roles } = options;
    for (const user of options.users) this.users.set(user.name, { passwordHash: user.passwordHash, access: new Access(roles, user.roles) });
    this.tokens = options.tokens.map((t) => ({ tokenHash: t.tokenHash, access: new Access(roles, t.roles) }));
    this.anonymous = options.anonymous === undefined ? undefined : new Access(roles, [options.anonymous]);
    this.standInHash = options.users[0]?.passwordHash ?? STAND_IN_HASH;
    this.secrets = options.secrets;
    this.gate = new FailureGate(clock, timers);
  }

  /**
   * What the client that sent `credentials` from `remoteAddress` may do.
   * @throws AuthenticationError for no credentials (without an anonymous role), an unknown user,
   *   a wrong password or an unknown token, alike
   */
  async authenticate(credentials: Credentials | undefined, remoteAddress: string): Promise<Access> {
    if (credentials === undefined) {
      if (this.anonymous) return this.anonymous;
      throw this.refuse(remoteAddress, credentials);
    }
    const host = hostOf(remoteAddress);
    if (!(await this.gate.admit(host))) throw this.refuse(remoteAddress, credentials);
    const access = await this.verify(credentials);
    if (access !== undefined) return access;
    this.gate.failed(host);
    throw this.refuse(remoteAddress, credentials);
  }

  /** Logs a failure; @returns the one error every failure gets */
  private refuse(remoteAddress: string, credentials: Credentials | undefined): AuthenticationError {
    this.failures?.failed(remoteAddress, credentials);
    return new AuthenticationError();
  }

  private async verify(credentials: Credentials): Promise<Access | undefined> {
    if ('token' in credentials) {
      const hash = await this.secrets.hashToken(credentials.token);
      // Every stored hash is compared, whichever matches.
      let found: Access | undefined;
      for (const token of this.tokens) if (sameText(hash, token.tokenHash)) found = token.access;
      return found;
    }
    const user = this.users.get(credentials.username);
    const matches = await this.secrets.verifyPassword(credentials.password, user?.passwordHash ?? this.standInHash);
    return user !== undefined && matches ? user.access : undefined;
  }
}

/** Compares two strings in time that depends on their lengths only. */
function sameText(a: string, b: string): boolean {
  let differences = a.length ^ b.length;
  for (let i = 0; i < a.length; i++) differences |= a.charCodeAt(i) ^ b.charCodeAt(i % Math.max(b.length, 1));
  return differences === 0;
}

/** The host of a connection's remote address (`tcp://10.0.0.1:5123` → `10.0.0.1`): failures count per host, not per port. */
function hostOf(remoteAddress: string): string {
  return remoteAddress.replace(/^[a-z]+:\/\//i, '').replace(/:\d+$/, '');
}
