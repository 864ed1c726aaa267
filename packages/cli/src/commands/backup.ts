/**
 * `kiln backup` and `kiln restore`: their flags are checked first; the writer, and the reader
 * with LevelDB, are loaded only to run.
 */
import { parseArgs } from 'node:util';
import { ConfigError, stripesOf, type ClusterConfig } from '@kiln/core';
import { checkUrl } from '../config.js';
import { UsageError } from '../exit-codes.js';
import { log, print } from '../output.js';
import { OPERATOR_FLAGS, operatorLink, refuseRepeated } from './operator-link.js';

/**
 * The least `--max-rate`, 32 KiB a second, as pg_basebackup's. Far below it a page's wait passes
 * Node's timer limit (2^31 ms), where a timer fires at once or never: the backup ran unpaced, or hung.
 */
const MAX_RATE_MIB_MIN = 1 / 32;

export async function backup(args: string[]): Promise<void> {
  const options = { config: { type: 'string' }, stripe: { type: 'string' }, url: { type: 'string', multiple: true }, out: { type: 'string' }, 'from-lsn': { type: 'string' }, 'from-mirror': { type: 'string' }, 'max-rate': { type: 'string' }, ...OPERATOR_FLAGS } as const;
  const { values, tokens } = parseArgs({ args: withOptionalValue(args, '--from-mirror'), options, tokens: true });
  refuseRepeated(tokens, options);
  if (!values.out || (values.config === undefined) === (values.url === undefined)) throw new UsageError('kiln backup needs --out FILE and one of --config CLUSTER-FILE or --url URL');
  if (values.stripe !== undefined && values.config === undefined) throw new UsageError('--stripe goes with --config');
  const fromLsn = Number(values['from-lsn'] ?? '1');
  if (!Number.isSafeInteger(fromLsn) || fromLsn < 1) throw new UsageError(`--from-lsn must be a positive integer, not '${values['from-lsn']}'`);
  const maxRate = values['max-rate'] === undefined ? undefined : Number(values['max-rate']);
  if (maxRate !== undefined && !(maxRate > 0 && Number.isFinite(maxRate))) throw new UsageError(`--max-rate must be a positive number of MiB a second, not '${values['max-rate']}'`);
  if (maxRate !== undefined && maxRate < MAX_RATE_MIB_MIN) throw new UsageError(`--max-rate must be at least ${MAX_RATE_MIB_MIN} MiB (32 KiB) a second, not '${values['max-rate']}'`);
  const { config, dial } = await operatorLink(values.config, values);
  const urls = config === undefined ? values.url!.map((url, i) => checkUrl(url, `--url[${i}]`)) : stripeUrls(config, values.stripe);
  const mirror = values['from-mirror'];
  const paced = maxRate === undefined ? {} : { maxBytesPerSecond: maxRate * 1024 * 1024 };
  const { runBackup } = await import('../backup/backup-writer.js');
  return runBackup({ urls, dial, out: values.out, fromLsn, ...paced, ...(mirror !== undefined && { fromMirror: { name: mirror === '' ? undefined : mirror } }) }, print, log);
}

export async function restore(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { in: { type: 'string', multiple: true }, 'data-dir': { type: 'string' } } });
  // --in FILE FILE2 ...: the files after the first are positionals.
  const files = [...(values.in ?? []), ...positionals];
  if (files.length === 0 || !values['data-dir']) throw new UsageError('kiln restore needs --in FILE [FILE...] and --data-dir DIR');
  const { runRestore } = await import('../backup/restore.js');
  return runRestore({ files, dataDir: values['data-dir'] }, print, log);
}

/** `flag` with an optional value (`--from-mirror [NAME]`), which parseArgs lacks: a bare one becomes `flag=`, an empty value. */
function withOptionalValue(args: string[], flag: string): string[] {
  return args.map((arg, i) => (arg === flag && (i + 1 === args.length || args[i + 1]!.startsWith('-')) ? `${flag}=` : arg));
}

/** The client addresses of the stripe `--stripe` names (the only one, when the cluster has one). */
function stripeUrls(config: ClusterConfig, name: string | undefined): string[] {
  const stripes = stripesOf(config);
  if (name === undefined && stripes.length > 1) throw new ConfigError('--stripe', `the cluster has ${stripes.length} stripes (${stripes.map((s) => s.name).join(', ')}); name the one to back up`);
  const stripe = name === undefined ? stripes[0]! : stripes.find((s) => s.name === name);
  if (stripe === undefined) throw new ConfigError('--stripe', `the cluster has no stripe '${name}' (${stripes.map((s) => s.name).join(', ')})`);
  return stripe.servers.flatMap((s) => s.listen);
}
