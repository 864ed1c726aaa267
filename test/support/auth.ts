// The auth section the auth tests run with: roles per stream-name prefix, users whose passwords
// are hashed here (so no hash is kept in the tests), and a token.
import type { AuthConfig } from '@kiln/core';
import { hashPassword, hashToken } from '@kiln/cli';

export const PASSWORDS = { alice: 'alice-pw-Tq7', reader: 'reader-pw-Zk2', ops: 'ops-pw-Hm9' };
export const TOKENS = { billing: 'kiln_test-billing-token-0123456789abcdefghijkl' };

/** orders-rw, orders-r, reporting (read `*`), ops (everything); alice, reader and ops; the token billing. */
export async function authConfig(): Promise<AuthConfig> {
  return {
    roles: [
      { name: 'orders-rw', grants: [{ prefix: 'orders-', permissions: ['read', 'write'] }] },
      { name: 'orders-r', grants: [{ prefix: 'orders-', permissions: ['read'] }] },
      { name: 'reporting', grants: [{ prefix: '*', permissions: ['read'] }] },
      { name: 'ops', grants: [{ prefix: '*', permissions: ['read', 'write', 'admin'] }] },
    ],
    users: [
      { name: 'alice', passwordHash: await hashPassword(PASSWORDS.alice), roles: ['orders-rw'] },
      { name: 'reader', passwordHash: await hashPassword(PASSWORDS.reader), roles: ['orders-r'] },
      { name: 'ops', passwordHash: await hashPassword(PASSWORDS.ops), roles: ['ops'] },
    ],
    tokens: [{ name: 'billing', tokenHash: hashToken(TOKENS.billing), roles: ['orders-rw', 'reporting'] }],
  };
}
