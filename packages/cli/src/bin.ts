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
 *
 * Each command's module is loaded only once the command is known: `kiln help`, `kiln --version` and a
 * usage error load none, and a command loads what it needs only (scripts and health checks run
 * `kiln status` in loops).
 */
import { describeUsageFailure, EXIT } from './exit-codes.js';
import { asksForHelp, commandHelp, fullHelp, kilnVersion, unknownCommand } from './help.js';
import { log, print } from './output.js';
import { USAGE } from './usage.js';

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === '--version' || command === '-v') return print(`kiln ${kilnVersion()}`);
  if (command === 'help' && rest.length > 0) return print(await commandHelp(USAGE, rest[0]!));
  // `kiln bench --help` lists every option itself.
  if (command !== undefined && command !== 'bench' && !command.startsWith('-') && asksForHelp(rest)) return print(await commandHelp(USAGE, command));
  switch (command) {
    case 'start':
      return (await import('./commands/serve.js')).start(rest);
    case 'voter':
      return (await import('./commands/serve.js')).voter(rest);
    case 'admin':
      return (await import('./commands/operate.js')).admin(rest);
    case 'backup':
      return (await import('./commands/backup.js')).backup(rest);
    case 'restore':
      return (await import('./commands/backup.js')).restore(rest);
    case 'status':
    case 'diverged':
      return (await import('./commands/status.js')).statusOrDiverged(command, rest);
    case 'certs':
      return (await import('./commands/offline.js')).certs(rest);
    case 'verify':
      return (await import('./commands/operate.js')).verify(rest);
    case 'stripe-of':
      return (await import('./commands/offline.js')).stripeOf(rest);
    case 'txn':
      return (await import('./commands/operate.js')).txn(rest);
    case 'passwd':
      return (await import('./commands/secrets.js')).passwd(rest);
    case 'token':
      return (await import('./commands/secrets.js')).token(rest);
    case 'bench':
      return (await import('./bench/command.js')).runBench(rest);
    case undefined:
      // No command is a usage error: a script that forgot its argument must not read as done.
      process.stderr.write(`${fullHelp(USAGE)}\n`);
      process.exitCode = EXIT.usage;
      return;
    case 'help':
    case '--help':
    case '-h':
      print(fullHelp(USAGE));
      return;
    default:
      throw await unknownCommand(USAGE, command);
  }
}

main(process.argv.slice(2)).catch(async (error: unknown) => {
  const command = process.argv[2];
  // A command's usage line goes on with its arguments, or ends there (`kiln passwd`).
  const known = command !== undefined && (USAGE.includes(`\n  kiln ${command} `) || USAGE.includes(`\n  kiln ${command}\n`));
  const help = known ? `kiln ${command} --help` : 'kiln help';
  // A usage error needs nothing loaded to be described; any other error loads what tells them apart.
  const { line, code } = describeUsageFailure(error, help) ?? (await import('./failure.js')).describeFailure(error, help);
  log(line);
  process.exit(code);
});
