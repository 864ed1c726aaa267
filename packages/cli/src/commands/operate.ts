/** `kiln admin`, `kiln txn` and `kiln verify`: the commands that change or check a running cluster. */
import { parseArgs } from 'node:util';
import { runAdmin } from '../admin.js';
import { UsageError } from '../exit-codes.js';
import { log, print } from '../output.js';
import { printOpenTransactions, resolveTransaction } from '../txn.js';
import { fromLsnFlag, runVerify } from '../verify.js';
import { OPERATOR_FLAGS, operatorLink, refuseRepeated } from './operator-link.js';

const ADMIN_WAIT_LIMIT_MS = 3_600_000;

export async function admin(args: string[]): Promise<void> {
  const [action, ...flags] = args;
  if (action !== 'add-mirror' && action !== 'remove-mirror') throw new UsageError(`kiln admin needs add-mirror or remove-mirror, not '${action ?? ''}'`);
  const { values } = parseArgs({ args: flags, options: { config: { type: 'string' }, name: { type: 'string' }, stripe: { type: 'string' }, wait: { type: 'boolean' }, ...OPERATOR_FLAGS } });
  if (!values.config || !values.name) throw new UsageError(`kiln admin ${action} needs --config FILE and --name NAME`);
  if (values.wait && action === 'remove-mirror') throw new UsageError('--wait goes with add-mirror only');
  const { config, dial } = await operatorLink(values.config, values);
  return runAdmin(action, { config: config, dial, name: values.name, stripe: values.stripe, wait: values.wait ?? false, waitLimitMs: ADMIN_WAIT_LIMIT_MS }, print);
}

export async function verify(args: string[]): Promise<void> {
  const options = { config: { type: 'string' }, stripe: { type: 'string' }, 'from-lsn': { type: 'string' }, json: { type: 'boolean' }, ...OPERATOR_FLAGS } as const;
  const { values, tokens } = parseArgs({ args, options, tokens: true });
  refuseRepeated(tokens, options);
  if (!values.config) throw new UsageError('kiln verify needs --config CLUSTER-FILE');
  const fromLsn = fromLsnFlag(values['from-lsn']);
  const { config, dial } = await operatorLink(values.config, values);
  process.exitCode = await runVerify({ config, dial, stripe: values.stripe, fromLsn, json: values.json ?? false }, print, log);
}

export async function txn(args: string[]): Promise<void> {
  const [action, ...flags] = args;
  const options = { config: { type: 'string' }, json: { type: 'boolean' }, abort: { type: 'boolean' }, commit: { type: 'boolean' }, ...OPERATOR_FLAGS } as const;
  const { values, positionals, tokens } = parseArgs({ args: flags, allowPositionals: true, options, tokens: true });
  refuseRepeated(tokens, options);
  // The action first: without one, the first flag would be taken for it.
  if (action === undefined || action.startsWith('-')) throw new UsageError('kiln txn needs list or resolve');
  if (action !== 'list' && action !== 'resolve') throw new UsageError(`kiln txn needs list or resolve, not '${action}'`);
  if (!values.config) throw new UsageError(`kiln txn ${action} needs --config CLUSTER-FILE`);
  if (action === 'list') {
    if (positionals.length > 0 || values.abort || values.commit) throw new UsageError('kiln txn list takes --config FILE, --json, --tls-cert/--tls-key and credentials only');
    const { config, dial } = await operatorLink(values.config, values);
    return printOpenTransactions(config, dial, values.json ?? false, print, log);
  }
  if (positionals.length !== 1 || values.abort === values.commit || values.json) throw new UsageError('kiln txn resolve needs one TXN, one of --abort or --commit, and --config FILE');
  const { config, dial } = await operatorLink(values.config, values);
  return resolveTransaction(config, dial, positionals[0]!, values.commit ? 'commit' : 'abort', print);
}
