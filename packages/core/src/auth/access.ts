/**
 * What one user or token may do: its roles' grants, folded once (when the server starts) into a
 * list of prefixes per permission, so a check is a few `startsWith` calls and allocates nothing.
 *
 * @packageDocumentation
 */
import { PermissionDeniedError, type Permission } from '../errors.js';
import type { RoleConfig } from '../config/types.js';

interface PrefixSet {
  /** A `"*"` grant: every stream, and operations over all of them. */
  every: boolean;
  prefixes: string[];
}

export class Access {
  private readonly byPermission: Record<Permission, PrefixSet> = {
    read: { every: false, prefixes: [] },
    write: { every: false, prefixes: [] },
    admin: { every: false, prefixes: [] },
  };

  /** The grants of `roleNames`, looked up in `roles` (validation made sure each exists). */
  constructor(roles: readonly RoleConfig[], roleNames: readonly string[]) {
    for (const role of roles) {
      if (!roleNames.includes(role.name)) continue;
      for (const grant of role.grants) {
        for (const permission of grant.permissions) {
          const set = this.byPermission[permission];
          if (grant.prefix === '*') set.every = true;
          else set.prefixes.push(grant.prefix);
        }
      }
    }
  }

  /** True when a grant of `permission` covers `stream`; `'*'` asks for every stream. */
  allows(stream: string, permission: Permission): boolean {
    const set = this.byPermission[permission];
    if (set.every) return true;
    for (const prefix of set.prefixes) if (stream.startsWith(prefix)) return true;
    return false;
  }

  /** True when a grant of `permission` covers every stream whose name starts with `prefix`. */
  allowsPrefix(prefix: string, permission: Permission): boolean {
    const set = this.byPermission[permission];
    if (set.every) return true;
    for (const granted of set.prefixes) if (prefix.startsWith(granted)) return true;
    return false;
  }

  /** @throws PermissionDeniedError naming `stream` and `permission` when no grant covers them */
  check(stream: string, permission: Permission): void {
    if (!this.allows(stream, permission)) throw new PermissionDeniedError(stream, permission);
  }
}
