#!/usr/bin/env node
/**
 * The `kiln` command.
 *
 * ```
 * kiln start [--memory] [--data DIR] [--listen URL]... [--name NAME] [--config FILE]
 * kiln start --config CLUSTER-FILE --server NAME [--join]
 * kiln voter --config CLUSTER-FILE --name NAME
 * kiln admin add-mirror|remove-mirror --config CLUSTER-FILE --name NAME [--stripe STRIPE] [--wait]
 * kiln status [URL] [--json]
 * kiln status --config CLUSTER-FILE [--json]
 * kiln diverged [URL] [--json]
 * kiln stripe-of STREAM --config CLUSTER-FILE [--json]
 * kiln txn list --config CLUSTER-FILE [--json]
 * kiln txn resolve TXN --abort|--commit --config CLUSTER-FILE
 * kiln bench [--url URL]... | [--config FILE] [options]
 * ```
 */
import { parseArgs } from 'node:util';
import { KilnError } from '@kiln/core';
import { AdminWaitError, runAdmin } from './admin.js';
import { runBench } from './bench/command.js';
import { startServerMember, startVoterMember } from './cluster.js';
import { printDiverged } from './diverged.js';
import { DEFAULT_CONFIG, checkUrl, isClusterFile, readClusterConfig, readJsonFile } from './config.js';
import { runUntilSignalled } from './start.js';
import { printGroupStatus } from './group-status.js';
import { printStatus } from './status.js';
import { formatPlacement, placeStream, streamNameProblem } from './stripe-of.js';
import { printOpenTransactions, resolveTransaction } from './txn.js';

const USAGE = `usage:
  kiln start [--memory] [--data DIR] [--listen URL]... [--name NAME] [--config FILE]
      Runs one server in the foreground. Default: restartable mode, LevelDB under ./kiln-data,
      listening on tcp://127.0.0.1:7410 and ws://127.0.0.1:7411. SIGINT or SIGTERM shuts it
      down cleanly.
  kiln start --config CLUSTER-FILE --server NAME [--join]
      Runs server NAME of the cluster file, in its stripe (mirror group). With --join it is a new
      server for a running group: it waits, outside the in-sync set, for kiln admin add-mirror.
  kiln voter --config CLUSTER-FILE --name NAME
      Runs voter NAME: it holds no log, and votes in the elections of every stripe.
  kiln admin add-mirror --config CLUSTER-FILE --name NAME [--stripe STRIPE] [--wait]
      Adds server NAME (its addresses from the cluster file) to its running stripe, without
      pausing the active. --wait prints its catch-up progress until it is in sync (at most 1 h).
      With several stripes, --stripe names the server's stripe.
  kiln admin remove-mirror --config CLUSTER-FILE --name NAME [--stripe STRIPE]
      Removes mirror NAME from its running stripe; it then takes no part.
  kiln status [URL] [--json]
      Prints a server's state, term, LSN, commit index and connections, and for a group member
      the active, the in-sync set and each mirror's lag (default URL tcp://127.0.0.1:7410).
  kiln status --config CLUSTER-FILE [--json]
      Asks every server and voter of the cluster and prints one block per stripe (its active and
      term; each member's state, term, last LSN, lag behind the active, and whether the active
      counts it in sync), then each voter, reachable or not, with its term.
  kiln diverged [URL] [--json]
      Prints the transactions a server gave up to follow a newer active after a partition
      (failoverPriority 'availability'), and the decisions operators forced on transactions in
      doubt (kiln txn resolve), oldest first; --json prints one object per line.
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
  kiln bench [--url URL]... | [--config FILE] [--clients C] [--in-flight P] [--event-size B]
             [--streams S] [--duration SECONDS] [--shape single|multi|cross-stripe] [--json]
      Runs a load against a running server or cluster: a progress line every second, then
      appends/s, transactions/s and p50/p99/p99.9 latency. kiln bench --help for every option.`;

const ADMIN_WAIT_LIMIT_MS = 3_600_000;

const log = (line: string): void => void process.stderr.write(`${line}\n`);

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'start':
      return start(rest);
    case 'voter': {
      const { values } = parseArgs({ args: rest, options: { config: { type: 'string' }, name: { type: 'string' } } });
      if (!values.config || !values.name) throw new UsageError('kiln voter needs --config FILE and --name NAME');
      runUntilSignalled(await startVoterMember(await readClusterConfig(values.config), values.name, log), log);
      return;
    }
    case 'admin': {
      const [action, ...flags] = rest;
      if (action !== 'add-mirror' && action !== 'remove-mirror') throw new UsageError(`kiln admin needs add-mirror or remove-mirror, not '${action ?? ''}'`);
      const { values } = parseArgs({ args: flags, options: { config: { type: 'string' }, name: { type: 'string' }, stripe: { type: 'string' }, wait: { type: 'boolean' } } });
      if (!values.config || !values.name) throw new UsageError(`kiln admin ${action} needs --config FILE and --name NAME`);
      if (values.wait && action === 'remove-mirror') throw new UsageError('--wait goes with add-mirror only');
      return runAdmin(action, { file: values.config, name: values.name, stripe: values.stripe, wait: values.wait ?? false, waitLimitMs: ADMIN_WAIT_LIMIT_MS }, (line) => console.log(line));
    }
    case 'status':
    case 'diverged': {
      const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { json: { type: 'boolean' }, config: { type: 'string' } } });
      if (values.config !== undefined) {
        if (command !== 'status' || positionals.length > 0) throw new UsageError('--config goes with kiln status, without a URL');
        return printGroupStatus(values.config, values.json ?? false, (line) => console.log(line));
      }
      const url = checkUrl(positionals[0] ?? DEFAULT_CONFIG.listen[0], 'URL');
      return (command === 'status' ? printStatus : printDiverged)(url, values.json ?? false, (line) => console.log(line));
    }
    case 'stripe-of':
      return stripeOf(rest);
    case 'txn':
      return txn(rest);
    case 'bench':
      return runBench(rest);
    case undefined:
    case 'help':
    case '--help':
      console.log(USAGE);
      return;
    default:
      throw new UsageError(`unknown command '${command}'`);
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
    },
  });
  if (values.memory && values.data) throw new UsageError('--memory and --data do not go together');
  if (values.server !== undefined || (values.config && isClusterFile(await readJsonFile(values.config)))) {
    if (!values.config) throw new UsageError('--server needs --config FILE');
    const overrides = (['memory', 'data', 'listen', 'name'] as const).filter((flag) => values[flag] !== undefined);
    if (overrides.length > 0) throw new UsageError(`--${overrides.join(', --')} cannot be used with a cluster file; set them in the file`);
    runUntilSignalled(await startServerMember(await readClusterConfig(values.config), values.server, values.join ? 'joining server' : 'server', log), log);
    return;
  }
  if (values.join) throw new UsageError('--join needs --config CLUSTER-FILE --server NAME');
  // A single-server file or flags only: a one-server cluster, the flags over the file.
  const config = await readClusterConfig(values.config, {
    ...(values.name ? { name: values.name } : {}),
    ...(values.memory ? { persistence: 'memory' as const } : {}),
    ...(values.data ? { dataDir: values.data, persistence: 'restartable' as const } : {}),
    ...(values.listen ? { listen: values.listen.map((url, i) => checkUrl(url, `--listen[${i}]`)) } : {}),
  });
  runUntilSignalled(await startServerMember(config, undefined, 'server', log), log);
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
    options: { config: { type: 'string' }, json: { type: 'boolean' }, abort: { type: 'boolean' }, commit: { type: 'boolean' } },
  });
  if (!values.config) throw new UsageError(`kiln txn ${action ?? ''} needs --config CLUSTER-FILE`);
  if (action === 'list') {
    if (positionals.length > 0 || values.abort || values.commit) throw new UsageError('kiln txn list takes --config FILE and --json only');
    return printOpenTransactions(values.config, values.json ?? false, (line) => console.log(line));
  }
  if (action !== 'resolve') throw new UsageError(`kiln txn needs list or resolve, not '${action ?? ''}'`);
  if (positionals.length !== 1 || values.abort === values.commit || values.json) throw new UsageError('kiln txn resolve needs one TXN, one of --abort or --commit, and --config FILE');
  return resolveTransaction(values.config, positionals[0]!, values.commit ? 'commit' : 'abort', (line) => console.log(line));
}

class UsageError extends Error {}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof AdminWaitError) {
    log(`kiln: ${error.message}`);
    process.exit(1);
  }
  if (error instanceof UsageError || (error instanceof Error && error.name === 'TypeError' && 'code' in error)) {
    log(`kiln: ${error.message}\n\n${USAGE}`);
    process.exit(2);
  }
  log(`kiln: ${error instanceof KilnError ? `${error.name}: ${error.message}` : String((error as Error)?.stack ?? error)}`);
  process.exit(1);
});
