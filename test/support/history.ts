// Writers that record a checker history while faults hit a group, and the end-of-test check that
// every acknowledged append is on every server exactly once (partition and clock-skew tests).
import { expect } from 'vitest';
import { connect, KilnError, WrongExpectedVersionError, type KilnClient } from '@kiln/core/client';
import { anomalyClasses, checkHistory, type EventPosition, type HistoryOp } from '@kiln/core/testing/checker';
import { tcpTransport } from '@kiln/transport-tcp';
import { pollUntil, statusOf, stopAndReadLogs, type Member } from './cluster.js';

/** Every writer set not yet stopped by {@link stopWriters}. */
const started: Writers[] = [];

/**
 * For an afterEach: halts every writer set started since the last call, closes `clients` (emptying
 * the array), then waits for the writers to stop; nothing here fails the test.
 */
export async function stopWriters(clients: KilnClient[]): Promise<void> {
  const writers = started.splice(0);
  for (const w of writers) w.halt();
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => undefined)));
  await Promise.all(writers.map((w) => w.stop().catch(() => undefined)));
}

/** Writers appending one event per transaction to streams of their own, recording a checker history. */
export class Writers {
  readonly history: HistoryOp[] = [];
  acked = 0;
  private running = true;
  /** The highest version acknowledged per stream. */
  private readonly lastVersion = new Map<string, number>();
  private readonly done: Promise<void[]>;

  constructor(client: KilnClient, count: number) {
    started.push(this);
    this.done = Promise.all(Array.from({ length: count }, (_, w) => this.write(client, w)));
  }

  /** Appends `id` once through `client` as process `process`, recording it; resolves whatever the outcome. */
  async attempt(client: KilnClient, process: number | string, stream: string, id: string): Promise<boolean> {
    this.record({ process, type: 'invoke', f: 'append', txn: { appends: [{ stream, eventIds: [id] }] } });
    try {
      const r = await client.append(stream, [{ id, type: 'E', data: id }]);
      this.record({ process, type: 'ok', f: 'append', result: { lsn: r.lsn, streams: [{ stream, firstVersion: r.firstVersion, eventCount: 1 }] } });
      this.lastVersion.set(stream, Math.max(r.firstVersion, this.lastVersion.get(stream) ?? 0));
      this.acked++;
      return true;
    } catch (error) {
      if (!(error instanceof KilnError) || error instanceof WrongExpectedVersionError) throw error;
      // The reconnect window ran out: the append may or may not have committed.
      this.record({ process, type: 'info', f: 'append', error: error.name });
      return false;
    }
  }

  /**
   * Reads the last few events of `stream` through `client` as process `process`, recording the
   * read: the checker finds it stale if it misses an append acknowledged before it was sent.
   */
  async read(client: KilnClient, process: string, stream: string): Promise<void> {
    const from = Math.max(0, (this.lastVersion.get(stream) ?? 0) - 20);
    this.record({ process, type: 'invoke', f: 'read', read: { stream, from } });
    try {
      const events = await client.read(stream, { fromVersion: from, maxCount: 4096 });
      this.record({ process, type: 'ok', f: 'read', read: { stream, from, events: events.map((e) => ({ stream, version: e.version, lsn: e.lsn, id: e.id })) } });
    } catch (error) {
      if (!(error instanceof KilnError)) throw error;
      this.record({ process, type: 'fail', f: 'read', error: error.name });
    }
  }

  /** Resolves once `more` appends were acknowledged after this call. */
  async progress(what: string, more = 20, timeoutMs = 20_000): Promise<void> {
    const target = this.acked + more;
    await pollUntil(what, () => this.acked >= target, timeoutMs);
  }

  /** Lets each writer finish its append in flight and start no more. */
  halt(): void {
    this.running = false;
  }

  async stop(): Promise<void> {
    this.halt();
    await this.done;
  }

  private async write(client: KilnClient, w: number): Promise<void> {
    for (let i = 0; this.running; i++) await this.attempt(client, w, `stream-${w}`, `w${w}-${i}`);
  }

  private record(op: Omit<HistoryOp, 'index' | 'timeMs'>): void {
    this.history.push({ ...op, index: this.history.length, timeMs: performance.now() });
  }
}

/** The one server of `servers` that is active with every server in its in-sync set (30 s at most). */
export async function oneInSyncActive(servers: readonly Member[], timeoutMs = 30_000): Promise<Member> {
  let active: Member | undefined;
  await pollUntil('one active with every server in sync', async () => {
    const statuses = await Promise.all(servers.map((m) => statusOf(m.client)));
    const actives = statuses.filter((s) => s?.state === 'ACTIVE-COORDINATOR');
    if (actives.length !== 1) return false;
    active = servers.find((m) => m.name === actives[0]!.name);
    return servers.every((m) => actives[0]!.group!.inSync.includes(m.name));
  }, timeoutMs, 100);
  return active!;
}

/**
 * Stops the writers, waits for every server to hold the whole log, then checks the history against
 * the active's log and every server's log against the active's: nothing acknowledged lost or
 * doubled, versions dense, the same log everywhere. Stops every member; logs a line led by `label`.
 */
export async function expectEveryAckOnEveryServerOnce(members: readonly Member[], persistence: 'restartable' | 'memory', writers: Writers, label: string): Promise<void> {
  await writers.stop();
  const active = await oneInSyncActive(members.filter((m) => !m.voter));
  const lastLsn = (await statusOf(active.client))!.lastLsn;
  await pollUntil('every mirror caught up', async () => {
    const status = await statusOf(active.client);
    return status?.state === 'ACTIVE-COORDINATOR' && status.group!.mirrors.every((m) => m.ackedLsn >= lastLsn);
  }, 20_000, 100);
  const reader = await connect(active.client, { transports: [tcpTransport()], reconnectWindowMs: 0 });
  const stored: EventPosition[] = [];
  try {
    for (let from = 1; from <= lastLsn; from = (stored[stored.length - 1]?.lsn ?? from) + 1) {
      const page = await reader.readAll({ fromLsn: from, maxCount: 1000 });
      if (page.length === 0) break;
      for (const e of page) stored.push({ stream: e.stream, version: e.version, lsn: e.lsn, id: e.id });
    }
  } finally {
    await reader.close();
  }
  const logs = await stopAndReadLogs(members, persistence, lastLsn);
  for (const log of logs.slice(1)) expect(log).toEqual(logs[0]);
  const check = checkHistory(writers.history, [stored]);
  const anomalies = anomalyClasses.filter((c) => check.counts[c] > 0).map((c) => `${c}=${check.counts[c]}: ${(check.examples[c] ?? []).slice(0, 3).join('; ')}`);
  expect(anomalies).toEqual([]);
  expect(check.valid).toBe(true);
  console.log(`${label}: ${check.counts.acked} acked, ${check.counts.read} reads, ${check.counts.indeterminate} indeterminate (${check.counts.recovered} committed), ${lastLsn} records, 0 anomalies`);
}
