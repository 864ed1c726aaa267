#!/usr/bin/env node
/**
 * The `kiln` command.
 *
 * ```
 * kiln start [--memory] [--data DIR] [--listen URL]... [--name NAME] [--config FILE] [--tls-cert F --tls-key F [--tls-ca F]] [--http URL] [--ws-origins LIST] [--log-format text|json]
 * kiln start --config CLUSTER-FILE --server NAME [--join] [--http URL] [--ws-origins LIST]
 * kiln voter --config CLUSTER-FILE --name NAME [--http URL]
 * kiln certs --config CLUSTER-FILE --out DIR
 * kiln admin add-mirror|remove-mirror --config CLUSTER-FILE --name NAME [--stripe STRIPE] [--wait]
 * kiln backup --config CLUSTER-FILE [--stripe STRIPE] | --url URL --out FILE [--from-lsn N] [--from-mirror [NAME]]
 * kiln restore --in FILE [FILE...] --data-dir DIR
 * kiln status [URL] [--config CLUSTER-FILE] [--json]
 * kiln status --config CLUSTER-FILE [--json]
 * kiln diverged [URL] [--config CLUSTER-FILE] [--json]
 * kiln stripe-of STREAM --config CLUSTER-FILE [--json]
 * kiln txn list --config CLUSTER-FILE [--json]
 * kiln txn resolve TXN --abort|--commit --config CLUSTER-FILE
 * kiln verify --config CLUSTER-FILE [--stripe STRIPE] [--from-lsn N] [--json]
 * kiln passwd
 * kiln token [--json]
 * kiln bench [--url URL]... | [--config FILE] [options]
 * ```
 *
 * The commands that dial servers (status, diverged, admin, txn, backup, verify) trust the cluster file's CA and
 * take `--tls-cert F --tls-key F`, a certificate to present where a port requires one, and
 * `--user NAME [--password-stdin]` (the password in `KILN_PASSWORD` otherwise), or a token in
 * `KILN_TOKEN`, for a cluster with `auth`.
 */
import { parseArgs } from 'node:util';
import { ConfigError, serversOf, stripesOf, type ClusterConfig, type MemberTlsConfig } from '@kiln/core';
import { runAdmin } from './admin.js';
import { runBackup } from './backup/backup-writer.js';
import { runRestore } from './backup/restore.js';
import { runBench } from './bench/command.js';
import { startServerMember, startVoterMember } from './cluster.js';
import { writeDevCertificates } from './certs.js';
import { printDiverged } from './diverged.js';
import { DEFAULT_CONFIG, checkUrl, isClusterFile, readClusterConfig, readClusterFile, readJsonFile } from './config.js';
import { runUntilSignalled } from './start.js';
import { printGroupStatus } from './group-status.js';
import { printStatus } from './status.js';
import { formatPlacement, placeStream, streamNameProblem } from './stripe-of.js';
import { CREDENTIAL_FLAGS, operatorCredentials, type CredentialFlags } from './operator-credentials.js';
import { operatorTransports, originList, type Dial } from './transports.js';
import { printOpenTransactions, resolveTransaction } from './txn.js';
import { fromLsnFlag, runVerify } from './verify.js';
import { printNewToken, printPasswordHash } from './passwd.js';
import { describeFailure, EXIT, UsageError } from './exit-codes.js';
import { asksForHelp, commandHelp, fullHelp, kilnVersion, unknownCommand } from './help.js';
import { USAGE } from './usage.js';
import { logFormatOf, memberLog } from './member-log.js';

const ADMIN_WAIT_LIMIT_MS = 3_600_000;

/**
 * The flags every operator command takes: a certificate to present (see {@link operatorTransports})
 * and credentials (see {@link operatorCredentials}).
 */
const OPERATOR_FLAGS = { 'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' }, ...CREDENTIAL_FLAGS } as const;

interface OperatorFlags extends CredentialFlags {
  'tls-cert'?: string | undefined;
  'tls-key'?: string | undefined;
}

/** The cluster file `--config` names (when it names one), and how to dial its members: transports and credentials. */
async function operatorLink(file: string, values: OperatorFlags): Promise<{ config: ClusterConfig; dial: Dial }>;
async function operatorLink(file: string | undefined, values: OperatorFlags): Promise<{ config: ClusterConfig | undefined; dial: Dial }>;
async function operatorLink(file: string | undefined, values: OperatorFlags): Promise<{ config: ClusterConfig | undefined; dial: Dial }> {
  const certFile = values['tls-cert'];
  const keyFile = values['tls-key'];
  if ((certFile === undefined) !== (keyFile === undefined)) throw new UsageError('--tls-cert and --tls-key go together');
  const certificate: MemberTlsConfig | undefined = certFile !== undefined && keyFile !== undefined ? { certFile, keyFile } : undefined;
  const config = file === undefined ? undefined : await readClusterFile(file);
  const credentials = await operatorCredentials(values);
  return { config, dial: { transports: await operatorTransports(config, certificate), ...(credentials && { credentials }) } };
}

const log = (line: string): void => void process.stderr.write(`${line}\n`);

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === '--version' || command === '-v') return console.log(`kiln ${kilnVersion()}`);
  if (command === 'help' && rest.length > 0) return console.log(commandHelp(USAGE, rest[0]!));
  // `kiln bench --help` lists every option itself.
  if (command !== undefined && command !== 'bench' && !command.startsWith('-') && asksForHelp(rest)) return console.log(commandHelp(USAGE, command));
  switch (command) {
    case 'start':
      return start(rest);
    case 'voter': {
      const { values } = parseArgs({ args: rest, options: { config: { type: 'string' }, name: { type: 'string' }, http: { type: 'string' }, 'log-format': { type: 'string' } } });
      if (!values.config || !values.name) throw new UsageError('kiln voter needs --config FILE and --name NAME');
      const voterLog = memberLog(logFormatOf(values['log-format']), values.name);
      await runUntilSignalled(startVoterMember(await readClusterConfig(values.config), values.name, voterLog, values.http), voterLog);
      return;
    }
    case 'admin': {
      const [action, ...flags] = rest;
      if (action !== 'add-mirror' && action !== 'remove-mirror') throw new UsageError(`kiln admin needs add-mirror or remove-mirror, not '${action ?? ''}'`);
      const { values } = parseArgs({ args: flags, options: { config: { type: 'string' }, name: { type: 'string' }, stripe: { type: 'string' }, wait: { type: 'boolean' }, ...OPERATOR_FLAGS } });
      if (!values.config || !values.name) throw new UsageError(`kiln admin ${action} needs --config FILE and --name NAME`);
      if (values.wait && action === 'remove-mirror') throw new UsageError('--wait goes with add-mirror only');
      const { config, dial } = await operatorLink(values.config, values);
      return runAdmin(action, { config: config, dial, name: values.name, stripe: values.stripe, wait: values.wait ?? false, waitLimitMs: ADMIN_WAIT_LIMIT_MS }, (line) => console.log(line));
    }
    case 'backup':
      return backup(rest);
    case 'restore': {
      const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { in: { type: 'string', multiple: true }, 'data-dir': { type: 'string' } } });
      // --in FILE FILE2 ...: the files after the first are positionals.
      const files = [...(values.in ?? []), ...positionals];
      if (files.length === 0 || !values['data-dir']) throw new UsageError('kiln restore needs --in FILE [FILE...] and --data-dir DIR');
      return runRestore({ files, dataDir: values['data-dir'] }, (line) => console.log(line), log);
    }
    case 'status':
    case 'diverged': {
      const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { json: { type: 'boolean' }, config: { type: 'string' }, ...OPERATOR_FLAGS } });
      if (positionals.length > 1) throw new UsageError(`kiln ${command} takes one URL`);
      const { config, dial } = await operatorLink(values.config, values);
      // kiln status --config F, without a URL: the whole cluster.
      if (command === 'status' && config !== undefined && positionals.length === 0) return printGroupStatus(config, dial, values.json ?? false, (line) => console.log(line));
      const url = checkUrl(positionals[0] ?? DEFAULT_CONFIG.listen[0], 'URL');
      return (command === 'status' ? printStatus : printDiverged)(url, dial, values.json ?? false, (line) => console.log(line));
    }
    case 'certs': {
      const { values } = parseArgs({ args: rest, options: { config: { type: 'string' }, out: { type: 'string' } } });
      if (!values.config || !values.out) throw new UsageError('kiln certs needs --config CLUSTER-FILE and --out DIR');
      return writeDevCertificates(values.config, values.out, (line) => console.log(line));
    }
    case 'verify': {
      const options = { config: { type: 'string' }, stripe: { type: 'string' }, 'from-lsn': { type: 'string' }, json: { type: 'boolean' }, ...OPERATOR_FLAGS } as const;
      const { values, tokens } = parseArgs({ args: rest, options, tokens: true });
      refuseRepeated(tokens, options);
      if (!values.config) throw new UsageError('kiln verify needs --config CLUSTER-FILE');
      const fromLsn = fromLsnFlag(values['from-lsn']);
      const { config, dial } = await operatorLink(values.config, values);
      process.exitCode = await runVerify({ config, dial, stripe: values.stripe, fromLsn, json: values.json ?? false }, (line) => console.log(line), log);
      return;
    }
    case 'stripe-of':
      return stripeOf(rest);
    case 'txn':
      return txn(rest);
    case 'passwd':
      if (rest.length > 0) throw new UsageError('kiln passwd takes no arguments: it reads the password from standard input');
      return printPasswordHash((line) => console.log(line));
    case 'token': {
      const { values } = parseArgs({ args: rest, options: { json: { type: 'boolean' } } });
      return printNewToken(values.json ?? false, (line) => console.log(line));
    }
    case 'bench':
      return runBench(rest);
    case undefined:
      // No command is a usage error: a script that forgot its argument must not read as done.
      process.stderr.write(`${fullHelp(USAGE)}\n`);
      process.exitCode = EXIT.usage;
      return;
    case 'help':
    case '--help':
    case '-h':
      console.log(fullHelp(USAGE));
      return;
    default:
      throw unknownCommand(USAGE, command);
  }
}

async function start(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      memory: { type: 'boolean' },
      data: { type: 'string' },
      listen: { type: 'string', multiple: true },
      name: { type: 'string' },
      config: { type: 'string' },
      server: { type: 'string' },
      join: { type: 'boolean' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'tls-ca': { type: 'string' },
      http: { type: 'string' },
      'ws-origins': { type: 'string' },
      'log-format': { type: 'string' },
    },
  });
  const logFormat = logFormatOf(values['log-format']);
  const wsOrigins = values['ws-origins'] === undefined ? undefined : originList(values['ws-origins'], '--ws-origins');
  if (values.memory && values.data) throw new UsageError('--memory and --data do not go together');
  if (values.server !== undefined || (values.config && isClusterFile(await readJsonFile(values.config)))) {
    if (!values.config) throw new UsageError('--server needs --config FILE');
    const overrides = (['memory', 'data', 'listen', 'name', 'tls-cert', 'tls-key', 'tls-ca'] as const).filter((flag) => values[flag] !== undefined);
    if (overrides.length > 0) throw new UsageError(`--${overrides.join(', --')} cannot be used with a cluster file; set them in the file`);
    const config = await readClusterConfig(values.config);
    const serverLog = memberLog(logFormat, values.server ?? serversOf(config)[0]!.name);
    await runUntilSignalled(startServerMember(config, values.server, values.join ? 'joining server' : 'server', serverLog, values.http, wsOrigins), serverLog);
    return;
  }
  if (values.join) throw new UsageError('--join needs --config CLUSTER-FILE --server NAME');
  const certFile = values['tls-cert'];
  const keyFile = values['tls-key'];
  if ((certFile === undefined) !== (keyFile === undefined)) throw new UsageError('--tls-cert and --tls-key go together');
  if (values['tls-ca'] !== undefined && certFile === undefined) throw new UsageError('--tls-ca goes with --tls-cert and --tls-key');
  // A single-server file or flags only: a one-server cluster, the flags over the file.
  const config = await readClusterConfig(values.config, {
    ...(values.name ? { name: values.name } : {}),
    ...(values.memory ? { persistence: 'memory' as const } : {}),
    ...(values.data ? { dataDir: values.data, persistence: 'restartable' as const } : {}),
    ...(values.listen ? { listen: values.listen.map((url, i) => checkUrl(url, `--listen[${i}]`)) } : {}),
    ...(certFile !== undefined && keyFile !== undefined ? { tls: { certFile, keyFile, ...(values['tls-ca'] !== undefined && { caFile: values['tls-ca'] }) } } : {}),
  });
  const serverLog = memberLog(logFormat, serversOf(config)[0]!.name);
  await runUntilSignalled(startServerMember(config, undefined, 'server', serverLog, values.http, wsOrigins), serverLog);
}

async function backup(args: string[]): Promise<void> {
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
  return runBackup({ urls, dial, out: values.out, fromLsn, ...paced, ...(mirror !== undefined && { fromMirror: { name: mirror === '' ? undefined : mirror } }) }, (line) => console.log(line), log);
}

/**
 * @throws UsageError when a flag that takes one value is given twice: parseArgs keeps the last, so
 * `--max-rate 5 ... --max-rate 500` ran unpaced, and `verify --stripe a --stripe b` checked b only
 */
function refuseRepeated(tokens: ReturnType<typeof parseArgs>['tokens'], options: Record<string, { type: string; multiple?: boolean }>): void {
  const given = (tokens ?? []).flatMap((t) => (t.kind === 'option' && options[t.name]?.multiple !== true ? [t.name] : []));
  const twice = given.find((name, i) => given.indexOf(name) !== i);
  if (twice !== undefined) throw new UsageError(`--${twice} is given twice`);
}

/**
 * The least `--max-rate`, 32 KiB a second, as pg_basebackup's. Far below it a page's wait passes
 * Node's timer limit (2^31 ms), where a timer fires at once or never: the backup ran unpaced, or hung.
 */
const MAX_RATE_MIB_MIN = 1 / 32;

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

async function stripeOf(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { config: { type: 'string' }, json: { type: 'boolean' } } });
  if (positionals.length !== 1 || !values.config) throw new UsageError('kiln stripe-of needs one STREAM and --config FILE');
  const stream = positionals[0]!;
  const config = await readClusterConfig(values.config);
  const problem = streamNameProblem(config, stream);
  if (problem !== undefined) throw new UsageError(`STREAM: ${problem}`);
  console.log(formatPlacement(placeStream(config, stream), values.json ?? false));
}

async function txn(args: string[]): Promise<void> {
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
    return printOpenTransactions(config, dial, values.json ?? false, (line) => console.log(line), (line) => console.error(line));
  }
  if (positionals.length !== 1 || values.abort === values.commit || values.json) throw new UsageError('kiln txn resolve needs one TXN, one of --abort or --commit, and --config FILE');
  const { config, dial } = await operatorLink(values.config, values);
  return resolveTransaction(config, dial, positionals[0]!, values.commit ? 'commit' : 'abort', (line) => console.log(line));
}

main(process.argv.slice(2)).catch((error: unknown) => {
  const command = process.argv[2];
  const known = command !== undefined && USAGE.includes(`\n  kiln ${command} `);
  const { line, code } = describeFailure(error, known ? `kiln ${command} --help` : 'kiln help');
  log(line);
  process.exit(code);
});
