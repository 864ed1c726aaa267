/** `kiln passwd` and `kiln token`: the secrets of a cluster file's `auth`; they load nothing of `@kiln/core`. */
import { parseArgs } from 'node:util';
import { UsageError } from '../exit-codes.js';
import { print } from '../output.js';
import { printNewToken, printPasswordHash } from '../passwd.js';

export async function passwd(args: string[]): Promise<void> {
  if (args.length > 0) throw new UsageError('kiln passwd takes no arguments: it reads the password from standard input');
  return printPasswordHash(print);
}

export async function token(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { json: { type: 'boolean' } } });
  return printNewToken(values.json ?? false, print);
}
