/** `kiln status URL`: prints a server's state, term, LSN, commit index and connections. */
import { connect } from '@kiln/core/client';
import { tcpTransport } from '@kiln/transport-tcp';
import { wsTransport } from '@kiln/transport-ws';

export async function printStatus(url: string, json: boolean, print: (line: string) => void): Promise<void> {
  const client = await connect(url, { transports: [tcpTransport(), wsTransport()], reconnectWindowMs: 0, requestTimeoutMs: 5000 });
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
      ['listening on', (status.listen as string[]).join(', ')],
      ['cluster id', status.clusterId],
      ['uptime', `${Math.round(Number(status.uptimeMs) / 1000)} s`],
    ];
    for (const [label, value] of rows) print(`${label.padEnd(14)} ${String(value)}`);
    const group = status.group as { leader: string | null; inSync: string[]; inSyncVersion: number; mirrors: Array<{ name: string; ackedLsn: number; lag: number; inSync: boolean }> } | undefined;
    if (!group) return;
    print(`${'active'.padEnd(14)} ${group.leader ?? '(none known)'}`);
    print(`${'in-sync set'.padEnd(14)} ${group.inSync.join(', ')} (version ${group.inSyncVersion})`);
    for (const m of group.mirrors) print(`${`mirror ${m.name}`.padEnd(14)} acked LSN ${m.ackedLsn}, lag ${m.lag}${m.inSync ? ', in sync' : ', not in sync'}`);
  } finally {
    await client.close();
  }
}
