#!/usr/bin/env node
// `npm run bench`: Kiln (memory and restartable) under the peer harness's append workload
// (../shared/peers), optionally with the peers (Redis, NATS, PostgreSQL) in the same run,
// then a table and the ratios, into a report under bench/out/ (bench/RESULTS.md with
// --update-results). A machine already busy when the run starts makes it refuse (--force runs
// anyway and marks the report). See bench/README.md.
//
//   npm run bench                       # Kiln only (after `npm run build`)
//   npm run bench -- --peers            # + redis-mem, redis, pg (PEER_TARGETS to change)
//   REPEAT=3 npm run bench -- --peers   # medians of 3
//   node bench/run.mjs --help
import { spawn, execFileSync } from 'node:child_process';
import {
  appendFileSync,
  chmodSync,
  cpSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { formatSummary, summarise } from './profile-summary.mjs';
import { makeGroup, sleep, startLoad, startMember, statusOf, waitInSync } from './cluster.mjs';

/** A 1-minute load average above this many per CPU before the run means the machine is busy: no valid run. */
const BUSY_LOAD_PER_CPU = 0.5;
const benchDir = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(benchDir, '..');
const cliBin = path.join(repoRoot, 'packages/cli/dist/bin.js');
const targetModule = path.join(benchDir, 'kiln-target.mjs');

const USAGE = `usage: node bench/run.mjs [--peers] [--no-kiln] [--ws] [--mirrored] [--failover] [--rejoin] [--all]
                           [--profile] [--update-results | --results FILE] [--force] [--help]
  --peers          also run the peers (run-peers.sh, in a copy of the peers folder); or PEERS=1
  --no-kiln        skip the single-server Kiln runs over TCP (with --peers: peers only)
  --ws             also single-server Kiln over ws:// (rows kiln-<mode>-ws; ratios ws/tcp)     (PARTS=ws)
  --mirrored       mirror groups: MIRRORED="memory-m1 restartable-m1 restartable-r3" (m1 = 2 servers
                   + 1 voter, r3 = 3 servers); with --peers and no PEER_TARGETS the peers become
                   "redis-mem redis pg redis-replica pg-sync nats-r3"                        (PARTS=mirrored)
  --failover       kill -9 the active of a 2 servers + voter group FAILOVER_KILLS=10 times  (PARTS=failover)
  --rejoin         a mirror REJOIN_EVENTS=1000000 events behind catches up under load     (PARTS=rejoin)
  --stripes        clusters of 1, 2 and 4 stripes (1 server, then 2 servers + a shared voter each,
                   memory mode), the same load split over 2 and 4 independent one-server clusters,
                   one stripe's rate while another has no active, and a fixed rate per stripe
                   below saturation (weak scaling; STRIPES_RATE=1000 appends/s) (bench/stripes.mjs)
                                                                                           (PARTS=stripes)
  --cross-stripe   transactions over two stripes against the same on one (hash-tagged): tx/s, p50,
                   p99 (8 clients in a closed loop, then both at the same load, XS_RATE=1000 tx/s
                   open loop; the two kinds in turns on one cluster, 4 rounds), and the first
                   commit after SIGKILL of the coordinator's active (bench/cross-stripe.mjs);
                   then the same routes' hops between plain node processes, 1 and 8 at
                   once: the machine's floor for the ratio (bench/hop-floor.mjs)           (PARTS=cross-stripe)
  --backup         what kiln backup of a ~300 MB log costs appends beside it (8 clients, one append
                   in flight each): windows of BACKUP_SECONDS=10 without a backup, and while it
                   copies from the active, from the mirror, and from the active held to
                   5 MiB/s (--max-rate 5) (bench/backup-cost.mjs)                          (PARTS=backup)
  --all            --ws --mirrored --failover --rejoin --stripes --cross-stripe --backup   (PARTS=all)
  --large-data     4 GiB over 1,000,000 streams into one server of 256 MB heap: RSS, cold reads (bench/large-data.mjs)
  --profile        run each Kiln server under node --cpu-prof and summarise the profiles
                   (the profiler costs CPU: the figures of such a run are not comparable)
  --update-results write the report to bench/RESULTS.md (refused when the machine was busy at the start)
  --results FILE   write the report to FILE (default bench/out/<time>-results.md)
  --force          run even though the machine is busy at the start (1-minute load average above
                   ${BUSY_LOAD_PER_CPU} × CPUs); the report then says "machine busy at start" and is no valid run
environment (defaults):
  CLIENTS=8 INFLIGHT=32 EVENTS=200000 SIZE=100   workload "tput"
  LAT_CLIENTS=1 LAT_INFLIGHT=1 LAT_EVENTS=20000  workload "lat"
  WORKLOADS="tput lat" REPEAT=1 STREAMS=1000 WORKERS=1 MAX_SECONDS=120 RUN_TIMEOUT=2*MAX_SECONDS+240
  MODES="memory restartable"       Kiln modes
  KILN_EXPECTED="workload"         expected versions: "workload" (from the workload's versions),
                                   "any" (no check), or both: "workload any"
  KILN_PORT=0                      0 = a free port, read from the server's "listening on" line
  KILN_DATA_ROOT=${os.tmpdir()}              parent of the restartable mode's fresh data dirs
  PEER_TARGETS="redis-mem redis pg" ("all" = every peer of run-peers.sh)
  PEERS_DIR=<repo>/../shared/peers  PEERS_WORK=${path.join(os.tmpdir(), 'kiln-bench-peers')} (copy used to run the peers)`;

// ------------------------------------------------------------------ settings
const { values: flags } = parseArgs({
  options: {
    peers: { type: 'boolean', default: false },
    'no-kiln': { type: 'boolean', default: false },
    ws: { type: 'boolean', default: false },
    mirrored: { type: 'boolean', default: false },
    failover: { type: 'boolean', default: false },
    rejoin: { type: 'boolean', default: false },
    stripes: { type: 'boolean', default: false },
    'cross-stripe': { type: 'boolean', default: false },
    backup: { type: 'boolean', default: false },
    'large-data': { type: 'boolean', default: false },
    all: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    results: { type: 'string' },
    'update-results': { type: 'boolean', default: false },
    force: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});
if (flags.help) {
  console.log(USAGE);
  process.exit(0);
}
const env = process.env;
const int = (name, dflt, min = 1) => {
  const v = env[name] === undefined || env[name] === '' ? dflt : Number(env[name]);
  if (!Number.isInteger(v) || v < min) fatal(`${name} must be an integer >= ${min}, got ${env[name]}`);
  return v;
};
const S = {
  clients: int('CLIENTS', 8),
  inflight: int('INFLIGHT', 32),
  events: int('EVENTS', 200000),
  size: int('SIZE', 100),
  latClients: int('LAT_CLIENTS', 1),
  latInflight: int('LAT_INFLIGHT', 1),
  latEvents: int('LAT_EVENTS', 20000),
  streams: int('STREAMS', 1000),
  workers: int('WORKERS', 1),
  repeat: int('REPEAT', 1),
  maxSeconds: int('MAX_SECONDS', 120),
  port: int('KILN_PORT', 0, 0),
  workloads: words(env.WORKLOADS, 'tput lat'),
  modes: words(env.MODES, 'memory restartable'),
  expected: words(env.KILN_EXPECTED, 'workload'),
};
S.runTimeout = int('RUN_TIMEOUT', S.maxSeconds * 2 + 240);
const withPeers = flags.peers || env.PEERS === '1' || env.PEERS === 'true';
const ALL_PARTS = ['ws', 'mirrored', 'failover', 'rejoin', 'stripes', 'cross-stripe', 'backup'];
const envParts = words(env.PARTS, '-').flatMap((t) => (t === 'all' ? ALL_PARTS : t === '-' ? [] : [t]));
for (const t of envParts) if (!ALL_PARTS.includes(t)) fatal(`PARTS: unknown part ${t} (${ALL_PARTS.join(' ')}, all)`);
const part = Object.fromEntries(ALL_PARTS.map((p) => [p, flags.all || flags[p] || envParts.includes(p)]));
const MIRRORED_ALL = ['memory-m1', 'restartable-m1', 'restartable-r3'];
const mirroredSets = words(env.MIRRORED, MIRRORED_ALL.join(' '));
for (const m of mirroredSets) if (!MIRRORED_ALL.includes(m)) fatal(`MIRRORED: unknown group ${m} (${MIRRORED_ALL.join(' ')})`);
S.failoverKills = int('FAILOVER_KILLS', 10);
S.rejoinEvents = int('REJOIN_EVENTS', 1_000_000);
S.rejoinTxEvents = int('REJOIN_TX_EVENTS', 500);
S.rejoinBaselineS = int('REJOIN_BASELINE_S', 10);
S.rejoinDeadlineS = int('REJOIN_DEADLINE_S', 120);
const ALL_PEERS = ['redis-mem', 'redis', 'redis-replica', 'nats-mem', 'nats-r1', 'nats-r3', 'pg', 'pg-sync'];
const peerTargets = words(env.PEER_TARGETS, part.mirrored ? 'redis-mem redis pg redis-replica pg-sync nats-r3' : 'redis-mem redis pg').flatMap((t) =>
  t === 'all' ? ALL_PEERS : [t],
);
const peersDir = path.resolve(env.PEERS_DIR ?? path.join(repoRoot, '../shared/peers'));
const peersWork = path.resolve(env.PEERS_WORK ?? path.join(os.tmpdir(), 'kiln-bench-peers'));
const dataRoot = path.resolve(env.KILN_DATA_ROOT ?? os.tmpdir());
if (flags.results !== undefined && flags['update-results']) fatal('--results and --update-results do not go together');
for (const w of S.workloads) if (w !== 'tput' && w !== 'lat') fatal(`WORKLOADS: unknown workload ${w} (tput, lat)`);
for (const m of S.modes) if (m !== 'memory' && m !== 'restartable') fatal(`MODES: unknown mode ${m} (memory, restartable)`);
for (const e of S.expected) if (e !== 'workload' && e !== 'any') fatal(`KILN_EXPECTED: unknown value ${e} (workload, any)`);
for (const t of peerTargets) if (!ALL_PEERS.includes(t)) fatal(`PEER_TARGETS: unknown peer ${t} (${ALL_PEERS.join(' ')}, all)`);

// The machine before the run: other work on its CPUs moves every figure, so a run that starts on
// a busy machine is no valid run. It is refused, or with --force run and marked as such.
const loadStart = os.loadavg();
const cpuCount = os.availableParallelism?.() ?? os.cpus().length;
const busyAtStart = loadStart[0] > BUSY_LOAD_PER_CPU * cpuCount;
const busyNote = `machine busy at start: 1-minute load average ${loadStart[0].toFixed(2)} > ${BUSY_LOAD_PER_CPU} × ${cpuCount} CPUs`;
if (busyAtStart && !flags.force) fatal(`${busyNote}; wait until it is idle, or pass --force for a run marked as not valid`);

const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
const outDir = path.join(benchDir, 'out');
mkdirSync(outDir, { recursive: true });
// RESULTS.md holds valid runs only: a forced run on a busy machine stays in bench/out/.
const resultsFile = path.resolve(
  flags.results ?? (flags['update-results'] && !busyAtStart ? path.join(benchDir, 'RESULTS.md') : path.join(outDir, `${stamp}-results.md`)),
);
const kilnJsonl = path.join(outDir, `${stamp}-kiln.jsonl`);
const peersJsonl = path.join(outDir, `${stamp}-peers.jsonl`);
const profDir = path.join(outDir, `${stamp}-profiles`);
const clusterJson = path.join(outDir, `${stamp}-cluster.json`);
/** failover and rejoin results, for the report */
const clusterResults = { failover: null, rejoin: null };

// ------------------------------------------------------------------ child processes
/** Every child we started and that may still run: pid -> { child, group } */
const children = new Map();
const tempDirs = new Set();
let interrupted = false;

function track(child, group = false) {
  children.set(child.pid, { child, group });
  child.once('exit', () => children.delete(child.pid));
  return child;
}
function signalChild(pid, signal) {
  const c = children.get(pid);
  try {
    // A child started `detached` leads its own process group: signal the whole group
    // (run-peers.sh and the servers and bench processes it started).
    process.kill(c?.group ? -pid : pid, signal);
  } catch {
    /* already gone */
  }
}
function killAllNow() {
  for (const pid of [...children.keys()]) signalChild(pid, 'SIGKILL');
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
}
process.on('exit', killAllNow);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    process.exitCode = 130;
    console.error(`\nbench: ${sig}: stopping children`);
    for (const pid of children.keys()) signalChild(pid, 'SIGTERM');
    // run-peers.sh stops its servers on TERM (postgres via pg_ctl); give it time, then KILL.
    setTimeout(() => process.exit(130), 25_000).unref();
    const check = setInterval(() => {
      if (children.size === 0) process.exit(130);
    }, 200);
    check.unref();
  });
}

function waitExit(child, ms) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

/** TERM, then KILL after `ms`. Returns the exit code or signal. */
async function stop(child, ms = 20_000) {
  if (child.exitCode === null && child.signalCode === null) {
    signalChild(child.pid, 'SIGTERM');
    if (!(await waitExit(child, ms))) {
      log(`pid ${child.pid} did not exit ${ms / 1000} s after SIGTERM: SIGKILL`);
      signalChild(child.pid, 'SIGKILL');
      await waitExit(child, 5_000);
    }
  }
  return child.exitCode ?? child.signalCode;
}

/** Runs a command with inherited output, bounded by `timeoutMs`; resolves with its exit code. */
function run(cmd, args, { timeoutMs, group = false, ...opts }) {
  return new Promise((resolve) => {
    const child = track(spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], detached: group, ...opts }), group);
    let timedOut = false;
    const t = setTimeout(() => {
      timedOut = true;
      log(`${path.basename(cmd)} ${args[0] ?? ''}: hard timeout after ${timeoutMs / 1000} s, stopping it`);
      void stop(child, 30_000);
    }, timeoutMs);
    child.once('error', (e) => {
      clearTimeout(t);
      log(`${cmd}: ${e.message}`);
      resolve(127);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(t);
      resolve(timedOut ? 3 : (code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : 1)));
    });
  });
}

// ------------------------------------------------------------------ kiln server
async function startKiln(mode, logFile, ws = false) {
  let dataDir = null;
  if (mode === 'restartable') {
    dataDir = mkdtempSync(path.join(dataRoot, 'kiln-bench-'));
    tempDirs.add(dataDir);
  }
  const nodeArgs = flags.profile ? ['--cpu-prof', '--cpu-prof-dir', profDir] : [];
  const args = [
    ...nodeArgs,
    cliBin,
    'start',
    ...(mode === 'memory' ? ['--memory'] : ['--data', dataDir]),
    '--listen',
    `tcp://127.0.0.1:${S.port}`,
    ...(ws ? ['--listen', 'ws://127.0.0.1:0'] : []),
    '--name',
    `bench-${mode}`,
  ];
  const child = track(spawn(process.execPath, args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] }));
  const logStream = createWriteStream(logFile);
  child.stdout.pipe(logStream, { end: false });
  let buffered = '';
  const listening = new Promise((resolve, reject) => {
    const onData = (chunk) => {
      logStream.write(chunk);
      buffered += chunk.toString('utf8');
      const m = /listening on (tcp:\/\/[^\s,()]+)/.exec(buffered);
      const mw = /listening on .*?(ws:\/\/[^\s,()]+)/.exec(buffered);
      if (m && (!ws || mw)) {
        child.stderr.off('data', onData);
        child.stderr.pipe(logStream, { end: false });
        resolve({ tcp: new URL(m[1]), ws: mw ? mw[1] : null });
      }
    };
    child.stderr.on('data', onData);
    child.once('exit', (code, signal) => reject(new Error(`kiln server exited (${code ?? signal}) before listening:\n${tail(buffered)}`)));
    child.once('error', reject);
  });
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`kiln server did not log "listening on" within 30 s:\n${tail(buffered)}`)), 30_000);
  });
  try {
    const got = await Promise.race([listening, deadline]);
    const url = got.tcp;
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (host !== '127.0.0.1') throw new Error(`kiln server listens on ${url}, not 127.0.0.1`);
    if (got.ws && new URL(got.ws).hostname !== '127.0.0.1') throw new Error(`kiln server listens on ${got.ws}, not 127.0.0.1`);
    return { child, mode, dataDir, endpoint: `${host}:${url.port}`, wsUrl: got.ws, logStream };
  } catch (e) {
    await stop(child, 5_000);
    logStream.end();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

async function stopKiln(k) {
  const how = await stop(k.child, 20_000);
  k.logStream.end();
  let diskBytes = null;
  if (k.dataDir) {
    diskBytes = dirBytes(k.dataDir);
    rmSync(k.dataDir, { recursive: true, force: true });
    tempDirs.delete(k.dataDir);
  }
  return { exit: how, diskBytes };
}

function dirBytes(d) {
  let n = 0;
  for (const e of readdirSync(d, { withFileTypes: true })) {
    const p = path.join(d, e.name);
    n += e.isDirectory() ? dirBytes(p) : statSync(p).size;
  }
  return n;
}

// ------------------------------------------------------------------ runs
const failures = [];
const profiles = [];

function workloadArgs(w) {
  return w === 'lat'
    ? { clients: S.latClients, inflight: S.latInflight, events: S.latEvents }
    : { clients: S.clients, inflight: S.inflight, events: S.events };
}

async function runKiln(transports) {
  if (!existsSync(cliBin)) fatal(`${cliBin} is missing: run \`npm run build\` first`);
  const benchMjs = path.join(peersDir, 'bench.mjs');
  if (!existsSync(benchMjs)) fatal(`${benchMjs} not found: set PEERS_DIR to the peers harness folder`);
  for (const tr of transports)
  for (const expected of S.expected) {
    for (const mode of S.modes) {
      const name = `kiln-${mode}${expected === 'any' ? '-any' : ''}${tr === 'ws' ? '-ws' : ''}`;
      for (let rep = 1; rep <= S.repeat; rep++) {
        for (const w of S.workloads) {
          if (interrupted) return;
          const label = `${name}:${w}#${rep}`;
          const logFile = path.join(outDir, `${stamp}-${name}-${w}-${rep}.log`);
          log(`starting ${name} (fresh) for ${w}#${rep}; server log ${path.relative(repoRoot, logFile)}`);
          let k;
          try {
            k = await startKiln(mode, logFile, tr === 'ws');
          } catch (e) {
            log(`could not start kiln ${mode}: ${e.message}`);
            failures.push(`${label}: server did not start`);
            appendFileSync(kilnJsonl, JSON.stringify({ target: 'kiln', label, status: 'not-started' }) + '\n');
            continue;
          }
          const wl = workloadArgs(w);
          log(`bench ${label} (C=${wl.clients} P=${wl.inflight} N=${wl.events} B=${S.size}) on ${k.endpoint}, server pid ${k.child.pid}`);
          // bench.mjs needs no packages of its own for a --target-module target.
          const rc = await run(
            process.execPath,
            [
              benchMjs,
              '--target', 'kiln',
              '--target-module', targetModule,
              '--endpoints', k.endpoint,
              '--server-pids', String(k.child.pid),
              '--clients', String(wl.clients),
              '--inflight', String(wl.inflight),
              '--events', String(wl.events),
              '--size', String(S.size),
              '--streams', String(S.streams),
              '--workers', String(S.workers),
              '--max-seconds', String(S.maxSeconds),
              '--label', label,
              '--out', kilnJsonl,
            ],
            { cwd: repoRoot, timeoutMs: S.runTimeout * 1000, env: { ...env, KILN_EXPECTED: expected, KILN_URLS: tr === 'ws' ? k.wsUrl : '' } },
          );
          const crashed = k.child.exitCode !== null || k.child.signalCode !== null;
          const { exit, diskBytes } = await stopKiln(k);
          if (crashed) failures.push(`${label}: the kiln server exited during the run (${exit}), see ${path.relative(repoRoot, logFile)}`);
          else if (exit !== 0) failures.push(`${label}: the kiln server exited with ${exit} on SIGTERM, see ${path.relative(repoRoot, logFile)}`);
          if (rc !== 0) failures.push(`${label}: bench.mjs exited with ${rc} (0 ok, 2 setup failure, 3 timeout, 4 errors or partial)`);
          annotateLast(kilnJsonl, label, { serverExit: exit, diskBytes, serverLog: path.relative(repoRoot, logFile) });
          if (flags.profile) collectProfiles(label);
        }
      }
    }
  }
}

// ------------------------------------------------------------------ mirror groups (issue #4)
const groupShape = (set) => ({ mode: set.split('-')[0], servers: set.endsWith('r3') ? 3 : 2, voters: set.endsWith('r3') ? 0 : 1 });

/** Starts a group: every member its own process; waits until it is in sync (60 s). */
async function startGroup({ mode, servers, voters }, tag) {
  const g = await makeGroup({ persistence: mode, servers, voters, dataRoot });
  tempDirs.add(g.dir);
  g.members = new Map();
  g.logBase = path.join(outDir, `${stamp}-${tag}`);
  try {
    await Promise.all([
      ...g.servers.map((s) => startGroupMember(g, s.name, false)),
      ...g.voters.map((v) => startGroupMember(g, v, true)),
    ]);
    g.sync = await waitInSync(g, 60_000);
    return g;
  } catch (e) {
    await stopGroup(g);
    throw e;
  }
}
async function startGroupMember(g, name, voter) {
  const nodeArgs = flags.profile ? ['--cpu-prof', '--cpu-prof-dir', profDir] : [];
  const m = await startMember({ cliBin, repoRoot, file: g.file, name, voter, logFile: `${g.logBase}-${name}.log`, track, nodeArgs });
  g.members.set(name, m);
  return m;
}
/** Stops every member (TERM, KILL after 20 s); returns { exits: {name: code}, diskBytes }. */
async function stopGroup(g) {
  const exits = {};
  await Promise.all([...g.members.values()].map(async (m) => (exits[m.name] = await stop(m.child, 20_000))));
  let diskBytes = null;
  try {
    diskBytes = dirBytes(g.dir);
  } catch {
    /* gone */
  }
  rmSync(g.dir, { recursive: true, force: true });
  tempDirs.delete(g.dir);
  return { exits, diskBytes };
}
const pidsOf = (g) => [...g.members.values()].map((m) => m.child.pid);
/** Client URLs, the active's first. */
const urlsOf = (g, active) => [active.tcp, ...g.servers.filter((s) => s !== active).map((s) => s.tcp)];

async function runMirrored() {
  const benchMjs = path.join(peersDir, 'bench.mjs');
  if (!existsSync(cliBin)) fatal(`${cliBin} is missing: run \`npm run build\` first`);
  for (const expected of S.expected) {
    for (const set of mirroredSets) {
      const shape = groupShape(set);
      const name = `kiln-${set}${expected === 'any' ? '-any' : ''}`;
      for (let rep = 1; rep <= S.repeat; rep++) {
        for (const w of S.workloads) {
          if (interrupted) return;
          const label = `${name}:${w}#${rep}`;
          log(`starting group ${name} (${shape.servers} servers + ${shape.voters} voter(s), ${shape.mode}) for ${w}#${rep}; logs bench/out/${stamp}-${name}-${w}-${rep}-*.log`);
          let g;
          try {
            g = await startGroup(shape, `${name}-${w}-${rep}`);
          } catch (e) {
            log(`could not start group ${name}: ${e.message}`);
            failures.push(`${label}: group did not start or get in sync: ${e.message.split('\n')[0]}`);
            appendFileSync(kilnJsonl, JSON.stringify({ target: 'kiln', label, status: 'not-started' }) + '\n');
            continue;
          }
          const active = g.sync.active;
          log(`group in sync after ${g.sync.ms} ms; active ${active.name}; pids ${pidsOf(g).join(',')}`);
          const wl = workloadArgs(w);
          const rc = await run(
            process.execPath,
            [
              benchMjs,
              '--target', 'kiln',
              '--target-module', targetModule,
              '--endpoints', new URL(active.tcp).host,
              '--server-pids', pidsOf(g).join(','),
              '--clients', String(wl.clients),
              '--inflight', String(wl.inflight),
              '--events', String(wl.events),
              '--size', String(S.size),
              '--streams', String(S.streams),
              '--workers', String(S.workers),
              '--max-seconds', String(S.maxSeconds),
              '--label', label,
              '--out', kilnJsonl,
            ],
            {
              cwd: repoRoot,
              timeoutMs: S.runTimeout * 1000,
              env: { ...env, KILN_EXPECTED: expected, KILN_URLS: urlsOf(g, active).join(','), KILN_VOTERS: String(shape.voters) },
            },
          );
          // The group must still be in sync with the same active after the run.
          let after = null;
          try {
            after = await waitInSync(g, 15_000);
          } catch (e) {
            failures.push(`${label}: after the run: ${e.message}`);
          }
          if (after && after.active !== active) failures.push(`${label}: the active changed during the run (${active.name} -> ${after.active.name})`);
          const crashed = [...g.members.values()].filter((m) => m.child.exitCode !== null || m.child.signalCode !== null).map((m) => m.name);
          const { exits, diskBytes } = await stopGroup(g);
          if (crashed.length) failures.push(`${label}: member(s) ${crashed.join(', ')} exited during the run`);
          for (const [n, x] of Object.entries(exits)) if (x !== 0 && !crashed.includes(n)) failures.push(`${label}: member ${n} exited with ${x} on SIGTERM`);
          if (rc !== 0) failures.push(`${label}: bench.mjs exited with ${rc} (0 ok, 2 setup failure, 3 timeout, 4 errors or partial)`);
          annotateLast(kilnJsonl, label, { serverExit: exits, diskBytes: shape.mode === 'restartable' ? diskBytes : null, serverLog: `bench/out/${stamp}-${name}-${w}-${rep}-*.log`, activeAfter: after?.status?.group ?? null });
          if (flags.profile) collectProfiles(label);
        }
      }
    }
  }
}

/** Resolves when `pred()` is true (polled every 20 ms), or false at the deadline. */
async function until(pred, ms) {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    if (pred()) return true;
    await sleep(20);
  }
  return pred();
}

async function runFailover() {
  const { connect } = await import('@kiln/core/client');
  const { tcpTransport } = await import('@kiln/transport-tcp');
  const shape = { mode: 'restartable', servers: 2, voters: 1 };
  const res = { kills: S.failoverKills, samples: [], errors: 0, lastError: null, note: null };
  clusterResults.failover = res;
  log(`failover: group of 2 servers + voter (restartable, defaults), ${S.failoverKills} × kill -9 of the active`);
  let g;
  try {
    g = await startGroup(shape, 'failover');
  } catch (e) {
    res.note = `group did not start: ${e.message.split('\n')[0]}`;
    failures.push(`failover: ${res.note}`);
    return;
  }
  const client = await connect(g.servers.map((s) => s.tcp), { transports: [tcpTransport()], name: 'bench-failover', reconnectWindowMs: 60_000, requestTimeoutMs: 60_000 });
  const acks = []; // [startMs, endMs]
  let stopLoop = false;
  const payload = Buffer.alloc(S.size, 0x62);
  const loop = (async () => {
    while (!stopLoop) {
      const st = performance.now();
      try {
        await client.append('failover', [{ type: 'Ev', data: payload }]);
        acks.push([st, performance.now()]);
      } catch (e) {
        res.errors++;
        res.lastError = String(e?.message ?? e);
        await sleep(10);
      }
    }
  })();
  try {
    let sync = g.sync;
    for (let i = 1; i <= S.failoverKills && !interrupted; i++) {
      const n0 = acks.length;
      if (!(await until(() => acks.length >= n0 + 20, 20_000))) throw new Error(`kill ${i}: the client got no acks before the kill (20 s)`);
      const victim = sync.active;
      const m = g.members.get(victim.name);
      const t0 = performance.now();
      signalChild(m.child.pid, 'SIGKILL');
      const ok = await until(() => acks.some((a) => a[0] > t0), 60_000);
      if (!ok) throw new Error(`kill ${i}: no append acknowledged within 60 s of killing ${victim.name}`);
      const first = acks.find((a) => a[0] > t0);
      const ms = first[1] - t0;
      await waitExit(m.child, 5_000);
      // who is active now
      const other = g.servers.find((s) => s !== victim);
      const st = await statusOf(other.tcp);
      res.samples.push({ kill: i, killed: victim.name, newActive: st?.state === 'ACTIVE-COORDINATOR' ? other.name : `? (${st?.state})`, ms, term: st?.term ?? null });
      log(`failover ${i}: killed ${victim.name}; first ack of an append sent after the kill ${ms.toFixed(0)} ms later; ${other.name} is ${st?.state} in term ${st?.term}`);
      await startGroupMember(g, victim.name, false);
      sync = await waitInSync(g, 90_000);
    }
  } catch (e) {
    res.note = e.message.split('\n')[0];
    failures.push(`failover: ${res.note}`);
  } finally {
    stopLoop = true;
    await Promise.race([loop, sleep(65_000)]);
    await client.close().catch(() => {});
    const { exits } = await stopGroup(g);
    res.exits = exits;
    res.appends = acks.length;
  }
}

async function runRejoin() {
  const { connect } = await import('@kiln/core/client');
  const { tcpTransport } = await import('@kiln/transport-tcp');
  const shape = { mode: 'restartable', servers: 2, voters: 1 };
  const K = S.rejoinTxEvents;
  const res = { target: S.rejoinEvents, txEvents: K, note: null };
  clusterResults.rejoin = res;
  log(`rejoin: group of 2 servers + voter (restartable); mirror stopped, ${S.rejoinEvents} events loaded in transactions of ${K}, then caught up under load`);
  let g;
  try {
    g = await startGroup(shape, 'rejoin');
  } catch (e) {
    res.note = `group did not start: ${e.message.split('\n')[0]}`;
    failures.push(`rejoin: ${res.note}`);
    return;
  }
  let load = null;
  try {
    const active = g.sync.active;
    const mirror = g.servers.find((s) => s !== active);
    res.active = active.name;
    res.mirror = mirror.name;
    const mm = g.members.get(mirror.name);
    res.mirrorStopExit = await stop(mm.child, 20_000);
    const st0 = await statusOf(active.tcp);
    const lsnStop = st0.group?.mirrors?.find((x) => x.name === mirror.name)?.ackedLsn ?? st0.lastLsn;
    const lsnBefore = st0.lastLsn;
    // load the backlog: K-event transactions, 16 in flight, deadline REJOIN_LOAD_DEADLINE_S
    const loadDeadline = int('REJOIN_LOAD_DEADLINE_S', 300) * 1000;
    const c = await connect(active.tcp, { transports: [tcpTransport()], name: 'bench-preload', requestTimeoutMs: 120_000 });
    const payload = Buffer.alloc(S.size, 0x63);
    const events = Array.from({ length: K }, () => ({ type: 'Ev', data: payload }));
    const txTotal = Math.ceil(S.rejoinEvents / K);
    let sent = 0;
    let done = 0;
    const t0 = Date.now();
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (sent < txTotal && Date.now() - t0 < loadDeadline) {
          const i = sent++;
          await c.append(`pre-${i % 1000}`, events);
          done++;
        }
      }),
    );
    await c.close();
    res.preloadSeconds = (Date.now() - t0) / 1000;
    res.preloadEvents = done * K;
    res.preloadRate = res.preloadEvents / res.preloadSeconds;
    if (done < txTotal) res.note = `preload stopped at its deadline: ${res.preloadEvents} of ${S.rejoinEvents} events`;
    log(`rejoin: loaded ${res.preloadEvents} events in ${res.preloadSeconds.toFixed(1)} s (${Math.round(res.preloadRate)} events/s)`);
    const lsnAfterPreload = (await statusOf(active.tcp)).lastLsn;
    // LSN range (lsnBefore, lsnAfterPreload] holds K-event transactions; every later LSN one event.
    const eventsUpTo = (lsn) => Math.max(0, Math.min(lsn, lsnAfterPreload) - lsnBefore) * K + Math.max(0, lsn - lsnAfterPreload);
    load = await startLoad(urlsOf(g, active), { clients: S.clients, inflight: S.inflight, size: S.size, streams: S.streams });
    await sleep(2000); // ramp-up, unrecorded
    const b0 = load.state.acked;
    const tb = Date.now();
    await sleep(S.rejoinBaselineS * 1000);
    res.baselineRate = ((load.state.acked - b0) * 1000) / (Date.now() - tb);
    log(`rejoin: baseline ${Math.round(res.baselineRate)} appends/s over ${S.rejoinBaselineS} s (8×32 load, mirror stopped)`);
    const stBase = await statusOf(active.tcp);
    const behind = eventsUpTo(stBase.lastLsn) - eventsUpTo(lsnStop);
    res.behindEvents = behind;
    res.lsnAtRestart = stBase.lastLsn;
    // restart the mirror under load
    const a0 = load.state.acked;
    const tr = Date.now();
    await startGroupMember(g, mirror.name, false);
    res.samples = [];
    let insyncAt = null;
    let final = null;
    while (Date.now() - tr < S.rejoinDeadlineS * 1000) {
      const st = await statusOf(active.tcp);
      const mv = st?.group?.mirrors?.find((x) => x.name === mirror.name);
      if (mv) res.samples.push({ t: (Date.now() - tr) / 1000, ackedLsn: mv.ackedLsn, lag: mv.lag, inSync: mv.inSync, acked: load.state.acked - a0 });
      if (mv?.inSync && st.group.inSync.includes(mirror.name)) {
        insyncAt = Date.now();
        final = { st, mv };
        break;
      }
      await sleep(500);
    }
    const acksDuring = load.state.acked - a0;
    const T = ((insyncAt ?? Date.now()) - tr) / 1000;
    res.catchupSeconds = T;
    res.inSync = insyncAt !== null;
    res.loadDuringRate = acksDuring / T;
    res.loadRatio = res.loadDuringRate / res.baselineRate;
    res.loadErrors = load.state.errors;
    res.loadLastError = load.state.lastError;
    const lastMv = final?.mv ?? res.samples.at(-1);
    res.caughtUpEvents = lastMv ? eventsUpTo(lastMv.ackedLsn) - eventsUpTo(lsnStop) : 0;
    res.catchupRate = res.caughtUpEvents / T;
    res.lsns = { lsnStop, lsnBefore, lsnAfterPreload, atRestart: res.lsnAtRestart, final: lastMv?.ackedLsn ?? null };
    // The backlog as of the restart: when did the mirror acknowledge it (first poll at or past it)?
    const backlogDone = res.samples.find((x) => x.ackedLsn >= res.lsnAtRestart);
    res.backlogSeconds = backlogDone ? backlogDone.t : null;
    res.backlogRate = backlogDone ? behind / backlogDone.t : null;
    const preDone = res.samples.find((x) => x.ackedLsn >= lsnAfterPreload);
    res.preloadCaughtSeconds = preDone ? preDone.t : null;
    if (!res.inSync) {
      res.note = `${res.note ? res.note + '; ' : ''}the mirror was not in sync ${S.rejoinDeadlineS} s after its restart`;
      failures.push(`rejoin: ${res.note}`);
    }
    log(`rejoin: mirror ${res.inSync ? 'in sync' : 'NOT in sync'} after ${T.toFixed(1)} s: ${res.caughtUpEvents} events caught up = ${Math.round(res.catchupRate)} events/s; active ${Math.round(res.loadDuringRate)} appends/s = ${(res.loadRatio * 100).toFixed(0)} % of baseline`);
  } catch (e) {
    res.note = `${res.note ? res.note + '; ' : ''}${e.message.split('\n')[0]}`;
    failures.push(`rejoin: ${e.message.split('\n')[0]}`);
  } finally {
    if (load) await load.stop();
    const { exits } = await stopGroup(g);
    res.exits = exits;
  }
}

/** Adds fields to the JSON line bench.mjs wrote for `label` (if it wrote one). */
function annotateLast(file, label, extra) {
  if (!existsSync(file)) return;
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
  for (let i = lines.length - 1; i >= 0; i--) {
    const r = JSON.parse(lines[i]);
    if (r.label === label) {
      lines[i] = JSON.stringify({ ...r, kiln: extra });
      writeFileSync(file, lines.join('\n') + '\n');
      return;
    }
  }
  failures.push(`${label}: bench.mjs wrote no result`);
  appendFileSync(file, JSON.stringify({ target: 'kiln', label, status: 'no-result', kiln: extra }) + '\n');
}

function collectProfiles(label) {
  if (!existsSync(profDir)) return;
  for (const f of readdirSync(profDir)) {
    if (!f.endsWith('.cpuprofile') || profiles.some((p) => p.file === f)) continue;
    const s = summarise(JSON.parse(readFileSync(path.join(profDir, f), 'utf8')));
    profiles.push({ file: f, label, summary: s });
    console.log(`\nCPU profile of the server for ${label} (${path.relative(repoRoot, path.join(profDir, f))}):\n${formatSummary(s, 15)}\n`);
  }
}

async function runPeers() {
  if (!existsSync(path.join(peersDir, 'run-peers.sh'))) fatal(`${peersDir}/run-peers.sh not found: set PEERS_DIR`);
  const missing = [];
  const need = new Set(peerTargets.map((t) => t.split('-')[0]));
  if (need.has('redis') && !which('redis-server')) missing.push('redis-server');
  if (need.has('nats') && !which('nats-server')) missing.push('nats-server');
  if ((need.has('pg') || need.has('pg-sync')) && !existsSync(`${env.PG_BIN ?? '/usr/lib/postgresql/15/bin'}/postgres`)) missing.push('postgresql');
  if (missing.length) {
    failures.push(`peers: missing ${missing.join(', ')}`);
    log(`peers: missing ${missing.join(', ')}: apt-get install -y redis-server nats-server postgresql (see ${peersDir}/README.md)`);
    return;
  }
  // The peers folder is read-only input: run it from a copy (with its own node_modules).
  mkdirSync(peersWork, { recursive: true });
  cpSync(peersDir, peersWork, {
    recursive: true,
    force: true,
    filter: (src) => !/^(node_modules|data|results)([/\\]|$)/.test(path.relative(peersDir, src)),
  });
  chmodRecursive(peersWork);
  const lock = readFileSync(path.join(peersWork, 'package-lock.json'));
  const lockHash = createHash('sha256').update(lock).digest('hex');
  const marker = path.join(peersWork, 'node_modules', '.kiln-bench-lock');
  if (!existsSync(marker) || readFileSync(marker, 'utf8') !== lockHash) {
    log(`peers: npm ci in ${peersWork}`);
    const rc = await run('npm', ['ci', '--no-audit', '--no-fund'], { cwd: peersWork, timeoutMs: 300_000 });
    if (rc !== 0) {
      failures.push(`peers: npm ci failed (${rc})`);
      return;
    }
    writeFileSync(marker, lockHash);
  }
  const perRun = S.runTimeout + 90;
  const timeoutMs = peerTargets.length * S.workloads.length * S.repeat * perRun * 1000;
  log(`peers: ${peerTargets.join(' ')} via ${peersWork}/run-peers.sh -> ${path.relative(repoRoot, peersJsonl)}`);
  const rc = await run('bash', [path.join(peersWork, 'run-peers.sh'), ...peerTargets], {
    cwd: peersWork,
    group: true,
    timeoutMs,
    env: {
      ...env,
      CLIENTS: String(S.clients),
      INFLIGHT: String(S.inflight),
      EVENTS: String(S.events),
      SIZE: String(S.size),
      LAT_CLIENTS: String(S.latClients),
      LAT_INFLIGHT: String(S.latInflight),
      LAT_EVENTS: String(S.latEvents),
      STREAMS: String(S.streams),
      WORKERS: String(S.workers),
      WORKLOADS: S.workloads.join(' '),
      REPEAT: String(S.repeat),
      MAX_SECONDS: String(S.maxSeconds),
      RUN_TIMEOUT: String(S.runTimeout),
      DATA_ROOT: path.join(peersWork, 'data'),
      OUT: peersJsonl,
    },
  });
  if (rc !== 0) failures.push(`peers: run-peers.sh exited with ${rc}`);
  const rows = readRows(peersJsonl);
  for (const t of peerTargets) {
    for (const w of S.workloads) {
      const got = rows.filter((r) => r.target === t && workloadOf(r) === w);
      if (got.length < S.repeat) failures.push(`peers: ${t} ${w}: ${got.length} of ${S.repeat} runs recorded`);
      for (const r of got) if (r.status !== 'ok') failures.push(`peers: ${t} ${r.label}: status ${r.status}`);
    }
  }
}

function chmodRecursive(d) {
  for (const e of readdirSync(d, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name === 'data') continue;
    const p = path.join(d, e.name);
    chmodSync(p, e.isDirectory() ? 0o755 : statSync(p).mode | 0o200);
    if (e.isDirectory()) chmodRecursive(p);
  }
  chmodSync(d, 0o755);
}

function which(cmd) {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

// ------------------------------------------------------------------ table
function readRows(file) {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l));
}
/** row name: kiln-<mode>[-any] for Kiln (from the label), the target for a peer */
const nameOf = (r) => (r.label?.includes(':') ? r.label.split(':')[0] : r.target);
const workloadOf = (r) => (r.label?.includes(':') ? r.label.split(':')[1] : (r.label ?? '')).split('#')[0];

function groupRows(rows) {
  const groups = new Map();
  for (const r of rows) {
    const k = `${nameOf(r)}|${workloadOf(r)}`;
    if (!groups.has(k)) groups.set(k, { name: nameOf(r), workload: workloadOf(r), runs: [] });
    groups.get(k).runs.push(r);
  }
  for (const g of groups.values()) {
    const ok = g.runs.filter((r) => r.settings).sort((a, b) => a.appendsPerSec - b.appendsPerSec);
    g.median = ok.length ? ok[Math.floor((ok.length - 1) / 2)] : null;
    g.min = ok.length ? ok[0].appendsPerSec : null;
    g.max = ok.length ? ok[ok.length - 1].appendsPerSec : null;
  }
  return groups;
}

const usPerAppend = (r) => (r?.server && r.acked ? (r.server.cpuSeconds * 1e6) / r.acked : null);
/** The load generator's CPU per acked append, µs: the client library's cost (Kiln's or the peer's), plus the harness's. */
const genUsPerAppend = (r) => (r?.generatorCpuSeconds != null && r.acked ? (r.generatorCpuSeconds * 1e6) / r.acked : null);
const f = (x, d = 2) => (x == null || Number.isNaN(x) ? 'n/a' : x.toFixed(d));
const int0 = (x) => (x == null ? 'n/a' : Math.round(x).toLocaleString('en-US'));

function storedCheck(r) {
  // Kiln's count() returns a number, the peers' an object per server ({ primary, replica ... }).
  const stored = typeof r.stored === 'number' ? { server: r.stored } : r.stored;
  if (stored == null) return 'n/a';
  if (typeof stored !== 'object' || stored.error) return `error: ${String(stored.error ?? stored).slice(0, 60)}`;
  const expect = (r.warmup?.acked ?? 0) + r.acked;
  const bad = Object.entries(stored).filter(([, n]) => n !== expect);
  return bad.length ? bad.map(([k, n]) => `${k} ${n} ≠ ${expect}`).join(', ') : '= acked';
}

function tableLines(groups) {
  const order = [
    'kiln-memory', 'kiln-restartable', 'kiln-memory-any', 'kiln-restartable-any',
    'kiln-memory-ws', 'kiln-restartable-ws', 'kiln-memory-any-ws', 'kiln-restartable-any-ws',
    'kiln-memory-m1', 'kiln-restartable-m1', 'kiln-restartable-r3', 'kiln-memory-m1-any', 'kiln-restartable-m1-any', 'kiln-restartable-r3-any',
    ...ALL_PEERS,
  ];
  const list = [...groups.values()].sort(
    (a, b) => a.workload.localeCompare(b.workload) * -1 || order.indexOf(a.name) - order.indexOf(b.name),
  );
  const lines = [
    ...(busyAtStart ? [`**${busyNote}: these figures are not a valid run.**`, ''] : []),
    '| target | workload | appends/s | p50 ms | p99 ms | p99.9 ms | srv CPU µs/append | srv cores | srv peak RSS MiB | gen CPU µs/append | gen CPU s | run s | status | stored |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |',
  ];
  for (const g of list) {
    const r = g.median;
    if (!r) {
      lines.push(`| ${g.name} | ${g.workload} | | | | | | | | | | | ${g.runs.map((x) => x.status).join(', ')} | |`);
      continue;
    }
    const L = r.latencyMs;
    const n = g.runs.length;
    const range = n > 1 ? ` (${int0(g.min)}–${int0(g.max)}, n=${n})` : '';
    const s = r.server;
    const st = g.runs.map((x) => x.status + (x.failed ? ` (${x.failed} failed)` : ''));
    const status = st.every((x) => x === 'ok') ? 'ok' : st.join('; ');
    lines.push(
      `| ${g.name} | ${g.workload} | ${int0(r.appendsPerSec)}${range} | ${f(L.p50, 3)} | ${f(L.p99, 3)} | ${f(L.p999, 3)} | ${f(usPerAppend(r), 1)} | ${s ? f(s.cpuSeconds / r.seconds, 2) : 'n/a'} | ${s ? f(s.peakRssBytes / 1048576, 1) : 'n/a'} | ${f(genUsPerAppend(r), 1)} | ${f(r.generatorCpuSeconds, 2)} | ${f(r.seconds, 1)} | ${status} | ${storedCheck(r)} |`,
    );
  }
  return lines;
}

/** The goals of issues #3 and #4: [label, numerator row, denominator row, metric, goal, 'min'|'max'] */
function goalChecks() {
  const c = [];
  for (const mode of ['memory', 'restartable']) {
    for (const w of S.workloads) {
      c.push([`ws/tcp ${mode} ${w} appends/s`, `kiln-${mode}-ws`, `kiln-${mode}`, w, 'tput', 0.9, 'min']);
      c.push([`ws/tcp ${mode} ${w} p99`, `kiln-${mode}-ws`, `kiln-${mode}`, w, 'p99', 1.2, 'max']);
    }
  }
  for (const w of S.workloads) {
    c.push([`memory 1 mirror / single ${w}`, 'kiln-memory-m1', 'kiln-memory', w, 'tput', 0.8, 'min']);
    c.push([`restartable 1 mirror / single ${w}`, 'kiln-restartable-m1', 'kiln-restartable', w, 'tput', 0.8, 'min']);
    c.push([`memory 1 mirror / redis-replica ${w}`, 'kiln-memory-m1', 'redis-replica', w, 'tput', 1.0, 'min']);
    c.push([`restartable 1 mirror / pg-sync ${w}`, 'kiln-restartable-m1', 'pg-sync', w, 'tput', 5.0, 'min']);
    c.push([`restartable 3 servers / nats-r3 ${w}`, 'kiln-restartable-r3', 'nats-r3', w, 'tput', 1.0, 'min']);
  }
  return c;
}

function goalLines(groups) {
  const lines = [
    '| check | workload | ratio | goal | met |',
    '| --- | --- | ---: | ---: | --- |',
  ];
  let any = false;
  for (const [label, a, b, w, metric, goal, kind] of goalChecks()) {
    const ga = groups.get(`${a}|${w}`)?.median;
    const gb = groups.get(`${b}|${w}`)?.median;
    if (!ga || !gb) continue;
    any = true;
    const x = metric === 'tput' ? ga.appendsPerSec / gb.appendsPerSec : ga.latencyMs.p99 / gb.latencyMs.p99;
    const met = kind === 'min' ? x >= goal : x <= goal;
    const flag = ga.status !== 'ok' || gb.status !== 'ok' ? ' (run not ok)' : '';
    lines.push(`| ${a} / ${b}${flag}: ${metric === 'tput' ? 'appends/s' : 'p99'} | ${w} | ${x.toFixed(2)}× | ${kind === 'min' ? '≥' : '≤'} ${goal}× | ${met ? 'yes' : '**no**'} |`);
  }
  return any ? lines : ['(no ws/mirrored pair measured in this run)'];
}

function clusterLines() {
  const out = [];
  const fo = clusterResults.failover;
  if (fo) {
    const ms = fo.samples.map((x) => x.ms).sort((a, b) => a - b);
    const med = ms.length ? (ms.length % 2 ? ms[(ms.length - 1) / 2] : (ms[ms.length / 2 - 1] + ms[ms.length / 2]) / 2) : null;
    const max = ms.length ? ms[ms.length - 1] : null;
    fo.medianMs = med;
    fo.maxMs = max;
    out.push(
      '## Failover (issue #4)',
      '',
      `Group: 2 servers + 1 voter, restartable, default timings (electionTimeMs 5000, mirrorTimeoutMs 1000, leaseMs 800). One client (all server URLs), 1 append in flight, continuously. Each round: \`kill -9\` the active; failover time = kill → acknowledgement of the first append *sent after* the kill (so it is conservative by at most one append's latency; an ack of the append in flight at the kill could still come from the dying process's socket buffer); then the killed server is restarted and the next round starts once both servers are in the in-sync set again.`,
      '',
      '| kill | killed | new active | term | kill → first ack ms |',
      '| ---: | --- | --- | ---: | ---: |',
      ...fo.samples.map((x) => `| ${x.kill} | ${x.killed} | ${x.newActive} | ${x.term ?? 'n/a'} | ${x.ms.toFixed(0)} |`),
      '',
      `Kills done: ${fo.samples.length} of ${fo.kills}. **Median ${med == null ? 'n/a' : (med / 1000).toFixed(2) + ' s'}, max ${max == null ? 'n/a' : (max / 1000).toFixed(2) + ' s'}** (goal ≤ 2 s: ${max == null ? 'not measured' : max <= 2000 ? 'met' : med <= 2000 ? 'median met, max **not met**' : '**not met**'}). Appends acknowledged in the whole phase: ${fo.appends ?? 'n/a'}; appends that failed (rejected to the caller, then retried by the bench): ${fo.errors}${fo.lastError ? ` (last: \`${fo.lastError}\`)` : ''}.${fo.note ? ` **Phase stopped early: ${fo.note}**` : ''}`,
      '',
    );
  }
  const rj = clusterResults.rejoin;
  if (rj) {
    const n = (x) => (x == null ? 'n/a' : Math.round(x).toLocaleString('en-US'));
    out.push(
      '## Rejoin catch-up (issue #4)',
      '',
      `Group: 2 servers + 1 voter, restartable, defaults. The mirror (${rj.mirror ?? '?'}) is stopped (SIGTERM); ${n(rj.preloadEvents)} events are appended to the active as **transactions of ${rj.txEvents} events** (16 in flight; ${n(rj.preloadRate)} events/s, ${rj.preloadSeconds?.toFixed(1) ?? 'n/a'} s) — multi-event transactions only to load quickly. Then the standard ${S.clients}×${S.inflight} load (1-event appends of ${S.size} bytes, expectedVersion 'any', in-process client) runs: 2 s ramp-up, ${S.rejoinBaselineS} s baseline, then the mirror is restarted under the same load. Catch-up = restart → the active lists the mirror in its in-sync set; events caught up = events in the mirror's missing LSN range (its acked LSN at the end, from the active's status, polled every 0.5 s).`,
      '',
      '| figure | value | goal |',
      '| --- | ---: | --- |',
      `| events behind when the mirror restarted | ${n(rj.behindEvents)} | 1,000,000 |`,
      `| catch-up time, restart → in sync | ${rj.catchupSeconds?.toFixed(1) ?? 'n/a'} s${rj.inSync ? '' : ' (NOT in sync at the deadline)'} | |`,
      `| events caught up | ${n(rj.caughtUpEvents)} | |`,
      `| catch-up rate, restart → in sync (or the deadline) | ${n(rj.catchupRate)} events/s | ≥ 20,000 (${rj.catchupRate >= 20000 && rj.inSync ? 'met' : '**not met**'}) |`,
      `| the ${rj.txEvents}-event-transaction part (${n(rj.preloadEvents)} events) acknowledged by the mirror after | ${rj.preloadCaughtSeconds == null ? 'not reached' : rj.preloadCaughtSeconds.toFixed(1) + ' s (±0.5 s)'} | |`,
      `| the whole backlog as of the restart acknowledged after | ${rj.backlogSeconds == null ? 'not reached' : `${rj.backlogSeconds.toFixed(1)} s = ${n(rj.backlogRate)} events/s`} | |`,
      `| active, baseline (mirror down) | ${n(rj.baselineRate)} appends/s | |`,
      `| active, during catch-up | ${n(rj.loadDuringRate)} appends/s = ${rj.loadRatio == null ? 'n/a' : (rj.loadRatio * 100).toFixed(0) + ' %'} of baseline | ≥ 50 % (${rj.loadRatio >= 0.5 ? 'met' : '**not met**'}) |`,
      `| load errors | ${rj.loadErrors ?? 'n/a'}${rj.loadLastError ? ` (last: \`${rj.loadLastError}\`)` : ''} | |`,
      '',
      ...(rj.samples?.length
        ? ['Mirror progress (from the active\'s status): ' + rj.samples.filter((_, i, a) => i % Math.max(1, Math.ceil(a.length / 12)) === 0 || i === a.length - 1).map((x) => `${x.t.toFixed(1)} s: acked LSN ${x.ackedLsn}, lag ${x.lag}${x.inSync ? ' (in sync)' : ''}`).join('; ') + '.', '']
        : []),
      ...(rj.note ? [`**Note: ${rj.note}**`, ''] : []),
    );
  }
  return out;
}

function ratioLines(groups) {
  const pairs = [];
  for (const suffix of ['', '-any']) {
    pairs.push([`kiln-restartable${suffix}`, 'redis'], [`kiln-memory${suffix}`, 'redis-mem'], [`kiln-restartable${suffix}`, 'pg']);
  }
  const lines = [
    '| workload | Kiln / peer | appends/s | p50 | p99 | p99.9 | srv CPU µs/append | gen CPU µs/append |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  let any = false;
  for (const w of S.workloads) {
    for (const [a, b] of pairs) {
      const ga = groups.get(`${a}|${w}`)?.median;
      const gb = groups.get(`${b}|${w}`)?.median;
      if (!ga || !gb) continue;
      any = true;
      const q = (x, y) => (x == null || y == null || y === 0 ? 'n/a' : `${(x / y).toFixed(2)}×`);
      const flag = ga.status !== 'ok' || gb.status !== 'ok' ? ' (run not ok)' : '';
      lines.push(
        `| ${w} | ${a} / ${b}${flag} | ${q(ga.appendsPerSec, gb.appendsPerSec)} | ${q(ga.latencyMs.p50, gb.latencyMs.p50)} | ${q(ga.latencyMs.p99, gb.latencyMs.p99)} | ${q(ga.latencyMs.p999, gb.latencyMs.p999)} | ${q(usPerAppend(ga), usPerAppend(gb))} | ${q(genUsPerAppend(ga), genUsPerAppend(gb))} |`,
      );
    }
  }
  return any ? lines : ['(no Kiln/peer pair measured in this run)'];
}

// ------------------------------------------------------------------ report
function sh(cmd) {
  try {
    return execFileSync('sh', ['-c', cmd], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'n/a';
  }
}

function machine() {
  const cpu = os.cpus();
  const dev = sh(`df -PT ${JSON.stringify(dataRoot)} | awk 'NR==2 {print $1" ("$2")"}'`);
  const blk = path.basename(dev.split(' ')[0] ?? '').replace(/\d+$/, '');
  const rot = sh(`cat /sys/block/${blk}/queue/rotational 2>/dev/null`);
  return {
    host: `${os.type()} ${os.release()} ${os.arch()}`,
    distro: sh(`. /etc/os-release && echo "$PRETTY_NAME"`),
    cpus: `${os.availableParallelism?.() ?? cpu.length} × ${cpu[0]?.model ?? 'n/a'} (nproc ${sh('nproc')})`,
    memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    node: process.version,
    disk: `Kiln data under ${dataRoot} on ${dev}${rot === '0' || rot === '1' ? ` (kernel: queue/rotational=${rot})` : ''}`,
  };
}

function writeReport(groups, startedAt, seconds) {
  const m = machine();
  const cmd = [
    ...Object.entries({
      CLIENTS: S.clients, INFLIGHT: S.inflight, EVENTS: S.events, LAT_EVENTS: S.latEvents, REPEAT: S.repeat,
    })
      .filter(([k, v]) => env[k] !== undefined && String(v) !== '')
      .map(([k, v]) => `${k}=${v}`),
    ...['MODES', 'KILN_EXPECTED', 'PEER_TARGETS', 'WORKLOADS', 'SIZE', 'STREAMS', 'WORKERS', 'MAX_SECONDS'].filter((k) => env[k]).map((k) => `${k}=${JSON.stringify(env[k])}`),
    ...['PARTS', 'MIRRORED', 'FAILOVER_KILLS', 'REJOIN_EVENTS', 'REJOIN_TX_EVENTS', 'BACKUP_SECONDS'].filter((k) => env[k]).map((k) => `${k}=${JSON.stringify(env[k])}`),
    'npm run bench',
    ...(withPeers || flags.profile || flags.force || flags['update-results'] || flags['no-kiln'] || flags.all || ALL_PARTS.some((p) => flags[p]) ? ['--'] : []),
    ...(withPeers ? ['--peers'] : []),
    ...(flags['no-kiln'] ? ['--no-kiln'] : []),
    ...(flags.all ? ['--all'] : ALL_PARTS.filter((p) => flags[p]).map((p) => `--${p}`)),
    ...(flags.profile ? ['--profile'] : []),
    ...(flags['update-results'] ? ['--update-results'] : []),
    ...(flags.force ? ['--force'] : []),
  ].join(' ');
  const describes = new Map();
  for (const g of groups.values()) if (g.median?.describe) describes.set(g.name, g.median.describe);
  const peerEnv = existsSync(peersJsonl.replace(/\.jsonl$/, '.env.txt')) ? readFileSync(peersJsonl.replace(/\.jsonl$/, '.env.txt'), 'utf8').trim() : null;
  const disk = [...groups.values()]
    .flatMap((g) => g.runs)
    .filter((r) => r.kiln?.diskBytes)
    .map((r) => `${r.label}: ${(r.kiln.diskBytes / 1048576).toFixed(1)} MiB for ${((r.warmup?.acked ?? 0) + (r.acked ?? 0)).toLocaleString('en-US')} events`);
  const md = [
    '# Kiln append benchmark',
    '',
    `Run ${startedAt.toISOString().replace(/\.\d+Z$/, 'Z')} (${(seconds / 60).toFixed(1)} min), written by \`bench/run.mjs\`; how to run and what each column means: [README.md](README.md).`,
    '',
    '## Machine',
    '',
    `* ${m.host}, ${m.distro}`,
    `* CPU: ${m.cpus}`,
    `* memory: ${m.memory}`,
    `* ${m.disk}`,
    `* load average (1/5/15 min) at the start ${loadStart.map((x) => x.toFixed(2)).join(' ')}, at the end ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} (other work on the machine shares its ${cpuCount} CPUs)${busyAtStart ? `: **${busyNote}** (run with --force; not a valid run)` : `; idle enough at the start (1-minute load ≤ ${BUSY_LOAD_PER_CPU} × CPUs)`}`,
    `* Node.js ${m.node}; load generator: the peers harness's \`bench.mjs\` (${path.relative(repoRoot, peersDir)})`,
    ...(peerEnv ? ['', 'Peers (from run-peers.sh):', '', '```', peerEnv, '```'] : []),
    '',
    '## Command',
    '',
    '```sh',
    cmd,
    '```',
    '',
    `Workloads: **tput** C=${S.clients} clients × P=${S.inflight} appends in flight, N=${S.events.toLocaleString('en-US')}; **lat** C=${S.latClients} × P=${S.latInflight}, N=${S.latEvents.toLocaleString('en-US')}; ${S.size}-byte events, ${S.streams.toLocaleString('en-US')} streams, warm-up min(N/10, 10,000) unrecorded, ${S.workers} generator thread(s), ${S.repeat} repetition(s) per row (the row shown is the median run by appends/s, with the min–max when n > 1). Each run gets a freshly started server with empty data.`,
    '',
    '## What an ack means',
    '',
    '| target | describe() |',
    '| --- | --- |',
    ...[...describes].map(([k, v]) => `| ${k} | ${v.replace(/\|/g, '\\|')} |`),
    '',
    '## Results',
    '',
    'Latencies in ms from the call into the client library to the resolution of its promise. "srv" = the server process tree, during the measured phase. "gen CPU µs/append" is the load generator\'s CPU per acked append (the client library\'s cost); "gen CPU s" close to "run s" means the load generator, not the server, was the limit.',
    '',
    ...tableLines(groups),
    '',
    '## Ratios (Kiln / peer, medians of this run)',
    '',
    'appends/s: above 1 = Kiln faster; latency and µs/append: above 1 = Kiln slower / costlier.',
    '',
    ...ratioLines(groups),
    '',
    '## Goals (issues #3 and #4)',
    '',
    ...goalLines(groups),
    '',
    ...clusterLines(),
    ...stripesLines,
    ...(extraNotes ? [extraNotes, ''] : []),
    ...(disk.length ? ['Restartable data directory size after each run:', '', ...disk.map((d) => `* ${d}`), ''] : []),
    ...(failures.length ? ['## Failures in this run', '', ...failures.map((x) => `* ${x}`), ''] : []),
    ...(profiles.length
      ? [
          '## Server CPU profiles (`node --cpu-prof`; the profiler costs CPU, so the figures above are not comparable with an unprofiled run)',
          '',
          ...profiles.flatMap((p) => [`### ${p.label}`, '', formatSummary(p.summary, 15), '']),
        ]
      : []),
    `Raw results (not committed; bench/out is ignored by git): \`${path.relative(repoRoot, kilnJsonl)}\`${withPeers ? `, \`${path.relative(repoRoot, peersJsonl)}\`` : ''}, server logs \`bench/out/${stamp}-*.log\`.`,
    '',
  ].join('\n');
  writeFileSync(resultsFile, md);
}

// ------------------------------------------------------------------ main
function words(s, dflt) {
  return (s && s.trim() ? s : dflt).split(/[\s,]+/).filter(Boolean);
}
function tail(s, n = 20) {
  return s.split('\n').slice(-n).join('\n');
}
function log(msg) {
  console.error(`[${new Date().toISOString().slice(11, 19)}] ${msg}`);
}
function fatal(msg) {
  console.error(`bench: ${msg}`);
  process.exit(2);
}

// BENCH_NOTES=FILE: markdown appended to the report (e.g. a "what limits it" section)
const extraNotes = env.BENCH_NOTES && existsSync(env.BENCH_NOTES) ? readFileSync(env.BENCH_NOTES, 'utf8').trim() : '';

/** The tables of the scripts run as parts (bench/stripes.mjs, bench/cross-stripe.mjs), for the report. */
const stripesLines = [];

/** Runs a bench script of its own as a part; its table goes into the report under `title`. */
async function runScript(title, script, args) {
  log(`${title}: bench/${script}`);
  const child = track(spawn(process.execPath, [path.join(benchDir, script), '--seconds', String(S.maxSeconds), ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'], env }));
  let table = '';
  child.stdout.on('data', (c) => (table += c));
  const code = await new Promise((resolve) => child.once('exit', (c) => resolve(c)));
  if (code !== 0) failures.push(`${title}: bench/${script} exited with ${code}`);
  stripesLines.push('', `## ${title}`, '', ...table.trim().split('\n'));
}

async function main() {
  const startedAt = new Date();
  log(`results -> ${path.relative(repoRoot, resultsFile)}; raw -> ${path.relative(repoRoot, outDir)}/${stamp}-*`);
  const transports = [...(flags['no-kiln'] ? [] : ['tcp']), ...(part.ws ? ['ws'] : [])];
  if (transports.length) await runKiln(transports);
  if (part.mirrored && !interrupted) await runMirrored();
  if (part.failover && !interrupted) await runFailover();
  if (part.rejoin && !interrupted) await runRejoin();
  if (part.stripes && !interrupted) await runScript('Stripes', 'stripes.mjs', ['--out', path.join(outDir, `${stamp}-stripes.jsonl`), '--rate', String(int('STRIPES_RATE', 1000))]);
  if (part['cross-stripe'] && !interrupted) {
    await runScript('Transactions over several stripes', 'cross-stripe.mjs', ['--rate', String(int('XS_RATE', 1000))]);
    // What the machine alone charges those routes' hops, to read the ratio against (bench/hop-floor.mjs).
    for (const tokens of [1, 8]) if (!interrupted) await runScript(`The same routes' hops between plain processes, ${tokens} at once`, 'hop-floor.mjs', ['--tokens', String(tokens), '--rounds', '3000']);
  }
  // Its windows are of their own length (the later --seconds wins), not MAX_SECONDS.
  if (part.backup && !interrupted) await runScript('What a backup costs', 'backup-cost.mjs', ['--seconds', String(int('BACKUP_SECONDS', 10)), '--sources', 'active,mirror,active:5']);
  if (flags['large-data'] && !interrupted) await runScript('Data far larger than memory', 'large-data.mjs', []);
  if (part.failover || part.rejoin) writeFileSync(clusterJson, JSON.stringify(clusterResults, null, 2));
  if (withPeers && !interrupted) await runPeers();
  if (interrupted) return;
  const groups = groupRows([...readRows(kilnJsonl), ...readRows(peersJsonl)]);
  console.log('');
  for (const l of tableLines(groups)) console.log(l);
  console.log('');
  for (const l of ratioLines(groups)) console.log(l);
  console.log('');
  for (const l of goalLines(groups)) console.log(l);
  for (const l of clusterLines()) console.log(l);
  for (const l of stripesLines) console.log(l);
  writeReport(groups, startedAt, (Date.now() - startedAt.getTime()) / 1000);
  console.log(`\nwrote ${path.relative(process.cwd(), resultsFile)}`);
  if (failures.length) {
    console.error(`\nbench: ${failures.length} failure(s):\n  ${failures.join('\n  ')}`);
    process.exitCode = 1;
  }
}

main().catch((e) => {
  console.error(`bench: ${e?.stack ?? e}`);
  process.exitCode = 1;
});
