/** `kiln status URL`: prints a server's state, term, LSN, commit index and connections. */
import { connect, type MirrorStatus } from '@kiln/core/client';
import type { Dial } from './transports.js';

export async function printStatus(url: string, dial: Dial, json: boolean, print: (line: string) => void): Promise<void> {
  const client = await connect(url, { ...dial, reconnectWindowMs: 0, requestTimeoutMs: 5000 });
  try {
    const status = await client.serverStatus();
    if (json) {
      print(JSON.stringify(status, null, 2));
      return;
    }
    const rows: Array<[string, unknown]> = [
      ['server', status.name],
      ['state', status.state],
      ['term', status.term],
      ['last LSN', status.lastLsn],
      ['commit index', status.commitIndex],
      ['connections', status.connections],
      ['subscriptions', status.subscriptions],
      ['pending', status.pendingTransactions],
      ['persistent', status.persistent],
      ['listening on', status.listen.join(', ')],
      ['cluster id', status.clusterId],
      ['uptime', `${Math.round(status.uptimeMs / 1000)} s`],
    ];
    for (const [label, value] of rows) print(`${label.padEnd(14)} ${String(value)}`);
    const { group } = status;
    if (!group) return;
    const names = (kind: 'server' | 'voter'): string => group.members.filter((m) => m.kind === kind).map((m) => m.name).join(', ') || '(none)';
    print(`${'active'.padEnd(14)} ${group.leader ?? '(none known)'}`);
    print(`${'servers'.padEnd(14)} ${names('server')}`);
    print(`${'voters'.padEnd(14)} ${names('voter')}`);
    print(`${'in-sync set'.padEnd(14)} ${group.inSync.join(', ')} (view ${group.viewVersion})`);
    if (group.removed) print(`${'removed'.padEnd(14)} this server was removed from the group; it takes no part`);
    for (const m of group.mirrors) print(describeMirror(m));
  } finally {
    await client.close();
  }
}

/** One mirror's progress: unreachable, in sync, or how many records it has to go and how fast it closes the gap. */
export function describeMirror(m: MirrorStatus): string {
  const label = `mirror ${m.name}`.padEnd(14);
  if (!m.reachable) return `${label} unreachable: last acked LSN ${m.ackedLsn}, ${m.lag} records behind`;
  if (m.inSync) return `${label} in sync, acked LSN ${m.ackedLsn}, lag ${m.lag}`;
  const eta = m.rate > 0 ? `, about ${Math.ceil(m.lag / m.rate)} s to go` : '';
  return `${label} syncing: acked LSN ${m.ackedLsn}, ${m.lag} records to go at ${m.rate} records/s${eta}`;
}
