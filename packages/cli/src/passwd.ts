/**
 * `kiln passwd` and `kiln token`: the secrets of the cluster file's `auth` section. The password
 * comes from standard input, or, on a terminal, is asked for without echo; only its hash is
 * printed. A token is printed once, with its hash: the file keeps only the hash.
 */
import { hashPassword, newToken } from './secrets.js';

/** Longest password read, in characters: more is a mistake (a file piped in by accident, say). */
const PASSWORD_LENGTH_MAX = 1024;

/** Reads a password and prints its hash. */
export async function printPasswordHash(out: (line: string) => void): Promise<void> {
  const password = process.stdin.isTTY ? await askSilently('password: ') : await readStandardInput();
  if (password.length === 0) throw new PasswordInputError('the password is empty');
  if (password.length > PASSWORD_LENGTH_MAX) throw new PasswordInputError(`the password is longer than ${PASSWORD_LENGTH_MAX} characters`);
  out(await hashPassword(password));
}

/** Prints a new token and its hash, each on its own line, labelled. */
export function printNewToken(json: boolean, out: (line: string) => void): void {
  const { token, tokenHash } = newToken();
  if (json) out(JSON.stringify({ token, tokenHash }));
  else out(`token:     ${token}\ntokenHash: ${tokenHash}\nThe token is shown only now: give it to the client, put the hash in the cluster file.`);
}

/** Standard input whole, without its final line break (cut past the longest password). */
export async function readStandardInput(): Promise<string> {
  let text = '';
  process.stdin.setEncoding('utf8');
  for await (const chunk of process.stdin) {
    text += chunk as string;
    if (text.length > PASSWORD_LENGTH_MAX + 2) break;
  }
  return text.replace(/\r?\n$/, '');
}

/** One line typed on the terminal, not echoed. */
function askSilently(prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(prompt);
    stdin.setRawMode(true);
    stdin.setEncoding('utf8');
    let typed = '';
    const done = (finish: () => void): void => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      finish();
    };
    const onData = (chunk: string): void => {
      for (const char of chunk) {
        if (char === '\r' || char === '\n') return done(() => resolve(typed));
        if (char === '\u0003') return done(() => reject(new PasswordInputError('interrupted')));
        if (char === '\u007f' || char === '\b') typed = typed.slice(0, -1);
        else typed += char;
      }
    };
    stdin.on('data', onData);
    stdin.resume();
  });
}

/** The password could not be read. */
export class PasswordInputError extends Error {}
