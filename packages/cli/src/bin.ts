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
 * kiln backup --config CLUSTER-FILE [--stripe STRIPE] | --url URL --out FILE [--from-lsn N]
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
import { logFormatOf, memberLog } from './member-log.js';

const USAGE = `usage:
  kiln start [--memory] [--data DIR] [--listen URL]... [--name NAME] [--config FILE]
             [--tls-cert FILE --tls-key FILE [--tls-ca FILE]] [--http URL] [--ws-origins LIST]
             [--log-format text|json]
      Runs one server in the foreground. Default: restartable mode, LevelDB under ./kiln-data,
      listening on tcp://127.0.0.1:7410 and ws://127.0.0.1:7411. SIGINT or SIGTERM shuts it
      down cleanly. --tls-cert and --tls-key (PEM files) let it listen on tls:// and wss://.
  kiln start --config CLUSTER-FILE --server NAME [--join] [--http URL] [--ws-origins LIST]
             [--log-format text|json]
      Runs server NAME of the cluster file, in its stripe (mirror group). With --join it is a new
      server for a running group: it waits, outside the in-sync set, for kiln admin add-mirror.
  kiln voter --config CLUSTER-FILE --name NAME [--http URL] [--log-format text|json]
      Runs voter NAME: it holds no log, and votes in the elections of every stripe.
  --log-format text|json (start, voter)
      How the member logs to stderr: lines of text (the default), or one JSON object per line,
      { time, level, member, msg, ...fields }, for a log shipper.
  --ws-origins LIST (start)
      Web pages the server's ws:// and wss:// listeners let in besides those they always do
      (below), as origins, comma-separated: https://app.example.com,https://ops.example.com, or *
      for every page. Over KILN_WS_ORIGINS, which is over the server's "wsOrigins" in the file.
  kiln certs --config CLUSTER-FILE --out DIR
      Writes a development CA (DIR/ca.pem, DIR/ca-key.pem) and, for every server and voter, a
      certificate named after it (DIR/NAME.pem, DIR/NAME-key.pem), for trying TLS and mutual
      TLS; see docs/security.md for real certificates. Never overwrites a file.
  --http URL (start, voter)
      Serves health (/health/live, /health/ready), Prometheus metrics (/metrics) and the live
      status page of the whole cluster (/) on URL, e.g. http://127.0.0.1:7412; over the file's
      "http" address. https://HOST:PORT serves with the member's own certificate (its tls). With
      the cluster's auth, all but the health probes ask for credentials (HTTP Basic with a user's
      password, or Bearer with a token) of a role with read on "*". An address beyond loopback
      needs both https and auth.
  kiln admin add-mirror --config CLUSTER-FILE --name NAME [--stripe STRIPE] [--wait]
      Adds server NAME (its addresses from the cluster file) to its running stripe, without
      pausing the active. --wait prints its catch-up progress until it is in sync (at most 1 h).
      With several stripes, --stripe names the server's stripe.
  kiln admin remove-mirror --config CLUSTER-FILE --name NAME [--stripe STRIPE]
      Removes mirror NAME from its running stripe; it then takes no part.
  kiln backup --config CLUSTER-FILE [--stripe STRIPE] --out FILE [--from-lsn N]
  kiln backup --url URL --out FILE [--from-lsn N]
      Copies the stripe's committed log, as stored, from its active (or the lone server at URL)
      into FILE while it keeps serving: every record from LSN 1 (or N, an incremental backup
      after one that ended at N-1) through the commit index when the backup starts. Written to
      FILE.partial, renamed to FILE once whole; never overwrites FILE. Prints a progress line a
      second on stderr. With auth it needs a user or token with admin on "*".
  kiln restore --in FILE [FILE...] --data-dir DIR
      Checks a full backup and the incremental ones after it (headers, every record's CRC,
      trailers, LSNs joining up) and writes their records into DIR, new or empty, for a server
      to start on: alone (kiln start --data DIR) or as a new mirror of the group (its dataDir in
      the cluster file; kiln start --join, then kiln admin add-mirror). See docs/operations.md.
  kiln status [URL] [--config CLUSTER-FILE] [--json]
      Prints a server's state, term, LSN, commit index and connections, and for a group member
      the active, the in-sync set and each mirror's lag (default URL tcp://127.0.0.1:7410).
      With --config and a URL, that server is dialled trusting the cluster file's CA.
  kiln status --config CLUSTER-FILE [--json]
      Asks every server and voter of the cluster and prints one block per stripe (its active and
      term; each member's state, term, last LSN, lag behind the active, and whether the active
      counts it in sync), then each voter, reachable or not, with its term in each stripe (--json:
      voters [{ name, reachable, term, terms }], term the first stripe's, terms by stripe name).
      When no server or voter answers, it exits 5 after the table.
  kiln diverged [URL] [--config CLUSTER-FILE] [--json]
      Prints the transactions a server gave up to follow a newer active after a partition
      (failoverPriority 'availability'), and the decisions operators forced on transactions in
      doubt (kiln txn resolve), oldest first; --json prints one object per line. With --config,
      a tls:// or wss:// URL is trusted by the cluster file's CA.
  kiln stripe-of STREAM --config CLUSTER-FILE [--json]
      Prints the slot of stream STREAM and the stripe that holds it in that cluster, as
      'slot 1234 stripe bravo'; --json prints { stream, slot, stripe }. For a name that starts
      with '-', put the options first and -- before the name.
  kiln txn list --config CLUSTER-FILE [--json]
      Asks every stripe's active for the transactions over several stripes open on it, and
      prints one row per transaction: its coordinator and participants, 'deciding' (its
      coordinator has not decided) or 'prepared' (only participants hold parts), its age, the
      stripes holding a prepared part, and whether it is in doubt (its coordinator unreachable for
      longer than txnTimeoutMs). --json prints an array ([] when none is open).
  kiln txn resolve TXN --abort|--commit --config CLUSTER-FILE
      The way out for transaction TXN in doubt, its coordinator's stripe lost for good: every
      stripe's active holding a prepared part of it asks the coordinator once more, and if it
      still cannot, ends the part with the forced decision and keeps that in its diverged report.
      Prints what each stripe did; fails when no stripe holds a part of TXN.
  kiln verify --config CLUSTER-FILE [--stripe STRIPE] [--from-lsn N] [--json]
      Checks, while the stripes serve, that every server of each stripe (or of STRIPE) holds the
      same records as the others, each passing its CRC: from LSN N (default 1) to the active's
      commit index, in ranges of 100,000 records, narrowing a difference down to its first LSN.
      Where the servers disagree, the copy more than half of them hold is right, the active's or
      not. Prints per server OK, DAMAGED at LSN x, DIFFERS from the active (or the majority) from
      LSN y, DIFFERS with no majority to tell which is right, or UNREACHABLE, with a progress line
      on stderr every 2 s; exits 6 when a server is damaged or differs, 5 when one could not be
      checked. --json prints { stripes: [{ name, active, term, fromLsn, throughLsn, servers:
      [{ name, result, active, checkedThroughLsn, damagedLsn, differsFromLsn, majority, detail }]
      }] }. Needs admin on "*" in a cluster with auth.
  kiln passwd
      Reads a password from standard input (on a terminal, asks for it without echo) and prints
      its scrypt hash, for a user's passwordHash in the cluster file's auth section.
  kiln token [--json]
      Prints a new random token, once, and its hash, for a token's tokenHash in the cluster
      file's auth section; the token itself is kept nowhere.
  kiln bench [--url URL]... | [--config FILE] [--clients C] [--in-flight P] [--event-size B]
             [--streams S] [--duration SECONDS] [--shape single|multi|cross-stripe] [--json]
      Runs a load against a running server or cluster: a progress line every second, then
      appends/s, transactions/s and p50/p99/p99.9 latency. kiln bench --help for every option.

  TLS: status, diverged, admin, txn, backup and verify trust the CA of the cluster file's top-level tls section
  when they dial a tls:// or wss:// address. Each also takes --tls-cert FILE --tls-key FILE, a
  certificate from that CA to present where a port requires one: under mutual TLS, a voter's
  peer address, where kiln status --config asks it, takes only a certificate naming a member.

  Credentials: for a cluster with auth, status, diverged, admin, txn, backup and verify take --user NAME, with
  the password in the environment variable KILN_PASSWORD or, with --password-stdin, on standard
  input; without --user, a token in KILN_TOKEN. Never a password on the command line.

  Web pages: a ws:// or wss:// listener lets in pages served from the host they dial when that
  is an IP address, or this machine's, and refuses others (403). More are let in by kiln start
  --ws-origins LIST, else the environment variable KILN_WS_ORIGINS (the same list), else the
  server's "wsOrigins" in the cluster file: the first of them given wins.

  kiln help [COMMAND], kiln COMMAND --help: this text, or a command's part of it. kiln alone
  prints this text on stderr and exits 2, as an unknown command does (naming the nearest one).
  kiln --version: the version, as 'kiln 1.2.3'.`;

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
      const { values } = parseArgs({ args: rest, options: { config: { type: 'string' }, stripe: { type: 'string' }, 'from-lsn': { type: 'string' }, json: { type: 'boolean' }, ...OPERATOR_FLAGS } });
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
  const { values } = parseArgs({ args, options: { config: { type: 'string' }, stripe: { type: 'string' }, url: { type: 'string', multiple: true }, out: { type: 'string' }, 'from-lsn': { type: 'string' }, ...OPERATOR_FLAGS } });
  if (!values.out || (values.config === undefined) === (values.url === undefined)) throw new UsageError('kiln backup needs --out FILE and one of --config CLUSTER-FILE or --url URL');
  if (values.stripe !== undefined && values.config === undefined) throw new UsageError('--stripe goes with --config');
  const fromLsn = Number(values['from-lsn'] ?? '1');
  if (!Number.isSafeInteger(fromLsn) || fromLsn < 1) throw new UsageError(`--from-lsn must be a positive integer, not '${values['from-lsn']}'`);
  const { config, dial } = await operatorLink(values.config, values);
  const urls = config === undefined ? values.url!.map((url, i) => checkUrl(url, `--url[${i}]`)) : stripeUrls(config, values.stripe);
  return runBackup({ urls, dial, out: values.out, fromLsn }, (line) => console.log(line), log);
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
  const { values, positionals } = parseArgs({
    args: flags,
    allowPositionals: true,
    options: { config: { type: 'string' }, json: { type: 'boolean' }, abort: { type: 'boolean' }, commit: { type: 'boolean' }, ...OPERATOR_FLAGS },
  });
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
