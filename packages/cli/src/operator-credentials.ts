/**
 * The credentials an operator command (`kiln status`, `diverged`, `admin`, `txn`) presents to a
 * cluster with `auth`: `--user NAME` with the password from the environment variable
 * `KILN_PASSWORD` or, with `--password-stdin`, from standard input; or else a token from
 * `KILN_TOKEN`. Never a password on the command line, where other users of the machine and the
 * shell's history would see it.
 */
import type { Credentials } from '@kiln/core';
import { PasswordInputError, readStandardInput } from './passwd.js';

/** The flags, for `parseArgs`. */
export const CREDENTIAL_FLAGS = { user: { type: 'string' }, 'password-stdin': { type: 'boolean' } } as const;

export interface CredentialFlags {
  user?: string | undefined;
  'password-stdin'?: boolean | undefined;
}

const PASSWORD_VARIABLE = 'KILN_PASSWORD';
const TOKEN_VARIABLE = 'KILN_TOKEN';

/**
 * @returns the credentials the flags and the environment give, or undefined for none (anonymous)
 * @throws PasswordInputError when `--user` has no password to go with it, or the flags do not fit together
 */
export async function operatorCredentials(flags: CredentialFlags): Promise<Credentials | undefined> {
  const username = flags.user;
  if (username === undefined) {
    if (flags['password-stdin']) throw new PasswordInputError('--password-stdin goes with --user NAME');
    const token = process.env[TOKEN_VARIABLE];
    return token ? { token } : undefined;
  }
  if (username === '') throw new PasswordInputError('--user needs a name');
  const password = flags['password-stdin'] ? await readStandardInput() : process.env[PASSWORD_VARIABLE];
  if (password === undefined) throw new PasswordInputError(`--user ${username} needs its password: in the environment variable ${PASSWORD_VARIABLE}, or on standard input with --password-stdin`);
  if (password === '') throw new PasswordInputError(flags['password-stdin'] ? 'the password on standard input is empty' : `${PASSWORD_VARIABLE} is empty`);
  return { username, password };
}
