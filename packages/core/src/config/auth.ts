/**
 * The `auth` section of the cluster file: roles with grants per stream-name prefix, users with
 * password hashes, tokens stored as hashes, and an optional role for clients without credentials.
 * A hash is checked for its form only; an error names the field and never prints its value.
 *
 * @packageDocumentation
 */
import { ConfigError } from '../errors.js';
import type { Permission } from '../errors/auth.js';
import { parseScryptHash, TOKEN_HASH } from '../auth/hash-format.js';
import { array, knownKeys, name, object, show } from './fields.js';
import type { AuthConfig, GrantConfig, RoleConfig, TokenConfig, UserConfig } from './types.js';

const AUTH_KEYS = ['roles', 'users', 'tokens', 'anonymous'] as const;
const ROLE_KEYS = ['name', 'grants'] as const;
const GRANT_KEYS = ['prefix', 'permissions'] as const;
const USER_KEYS = ['name', 'passwordHash', 'roles'] as const;
const TOKEN_KEYS = ['name', 'tokenHash', 'roles'] as const;
const PERMISSIONS: readonly Permission[] = ['read', 'write', 'admin'];
const PREFIX_LENGTH_MAX = 512;

/**
 * Checks an `auth` section (at `path`, `auth` in the file) and returns it normalised: every list
 * present, every role a user or token names defined.
 * @throws ConfigError naming the field; a hash or secret is never part of the message
 */
export function parseAuth(value: unknown, path = 'auth'): AuthConfig {
  const auth = object(value, path);
  knownKeys(auth, path, AUTH_KEYS);
  const roles = list(auth.roles, `${path}.roles`).map((item, i) => parseRole(item, `${path}.roles[${i}]`));
  unique(roles, `${path}.roles`, 'roles');
  const defined = new Set(roles.map((r) => r.name));
  const roleRefs = (v: unknown, field: string): string[] => {
    const refs = list(v, field).map((ref, i) => name(ref, `${field}[${i}]`));
    refs.forEach((ref, i) => {
      if (!defined.has(ref)) throw new ConfigError(`${field}[${i}]`, `names role '${ref}', which ${path}.roles does not define`);
    });
    return refs;
  };

  const users = list(auth.users, `${path}.users`).map((item, i): UserConfig => {
    const at = `${path}.users[${i}]`;
    const u = object(item, at);
    knownKeys(u, at, USER_KEYS);
    const userName = name(u.name, `${at}.name`);
    if (typeof u.passwordHash !== 'string' || parseScryptHash(u.passwordHash) === undefined) {
      throw new ConfigError(`${at}.passwordHash`, "must be a scrypt hash 'scrypt$N$r$p$salt$hash' as 'kiln passwd' prints it (the value is not shown)");
    }
    return { name: userName, passwordHash: u.passwordHash, roles: roleRefs(u.roles, `${at}.roles`) };
  });
  unique(users, `${path}.users`, 'users');

  const tokens = list(auth.tokens, `${path}.tokens`).map((item, i): TokenConfig => {
    const at = `${path}.tokens[${i}]`;
    const t = object(item, at);
    knownKeys(t, at, TOKEN_KEYS);
    const tokenName = name(t.name, `${at}.name`);
    if (typeof t.tokenHash !== 'string' || !TOKEN_HASH.test(t.tokenHash)) {
      throw new ConfigError(`${at}.tokenHash`, "must be a token hash 'sha256$...' as 'kiln token' prints it (the value is not shown)");
    }
    return { name: tokenName, tokenHash: t.tokenHash, roles: roleRefs(t.roles, `${at}.roles`) };
  });
  unique(tokens, `${path}.tokens`, 'tokens');

  if (auth.anonymous === undefined) return { roles, users, tokens };
  const anonymous = name(auth.anonymous, `${path}.anonymous`);
  if (!defined.has(anonymous)) throw new ConfigError(`${path}.anonymous`, `names role '${anonymous}', which ${path}.roles does not define`);
  return { roles, users, tokens, anonymous };
}

function parseRole(value: unknown, at: string): RoleConfig {
  const r = object(value, at);
  knownKeys(r, at, ROLE_KEYS);
  return { name: name(r.name, `${at}.name`), grants: list(r.grants, `${at}.grants`).map((g, i) => parseGrant(g, `${at}.grants[${i}]`)) };
}

function parseGrant(value: unknown, at: string): GrantConfig {
  const g = object(value, at);
  knownKeys(g, at, GRANT_KEYS);
  const { prefix } = g;
  if (typeof prefix !== 'string' || prefix === '' || prefix.length > PREFIX_LENGTH_MAX) {
    throw new ConfigError(`${at}.prefix`, `must be a stream-name prefix of 1 to ${PREFIX_LENGTH_MAX} characters, or '*' for every stream, got ${show(prefix)}`);
  }
  if (prefix !== '*' && prefix.includes('*')) throw new ConfigError(`${at}.prefix`, `'${prefix}' is a literal prefix, not a pattern: write '*' alone for every stream, or the prefix without '*'`);
  if (g.permissions === undefined) throw new ConfigError(`${at}.permissions`, "is required: list 'read', 'write' or 'admin'");
  const permissions = array(g.permissions, `${at}.permissions`).map((p, i) => {
    if (typeof p !== 'string' || !(PERMISSIONS as readonly string[]).includes(p)) throw new ConfigError(`${at}.permissions[${i}]`, `must be 'read', 'write' or 'admin', got ${show(p)}`);
    return p as Permission;
  });
  if (new Set(permissions).size !== permissions.length) throw new ConfigError(`${at}.permissions`, 'must not list a permission twice');
  return { prefix, permissions };
}

/** An optional list: empty when absent. */
function list(value: unknown, field: string): unknown[] {
  return value === undefined ? [] : array(value, field, true);
}

function unique(items: ReadonlyArray<{ name: string }>, field: string, what: string): void {
  const seen = new Set<string>();
  items.forEach((item, i) => {
    if (seen.has(item.name)) throw new ConfigError(`${field}[${i}].name`, `'${item.name}' is already the name of another of the ${what}`);
    seen.add(item.name);
  });
}
