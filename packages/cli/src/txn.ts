/**
 * `kiln txn list|resolve --config CLUSTER-FILE`: the operator's view of transactions over several
 * stripes. `list` asks every stripe's active for the transactions open on it and merges their
 * answers; `resolve` forces a decision on the parts of a transaction in doubt (its coordinator's
 * stripe lost for good), on every stripe that holds one.
 */
import { InvalidArgumentError, stripesOf, type ClusterConfig } from '@kiln/core';
import { connect, type KilnClient, type ResolveOutcome } from '@kiln/core/client';
import { UnreachableError } from './exit-codes.js';
import { clusterStatus, printTable } from './group-status.js';
import type { Dial } from './transports.js';

/**
 * How long one active may take to answer: a resolve first asks the coordinator, which may take
 * the server's `txnTimeoutMs` (10 s by default) to fail.
 */
const ANSWER_WITHIN_MS = 60_000;

/** One open transaction, merged over the stripes' answers (what `kiln txn list --json` prints). */
export interface OpenTransactionRow {
  txnId: string;
  coordinator: string;
  participants: string[];
  /** `deciding` while its coordinator's active is deciding it; `prepared` when only participants hold parts. */
  state: 'deciding' | 'prepared';
  /** The oldest of the stripes' ages for it. */
  ageMs: number;
  /** The stripes holding a prepared part of it. */
  preparedOn: string[];
  /** A part's coordinator has not been reached for longer than `txnTimeoutMs`. */
  inDoubt: boolean;
}

/** Each stripe's active, connected; stripes with no active answering are named apart. */
async function actives(config: ClusterConfig, dial: Dial): Promise<{ clients: Array<[string, KilnClient]>; missing: string[] }> {
  const status = await clusterStatus(config, dial);
  const clients: Array<[string, KilnClient]> = [];
  const missing: string[] = [];
  await Promise.all(
    stripesOf(config).map(async (stripe, i) => {
      const active = stripe.servers.find((s) => s.name === status.stripes[i]!.active);
      const client = active && (await connect(active.listen, { ...dial, reconnectWindowMs: 0, requestTimeoutMs: ANSWER_WITHIN_MS }).catch(() => undefined));
      if (client) clients.push([stripe.name, client]);
      else missing.push(stripe.name);
    }),
  );
  return { clients, missing };
}

async function withActives<T>(config: ClusterConfig, dial: Dial, work: (clients: Array<[string, KilnClient]>, missing: string[]) => Promise<T>): Promise<T> {
  const { clients, missing } = await actives(config, dial);
  try {
    return await work(clients, missing);
  } finally {
    await Promise.all(clients.map(([, client]) => client.close()));
  }
}

/**
 * The transactions open on the stripes' actives, merged by transaction, oldest first. A stripe with
 * no active answering is named on `warn` with `--json` (stdout stays one JSON value), so a script
 * can tell "none open" from "not asked".
 * @throws UnreachableError, once the stripes are named, when no stripe's active answered
 */
export async function printOpenTransactions(config: ClusterConfig, dial: Dial, json: boolean, print: (line: string) => void, warn: (line: string) => void): Promise<void> {
  // A cluster of one stripe has no transactions over several (its servers refuse the question).
  if (stripesOf(config).length === 1) {
    print(json ? '[]' : 'no open transactions');
    return;
  }
  await withActives(config, dial, async (clients, missing) => {
    const rows = new Map<string, OpenTransactionRow>();
    const answers = await Promise.all(clients.map(async ([stripe, client]) => [stripe, await client.openTransactions()] as const));
    for (const [stripe, open] of answers) {
      for (const t of open) {
        const row = rows.get(t.txnId) ?? { txnId: t.txnId, coordinator: t.coordinator, participants: t.participants, state: 'prepared', ageMs: 0, preparedOn: [], inDoubt: false };
        if (t.state === 'deciding') row.state = 'deciding';
        else row.preparedOn.push(stripe);
        row.ageMs = Math.max(row.ageMs, t.ageMs);
        row.inDoubt ||= t.inDoubt;
        rows.set(t.txnId, row);
      }
    }
    const list = [...rows.values()].sort((a, b) => b.ageMs - a.ageMs);
    for (const stripe of missing) (json ? warn : print)(`stripe ${stripe}: no active answered; its transactions are not listed`);
    // Nobody asked: "none open" would be a guess a script takes for an answer.
    if (clients.length === 0) throw new UnreachableError('no stripe has an active answering: no transaction was listed');
    if (json) {
      print(JSON.stringify(list, null, 2));
      return;
    }
    if (list.length === 0) {
      print('no open transactions');
      return;
    }
    printTable(
      [
        ['transaction', 'coordinator', 'participants', 'state', 'age', 'prepared on', 'in doubt'],
        ...list.map((t) => [t.txnId, t.coordinator, t.participants.join(','), t.state, `${(t.ageMs / 1000).toFixed(1)} s`, t.preparedOn.join(',') || '-', t.inDoubt ? 'yes' : 'no']),
      ],
      print,
    );
  });
}

const DID: Record<ResolveOutcome, string> = {
  none: 'holds no prepared part of it',
  forced: 'ended its part with the forced decision (kept in its diverged report)',
  commit: 'its coordinator answered commit; the part ended with that',
  abort: 'its coordinator answered abort; the part ended with that',
  deciding: 'its coordinator answered that it is still deciding; the part stays',
};

/**
 * A resolve that left a part in place because its coordinator is still deciding the transaction:
 * `kiln` exits 1, so a script does not take the part for ended.
 */
export class TxnNotResolvedError extends Error {
  override name = 'TxnNotResolvedError';
}

/**
 * Forces `decision` on every stripe's prepared part of `txnId`, and prints what each did.
 * @throws InvalidArgumentError when no stripe asked holds such a part
 * @throws UnreachableError when no stripe's active answered
 * @throws TxnNotResolvedError when a part stays, its coordinator still deciding
 */
export async function resolveTransaction(
  config: ClusterConfig,
  dial: Dial,
  txnId: string,
  decision: 'commit' | 'abort',
  print: (line: string) => void,
): Promise<void> {
  await withActives(config, dial, async (clients, missing) => {
    if (clients.length === 0) throw new UnreachableError(`no stripe has an active answering: transaction ${txnId} was not resolved`);
    const outcomes = await Promise.all(clients.map(async ([stripe, client]) => [stripe, await client.resolveTransaction(txnId, decision)] as const));
    if (outcomes.every(([, outcome]) => outcome === 'none')) {
      const unasked = missing.length > 0 ? ` (stripes not asked, with no active: ${missing.join(', ')})` : '';
      throw new InvalidArgumentError('TXN', `no stripe holds a prepared part of transaction ${txnId}${unasked}`);
    }
    for (const [stripe, outcome] of outcomes) print(`stripe ${stripe}: ${DID[outcome]}`);
    for (const stripe of missing) print(`stripe ${stripe}: no active answered; not asked`);
    const staying = outcomes.filter(([, outcome]) => outcome === 'deciding').map(([stripe]) => stripe);
    if (staying.length > 0) {
      throw new TxnNotResolvedError(`transaction ${txnId} was not resolved on ${staying.join(', ')}: its coordinator is still deciding it (it aborts an undecided one after its txnTimeoutMs); try again then`);
    }
  });
}
