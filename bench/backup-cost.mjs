#!/usr/bin/env node
// What a backup costs the appends running beside it (docs/operations.md, "Backup and restore"),
// every member its own `kiln` process: a restartable group of 2 servers + 1 voter. It loads a log
// of a few hundred MB (--events events of --event-bytes, --per-txn to a transaction: as fast as
// the group takes them), then runs a steady append load (--clients clients, one append of one
// event of --event-bytes in flight each, closed loop) throughout, and measures it in windows of
// --seconds: without a backup, then while `kiln backup` (the real CLI, a child process) copies
// the whole log from the active; again without, then while it copies from the mirror
// (`--from-mirror`). A source `active:R` or `mirror:R` copies at most R MiB a second
// (`--max-rate R`). A window with a backup lasts as long as the backup, at most --seconds. Prints
// a markdown table: appends/s, p50 and p99 of each window, and each backup's size and MB/s.
//
//   node bench/backup-cost.mjs [--seconds 10] [--events 300000] [--event-bytes 1024] [--per-txn 20]
//        [--clients 8] [--sources active,mirror,active:5]
//
// Bounded in time (--max-minutes, 20 by default, for the whole run); every process it starts is
// killed and its temp directory removed at exit, whatever the outcome.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { connect } from '@kiln/core/client';
import { tcpTransport } from '@kiln/transport-tcp';
import { freePorts, sleep, startMember, statusOf } from './cluster.mjs';

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(benchDir, '..');
const cliBin = path.join(repoRoot, 'packages/cli/dist/bin.js');
const { values: flags } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    events: { type: 'string', default: '300000' },
    'event-bytes': { type: 'string', default: '1024' },
    'per-txn': { type: 'string', default: '20' },
    clients: { type: 'string', default: '8' },
    sources: { type: 'string', default: 'active,mirror' },
    'max-minutes': { type: 'string', default: '20' },
  },
});
const positive = (name) => {
  const n = Number(flags[name]);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, not ${flags[name]}`);
  return n;
};
const SECONDS = positive('seconds');
const EVENTS = positive('events');
const EVENT_BYTES = positive('event-bytes');
const PER_TXN = positive('per-txn');
const CLIENTS = positive('clients');
const SOURCES = flags.sources.split(',');
for (const s of SOURCES) if (!/^(active|mirror)(:\d+(\.\d+)?)?$/.test(s)) throw new Error(`--sources: active or mirror, each with :MIB_PER_S or not, not ${s}`);
/** Transactions the loader keeps in flight: enough to keep the group's pipeline full. */
const LOAD_IN_FLIGHT = 16;

const children = new Set();
const track = (child) => {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
};
const dir = mkdtempSync(path.join(os.tmpdir(), 'kiln-bench-backup-'));
const cleanUp = () => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
};
process.on('exit', cleanUp);
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(130));
setTimeout(() => {
  console.error(`backup-cost: still running after --max-minutes ${flags['max-minutes']}; stopping`);
  process.exit(1);
}, positive('max-minutes') * 60_000).unref();
const log = (line) => console.error(`[backup-cost ${new Date().toISOString().slice(11, 19)}] ${line}`);

async function startGroup() {
  const ports = await freePorts(5);
  const server = (name, i) => ({ name, listen: [`tcp://127.0.0.1:${ports[2 * i]}`], peer: `tcp://127.0.0.1:${ports[2 * i + 1]}`, dataDir: path.join(dir, name) });
  const config = {
    cluster: 'bench-backup',
    persistence: 'restartable',
    servers: [server('s1', 0), server('s2', 1)],
    voters: [{ name: 'v1', peer: `tcp://127.0.0.1:${ports[4]}`, dataDir: path.join(dir, 'v1') }],
  };
  const file = path.join(dir, 'kiln.config.json');
  writeFileSync(file, JSON.stringify(config));
  const names = [['s1', false], ['s2', false], ['v1', true]];
  await Promise.all(names.map(([name, voter]) => startMember({ cliBin, repoRoot, file, name, voter, logFile: path.join(dir, `${name}.log`), track })));
  return { file, urls: config.servers.map((s) => s.listen[0]), active: await waitInSync(config.servers) };
}

/** The active's name once it holds every server in sync (60 s at most). */
async function waitInSync(servers) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const statuses = await Promise.all(servers.map((s) => statusOf(s.listen[0])));
    const active = statuses.find((st) => st?.state === 'ACTIVE-COORDINATOR' && servers.every((s) => st.group?.inSync.includes(s.name)));
    if (active) return active.name;
    if (Date.now() > deadline) throw new Error('the group did not elect an active with both servers in sync within 60 s');
    await sleep(200);
  }
}

/** Appends EVENTS events in transactions of PER_TXN, LOAD_IN_FLIGHT at once. */
async function loadLog(urls) {
  const client = await connect(urls, { transports: [tcpTransport()], reconnectWindowMs: 20_000, requestTimeoutMs: 60_000 });
  const pad = 'x'.repeat(EVENT_BYTES - 40);
  let next = 0;
  const started = Date.now();
  let reportedAt = started;
  await Promise.all(Array.from({ length: LOAD_IN_FLIGHT }, async () => {
    while (next < EVENTS) {
      const first = next;
      next += PER_TXN;
      const count = Math.min(PER_TXN, EVENTS - first);
      await client.append(`load-${first % 1000}`, Array.from({ length: count }, (_, i) => ({ type: 'Loaded', data: { n: first + i, pad } })));
      if (Date.now() - reportedAt > 5000) {
        reportedAt = Date.now();
        log(`loaded ${Math.min(next, EVENTS)} of ${EVENTS} events`);
      }
    }
  }));
  await client.close();
  return (Date.now() - started) / 1000;
}

/** The steady load: CLIENTS clients, one append in flight each; every answer's [end ms, latency ms] kept. */
async function steadyLoad(urls) {
  const clients = await Promise.all(Array.from({ length: CLIENTS }, () => connect(urls, { transports: [tcpTransport()], reconnectWindowMs: 20_000, requestTimeoutMs: 60_000 })));
  const samples = [];
  const data = { pad: 'y'.repeat(EVENT_BYTES - 40) };
  let failed = 0;
  let running = true;
  const loops = clients.map(async (client, c) => {
    while (running) {
      const t0 = performance.now();
      try {
        await client.append(`steady-${c}`, [{ type: 'Steady', data }]);
        const t1 = performance.now();
        samples.push([t1, t1 - t0]);
      } catch {
        failed++;
      }
    }
  });
  return {
    samples,
    failed: () => failed,
    async stop() {
      running = false;
      await Promise.all(loops);
      await Promise.all(clients.map((c) => c.close()));
    },
  };
}

/** Appends answered in [from, to) (performance.now() ms): rate, p50, p99. */
function windowOf(samples, from, to) {
  const latencies = samples.filter(([end]) => end >= from && end < to).map(([, ms]) => ms).sort((a, b) => a - b);
  const q = (f) => latencies[Math.min(latencies.length - 1, Math.floor(f * latencies.length))] ?? NaN;
  return { seconds: (to - from) / 1000, rate: latencies.length / ((to - from) / 1000), p50: q(0.5), p99: q(0.99) };
}

/** Runs `kiln backup` of the whole log (from the mirror for 'mirror', at most R MiB/s for ':R'); its bytes and seconds as it says them. */
function runBackup(file, source, out) {
  const [from, rate] = source.split(':');
  const args = [cliBin, 'backup', '--config', file, '--out', out, ...(from === 'mirror' ? ['--from-mirror'] : []), ...(rate ? ['--max-rate', rate] : [])];
  const child = track(spawn(process.execPath, args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] }));
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => (stdout += c));
  child.stderr.on('data', (c) => (stderr += c));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => {
      const summary = /: LSN \d+ through (\d+) .*from (\S+)\): \d+ records, (\d+) bytes in ([\d.]+) s/.exec(stdout);
      if (code !== 0 || !summary) return reject(new Error(`kiln backup ${source} exited with ${code}: ${stderr.trim().split('\n').at(-1)}`));
      resolve({ lastLsn: Number(summary[1]), server: summary[2], bytes: Number(summary[3]), seconds: Number(summary[4]) });
    });
  });
}

const group = await startGroup();
log(`group up (active ${group.active}); loading ${EVENTS} events of ${EVENT_BYTES} bytes, ${PER_TXN} to a transaction`);
const loadSeconds = await loadLog(group.urls);
log(`loaded in ${loadSeconds.toFixed(1)} s`);
const load = await steadyLoad(group.urls);
const rows = [];
try {
  await sleep(2000); // warm up
  for (const source of SOURCES) {
    const quietFrom = performance.now();
    await sleep(SECONDS * 1000);
    rows.push({ window: 'no backup', ...windowOf(load.samples, quietFrom, performance.now()) });
    const from = performance.now();
    const backup = runBackup(group.file, source, path.join(dir, `${source.replace(':', '-')}.kbak`));
    // The window ends with the backup, or after SECONDS; the backup runs on to its end either way.
    const ended = await Promise.race([backup.then(() => true, () => true), sleep(SECONDS * 1000).then(() => false)]);
    const figures = windowOf(load.samples, from, performance.now());
    const done = await backup;
    const [kind, rate] = source.split(':');
    rows.push({ window: `backup from the ${kind} (${done.server})${rate ? `, --max-rate ${rate}` : ''}${ended ? '' : ', first ' + SECONDS + ' s'}`, ...figures, backup: done });
    log(`${source}: ${(done.bytes / 1e6).toFixed(0)} MB through LSN ${done.lastLsn} in ${done.seconds} s`);
  }
} finally {
  await load.stop();
}
const f = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
const lines = [
  `${EVENTS} events of ${EVENT_BYTES} bytes (${PER_TXN} to a transaction) loaded in ${f(loadSeconds)} s into 2 servers + 1 voter (restartable); ${CLIENTS} clients, one append of one ${EVENT_BYTES}-byte event in flight each${load.failed() > 0 ? `; ${load.failed()} appends failed` : ''}`,
  '',
  '| window | seconds | appends/s | p50 ms | p99 ms | backup MB | backup MB/s |',
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...rows.map((r) => `| ${r.window} | ${f(r.seconds)} | ${f(r.rate, 0)} | ${f(r.p50, 2)} | ${f(r.p99, 2)} | ${r.backup ? f(r.backup.bytes / 1e6, 0) : ''} | ${r.backup ? f(r.backup.bytes / 1e6 / r.backup.seconds, 0) : ''} |`),
];
console.log(lines.join('\n'));
process.exit(0);
