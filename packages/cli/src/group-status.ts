/**
 * `kiln status --config CLUSTER-FILE`: one row per member of the group, asked of each server
 * itself: its state, term, last LSN, its lag behind the active, and whether the active counts it
 * in sync. A server that does not answer within a few seconds shows as unreachable; voters serve
 * no clients, so they are listed without state.
 */
import { stripesOf, validateClusterConfig } from '@kiln/core';
import { connect, type ServerStatus } from '@kiln/core/client';
import { tcpTransport } from '@kiln/transport-tcp';
import { wsTransport } from '@kiln/transport-ws';
import { readJsonFile } from './config.js';

/** How long one server may take to answer. */
const ANSWER_WITHIN_MS = 3000;

/** One member's row. */
export interface MemberRow {
  name: string;
  kind: 'server' | 'voter';
  /** The server's own state; `unreachable` when it did not answer; null for a voter. */
  state: string | null;
  term: number | null;
  lastLsn: number | null;
  /** Records behind the active's last LSN; null without an active or an answer. */
  lag: number | null;
  /** In the active's in-sync set; null without an active. */
  inSync: boolean | null;
}

async function ask(urls: readonly string[]): Promise<ServerStatus | undefined> {
  const client = await connect(urls, { transports: [tcpTransport(), wsTransport()], reconnectWindowMs: 0, requestTimeoutMs: ANSWER_WITHIN_MS, serverSilenceMs: ANSWER_WITHIN_MS }).catch(() => undefined);
  if (!client) return undefined;
  try {
    return await client.serverStatus();
  } catch {
    return undefined;
  } finally {
    await client.close();
  }
}

/** Every member's row, asking the servers of the cluster file at once. */
export async function groupRows(file: string): Promise<MemberRow[]> {
  const config = validateClusterConfig(await readJsonFile(file));
  const servers = stripesOf(config).flatMap((s) => s.servers);
  const answers = await Promise.all(servers.map((s) => ask(s.listen)));
  // The active of the highest term, should a deposed one not have heard yet.
  let active: ServerStatus | undefined;
  for (const answer of answers) {
    if (answer?.state === 'ACTIVE-COORDINATOR' && (!active || answer.term > active.term)) active = answer;
  }
  const rows: MemberRow[] = servers.map((s, i) => {
    const answer = answers[i];
    if (!answer) return { name: s.name, kind: 'server', state: 'unreachable', term: null, lastLsn: null, lag: null, inSync: active ? false : null };
    return {
      name: s.name,
      kind: 'server',
      state: answer.state,
      term: answer.term,
      lastLsn: answer.lastLsn,
      lag: active ? Math.max(0, active.lastLsn - answer.lastLsn) : null,
      inSync: active?.group ? active.group.inSync.includes(s.name) : null,
    };
  });
  for (const v of config.voters) rows.push({ name: v.name, kind: 'voter', state: null, term: null, lastLsn: null, lag: null, inSync: null });
  return rows;
}

/** Prints the rows as a table, or as JSON. */
export async function printGroupStatus(file: string, json: boolean, print: (line: string) => void): Promise<void> {
  const rows = await groupRows(file);
  if (json) {
    print(JSON.stringify(rows, null, 2));
    return;
  }
  const table = [
    ['member', 'kind', 'state', 'term', 'last LSN', 'lag', 'in sync'],
    ...rows.map((r) => [r.name, r.kind, r.state ?? '-', show(r.term), show(r.lastLsn), show(r.lag), r.inSync === null ? '-' : r.inSync ? 'yes' : 'no']),
  ];
  const widths = table[0]!.map((_, c) => Math.max(...table.map((row) => row[c]!.length)));
  for (const row of table) print(row.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd());
}

const show = (value: number | null): string => (value === null ? '-' : String(value));
