/**
 * Password and token hashes with Node's own `node:crypto`: scrypt for passwords, its parameters
 * kept in the hash (`scrypt$N$r$p$salt$hash`), and SHA-256 for tokens, which are 32 random bytes
 * and need no slow hash. `scryptSecrets` (scrypt-secrets.ts) is what a server checks them with;
 * `kiln passwd` and `kiln token` need only this module, which loads nothing of `@kiln/core`.
 */
import { randomBytes, scrypt, createHash } from 'node:crypto';

/** Parameters of new password hashes: 16 MiB and some 50 ms per check on a current core. */
const SCRYPT_N = 16_384;
const SCRYPT_R = 8;
const SCRYPT_P = 1;
const SALT_BYTES = 16;
const KEY_BYTES = 32;
const TOKEN_BYTES = 32;

/** The scrypt key of `password`: a new hash's, or the one a check compares. */
export function scryptKey(password: string, salt: Buffer, keyBytes: number, N: number, r: number, p: number): Promise<Buffer> {
  // maxmem: the default (32 MiB) refuses parameters above N=2^14, r=8; allow what parseScryptHash admits.
  return new Promise((resolve, reject) => scrypt(password, salt, keyBytes, { N, r, p, maxmem: 256 * N * r + 1024 * 1024 }, (error, key) => (error ? reject(error) : resolve(key))));
}

/** A new hash of `password`, with a random salt, as the cluster file's `passwordHash` holds it. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await scryptKey(password, salt, KEY_BYTES, SCRYPT_N, SCRYPT_R, SCRYPT_P);
  return `scrypt$${SCRYPT_N}$${SCRYPT_R}$${SCRYPT_P}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** The hash of a token, as the cluster file's `tokenHash` holds it. */
export function hashToken(token: string): string {
  return `sha256$${createHash('sha256').update(token, 'utf8').digest('base64url')}`;
}

/** A new random token, and its hash: show the token once, keep only the hash. */
export function newToken(): { token: string; tokenHash: string } {
  const token = `kiln_${randomBytes(TOKEN_BYTES).toString('base64url')}`;
  return { token, tokenHash: hashToken(token) };
}
