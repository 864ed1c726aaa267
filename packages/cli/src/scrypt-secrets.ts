/** What a server checks the hashes of `secrets.ts` with: the `secrets` of an `Authenticator`. */
import { timingSafeEqual } from 'node:crypto';
import { parseScryptHash, type SecretHashes } from '@kiln/core';
import { hashToken, scryptKey } from './secrets.js';

/** The server's checks of a password and a token against their hashes. */
export const scryptSecrets: SecretHashes = {
  async verifyPassword(password, passwordHash) {
    const parsed = parseScryptHash(passwordHash);
    if (parsed === undefined) return false;
    const expected = Buffer.from(parsed.hash, 'base64');
    const key = await scryptKey(password, Buffer.from(parsed.salt, 'base64'), expected.length, parsed.N, parsed.r, parsed.p);
    return timingSafeEqual(key, expected);
  },
  hashToken: (token) => Promise.resolve(hashToken(token)),
};
