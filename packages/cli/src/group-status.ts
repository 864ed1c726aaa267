/**
 * `kiln status --config CLUSTER-FILE`: the whole cluster, one block per stripe, asked of each
 * server itself: the stripe's active and term, and each member's state, term, last LSN, lag
 * behind the active, whether the active counts it in sync, and whether it answered at all; then
 * the voters, each reachable or not, with its term in each stripe. An unreachable mirror shows the last LSN the
 * active had from it. A member that does not answer within a few
 * seconds shows as unreachable.
 */
import { clusterIdOf, clusterLayoutOf, stripesOf, type ClusterConfig, type StripeConfig } from '@kiln/core';
import { connect, type ServerStatus } from '@kiln/core/client';
import { UnreachableError } from './exit-codes.js';
import type { Dial } from './transports.js';

/** How long one member may take to answer. */
const ANSWER_WITHIN_MS = 3000;

/** One server of a stripe. */
export interface MemberRow {
  name: string;
  /** The server's own state; `unreachable` when it did not answer. */
  state: string;
  term: number | null;
  lastLsn: number | null;
  /** Records behind the active's last LSN; null without an active or an answer. */
  lag: number | null;
  /** In the active's in-sync set; null without an active. */
  inSync: boolean | null;
  /** The last LSN the active has from it (a mirror's, as the active saw it); null on the active or without one. */
  ackedLsn: number | null;
  reachable: boolean;
}

/** One stripe: its active (the highest term's, should a deposed one not have heard yet) and its servers. */
export interface StripeBlock {
  name: string;
  active: string | null;
  term: number | null;
  members: MemberRow[];
}

export interface VoterRow {
  name: string;
  reachable: boolean;
  /** The voter's term in the first stripe's elections; null when it did not answer. */
  term: number | null;
  /** The voter's term in each stripe's elections, by stripe name; null when it did not answer (an older voter tells only the first). */
  terms: Record<string, number> | null;
}

/** What `kiln status --config F --json` prints. */
export interface ClusterStatus {
  clusterId: string;
  stripes: StripeBlock[];
  voters: VoterRow[];
}

async function ask(urls: readonly string[], dial: Dial): Promise<ServerStatus | undefined> {
  const client = await connect(urls, { ...dial, reconnectWindowMs: 0, requestTimeoutMs: ANSWER_WITHIN_MS, serverSilenceMs: ANSWER_WITHIN_MS }).catch(() => undefined);
  if (!client) return undefined;
  try {
    return await client.serverStatus();
  } catch {
    return undefined;
  } finally {
    await client.close();
  }
}

/** Why the server answering at a member's address is not that member, or undefined when it is. */
function strangerAt(answer: ServerStatus, member: string, clusterId: string): string | undefined {
  if (answer.clusterId !== clusterId) return `another cluster's server ${answer.name} (cluster ${answer.clusterId})`;
  if (answer.name !== member) return `another server, ${answer.name}`;
  return undefined;
}

async function stripeBlock(stripe: StripeConfig, clusterId: string, dial: Dial): Promise<StripeBlock> {
  const asked = await Promise.all(stripe.servers.map((s) => ask(s.listen, dial)));
  // A stale or mistyped file may reach another server: it is not the member, and its state says nothing of the stripe.
  const strangers = asked.map((answer, i) => answer && strangerAt(answer, stripe.servers[i]!.name, clusterId));
  const answers = asked.map((answer, i) => (strangers[i] === undefined ? answer : undefined));
  let active: ServerStatus | undefined;
  for (const answer of answers) {
    if (answer?.state === 'ACTIVE-COORDINATOR' && (!active || answer.term > active.term)) active = answer;
  }
  const members = stripe.servers.map((s, i): MemberRow => {
    const answer = answers[i];
    const ackedLsn = active?.group?.mirrors.find((m) => m.name === s.name)?.ackedLsn ?? null;
    // A member that does not answer: what the active last had from it says how far behind it stopped.
    if (!answer) return { name: s.name, state: strangers[i] ?? 'unreachable', term: null, lastLsn: null, lag: active && ackedLsn !== null ? active.lastLsn - ackedLsn : null, inSync: active ? false : null, ackedLsn, reachable: false };
    return {
      name: s.name,
      state: answer.state,
      term: answer.term,
      lastLsn: answer.lastLsn,
      lag: active ? Math.max(0, active.lastLsn - answer.lastLsn) : null,
      inSync: active?.group ? active.group.inSync.includes(s.name) : null,
      ackedLsn,
      reachable: true,
    };
  });
  return { name: stripe.name, active: active?.name ?? null, term: active?.term ?? null, members };
}

/**
 * The whole cluster, asking every server and voter of the cluster file at once with `dial`'s
 * transports and credentials (a voter is asked at its peer address: under mutual TLS, only with a
 * member's certificate).
 */
export async function clusterStatus(config: ClusterConfig, dial: Dial): Promise<ClusterStatus> {
  const clusterId = clusterIdOf(clusterLayoutOf(config));
  const [stripes, voterAnswers] = await Promise.all([
    Promise.all(stripesOf(config).map((stripe) => stripeBlock(stripe, clusterId, dial))),
    Promise.all(config.voters.map((v) => ask([v.peer], dial))),
  ]);
  const stripeNames = stripes.map((s) => s.name);
  const voters = config.voters.map((v, i): VoterRow => {
    const answer = voterAnswers[i];
    return { name: v.name, reachable: answer !== undefined, term: answer?.term ?? null, terms: answer ? termsByStripe(answer, stripeNames) : null };
  });
  return { clusterId, stripes, voters };
}

/** A voter's term in each stripe, by name: what it tells (an older voter tells only its first stripe's, as `term`). */
function termsByStripe(answer: ServerStatus, stripeNames: readonly string[]): Record<string, number> {
  const terms = answer.stripeTerms ?? [answer.term];
  return Object.fromEntries(stripeNames.flatMap((name, i) => (terms[i] === undefined ? [] : [[name, terms[i]]])));
}

/**
 * Prints the cluster's status as one table per stripe and one of voters, or as JSON.
 * @throws UnreachableError, once printed, when no member answered: a script must not read a cluster that is all down as fine
 */
export async function printGroupStatus(config: ClusterConfig, dial: Dial, json: boolean, print: (line: string) => void): Promise<void> {
  const status = await clusterStatus(config, dial);
  printClusterStatus(config, status, json, print);
  const answered = status.stripes.some((s) => s.members.some((m) => m.reachable)) || status.voters.some((v) => v.reachable);
  if (!answered) throw new UnreachableError(`no server or voter of cluster ${config.cluster} answered`);
}

function printClusterStatus(config: ClusterConfig, status: ClusterStatus, json: boolean, print: (line: string) => void): void {
  if (json) {
    print(JSON.stringify(status, null, 2));
    return;
  }
  print(`cluster ${config.cluster} (${status.clusterId})`);
  for (const stripe of status.stripes) {
    print('');
    print(`stripe ${stripe.name}: ${stripe.active === null ? 'NO ACTIVE' : `active ${stripe.active}, term ${stripe.term}`}`);
    printTable(
      [
        ['member', 'state', 'term', 'last LSN', 'acked LSN', 'lag', 'in sync'],
        ...stripe.members.map((r) => [r.name, r.state, show(r.term), show(r.lastLsn), show(r.ackedLsn), show(r.lag), r.inSync === null ? '-' : r.inSync ? 'yes' : 'no']),
      ],
      print,
    );
  }
  if (status.voters.length > 0) {
    print('');
    // With several stripes a voter has a term in each: one column per stripe.
    const names = status.stripes.length > 1 ? status.stripes.map((s) => s.name) : [];
    const header = names.length > 0 ? names.map((name) => `term ${name}`) : ['term'];
    const terms = (v: VoterRow): string[] => (names.length > 0 ? names.map((name) => show(v.terms?.[name] ?? null)) : [show(v.term)]);
    printTable([['voter', 'reachable', ...header], ...status.voters.map((v) => [v.name, v.reachable ? 'yes' : 'no', ...terms(v)])], print);
  }
}

export function printTable(table: string[][], print: (line: string) => void): void {
  const widths = table[0]!.map((_, c) => Math.max(...table.map((row) => row[c]!.length)));
  for (const row of table) print(row.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd());
}

const show = (value: number | null): string => (value === null ? '-' : String(value));
