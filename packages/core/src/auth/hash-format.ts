/**
 * The text forms of stored secrets, checked without hashing anything (this module imports nothing
 * from `node:`, so config validation runs anywhere). A password hash names its own scrypt
 * parameters, so they can be raised later without invalidating older hashes:
 * `scrypt$N$r$p$salt$hash`, salt and hash in base64. A token hash is `sha256$` and the SHA-256
 * of the token in base64url: a token is random and long, so a salt or a slow hash adds nothing.
 *
 * @packageDocumentation
 */

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const SCRYPT_COST_MAX = 2 ** 20;

/** The parameters and bytes of a password hash. */
export interface ScryptHash {
  /** CPU and memory cost, a power of two. */
  N: number;
  /** Block size. */
  r: number;
  /** Parallelism. */
  p: number;
  salt: string;
  hash: string;
}

/** A password hash's parts, or undefined when the text is not one (its value is never echoed). */
export function parseScryptHash(text: string): ScryptHash | undefined {
  const parts = text.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined;
  const [, n, r, p, salt, hash] = parts as [string, string, string, string, string, string];
  const N = Number(n);
  const R = Number(r);
  const P = Number(p);
  if (!Number.isSafeInteger(N) || N < 2 || N > SCRYPT_COST_MAX || (N & (N - 1)) !== 0) return undefined;
  if (!Number.isSafeInteger(R) || R < 1 || R > 32 || !Number.isSafeInteger(P) || P < 1 || P > 16) return undefined;
  // At least 16 bytes of salt and of hash, in base64.
  if (!BASE64.test(salt) || !BASE64.test(hash) || salt.length < 24 || hash.length < 24) return undefined;
  return { N, r: R, p: P, salt, hash };
}

/** The form of a token hash: `sha256$` and 43 base64url characters. */
export const TOKEN_HASH = /^sha256\$[A-Za-z0-9_-]{43}$/;
