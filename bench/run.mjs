#!/usr/bin/env node
// `npm run bench`: Kiln (memory and restartable) under the peer harness's append workload
// (../shared/peers), optionally with the peers (Redis, NATS, PostgreSQL) in the same run,
// then a table, the ratios, and bench/RESULTS.md. See bench/README.md.
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

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(benchDir, '..');
const cliBin = path.join(repoRoot, 'packages/cli/dist/bin.js');
const targetModule = path.join(benchDir, 'kiln-target.mjs');

const USAGE = `usage: node bench/run.mjs [--peers] [--no-kiln] [--profile] [--results FILE] [--help]
  --peers          also run the peers (run-peers.sh, in a copy of the peers folder); or PEERS=1
  --no-kiln        skip the Kiln runs (with --peers: peers only)
  --profile        run each Kiln server under node --cpu-prof and summarise the profiles
                   (the profiler costs CPU: the figures of such a run are not comparable)
  --results FILE   where to write the markdown report (default bench/RESULTS.md)
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
    profile: { type: 'boolean', default: false },
    results: { type: 'string' },
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
const ALL_PEERS = ['redis-mem', 'redis', 'redis-replica', 'nats-mem', 'nats-r1', 'nats-r3', 'pg', 'pg-sync'];
const peerTargets = words(env.PEER_TARGETS, 'redis-mem redis pg').flatMap((t) => (t === 'all' ? ALL_PEERS : [t]));
const peersDir = path.resolve(env.PEERS_DIR ?? path.join(repoRoot, '../shared/peers'));
const peersWork = path.resolve(env.PEERS_WORK ?? path.join(os.tmpdir(), 'kiln-bench-peers'));
const dataRoot = path.resolve(env.KILN_DATA_ROOT ?? os.tmpdir());
const resultsFile = path.resolve(flags.results ?? path.join(benchDir, 'RESULTS.md'));
for (const w of S.workloads) if (w !== 'tput' && w !== 'lat') fatal(`WORKLOADS: unknown workload ${w} (tput, lat)`);
for (const m of S.modes) if (m !== 'memory' && m !== 'restartable') fatal(`MODES: unknown mode ${m} (memory, restartable)`);
for (const e of S.expected) if (e !== 'workload' && e !== 'any') fatal(`KILN_EXPECTED: unknown value ${e} (workload, any)`);
for (const t of peerTargets) if (!ALL_PEERS.includes(t)) fatal(`PEER_TARGETS: unknown peer ${t} (${ALL_PEERS.join(' ')}, all)`);

const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
const outDir = path.join(benchDir, 'out');
mkdirSync(outDir, { recursive: true });
const kilnJsonl = path.join(outDir, `${stamp}-kiln.jsonl`);
const peersJsonl = path.join(outDir, `${stamp}-peers.jsonl`);
const profDir = path.join(outDir, `${stamp}-profiles`);

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
async function startKiln(mode, logFile) {
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
      if (m) {
        child.stderr.off('data', onData);
        child.stderr.pipe(logStream, { end: false });
        resolve(new URL(m[1]));
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
    const url = await Promise.race([listening, deadline]);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (host !== '127.0.0.1') throw new Error(`kiln server listens on ${url}, not 127.0.0.1`);
    return { child, mode, dataDir, endpoint: `${host}:${url.port}`, logStream };
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

async function runKiln() {
  if (!existsSync(cliBin)) fatal(`${cliBin} is missing: run \`npm run build\` first`);
  const benchMjs = path.join(peersDir, 'bench.mjs');
  if (!existsSync(benchMjs)) fatal(`${benchMjs} not found: set PEERS_DIR to the peers harness folder`);
  for (const expected of S.expected) {
    for (const mode of S.modes) {
      const name = `kiln-${mode}${expected === 'any' ? '-any' : ''}`;
      for (let rep = 1; rep <= S.repeat; rep++) {
        for (const w of S.workloads) {
          if (interrupted) return;
          const label = `${name}:${w}#${rep}`;
          const logFile = path.join(outDir, `${stamp}-${name}-${w}-${rep}.log`);
          log(`starting ${name} (fresh) for ${w}#${rep}; server log ${path.relative(repoRoot, logFile)}`);
          let k;
          try {
            k = await startKiln(mode, logFile);
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
            { cwd: repoRoot, timeoutMs: S.runTimeout * 1000, env: { ...env, KILN_EXPECTED: expected } },
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
  const order = ['kiln-memory', 'kiln-restartable', 'kiln-memory-any', 'kiln-restartable-any', ...ALL_PEERS];
  const list = [...groups.values()].sort(
    (a, b) => a.workload.localeCompare(b.workload) * -1 || order.indexOf(a.name) - order.indexOf(b.name),
  );
  const lines = [
    '| target | workload | appends/s | p50 ms | p99 ms | p99.9 ms | srv CPU µs/append | srv cores | srv peak RSS MiB | gen CPU s | run s | status | stored |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |',
  ];
  for (const g of list) {
    const r = g.median;
    if (!r) {
      lines.push(`| ${g.name} | ${g.workload} | | | | | | | | | | ${g.runs.map((x) => x.status).join(', ')} | |`);
      continue;
    }
    const L = r.latencyMs;
    const n = g.runs.length;
    const range = n > 1 ? ` (${int0(g.min)}–${int0(g.max)}, n=${n})` : '';
    const s = r.server;
    const st = g.runs.map((x) => x.status + (x.failed ? ` (${x.failed} failed)` : ''));
    const status = st.every((x) => x === 'ok') ? 'ok' : st.join('; ');
    lines.push(
      `| ${g.name} | ${g.workload} | ${int0(r.appendsPerSec)}${range} | ${f(L.p50, 3)} | ${f(L.p99, 3)} | ${f(L.p999, 3)} | ${f(usPerAppend(r), 1)} | ${s ? f(s.cpuSeconds / r.seconds, 2) : 'n/a'} | ${s ? f(s.peakRssBytes / 1048576, 1) : 'n/a'} | ${f(r.generatorCpuSeconds, 2)} | ${f(r.seconds, 1)} | ${status} | ${storedCheck(r)} |`,
    );
  }
  return lines;
}

function ratioLines(groups) {
  const pairs = [];
  for (const suffix of ['', '-any']) {
    pairs.push([`kiln-restartable${suffix}`, 'redis'], [`kiln-memory${suffix}`, 'redis-mem'], [`kiln-restartable${suffix}`, 'pg']);
  }
  const lines = [
    '| workload | Kiln / peer | appends/s | p50 | p99 | p99.9 | srv CPU µs/append |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
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
        `| ${w} | ${a} / ${b}${flag} | ${q(ga.appendsPerSec, gb.appendsPerSec)} | ${q(ga.latencyMs.p50, gb.latencyMs.p50)} | ${q(ga.latencyMs.p99, gb.latencyMs.p99)} | ${q(ga.latencyMs.p999, gb.latencyMs.p999)} | ${q(usPerAppend(ga), usPerAppend(gb))} |`,
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
    'npm run bench',
    ...(withPeers || flags.profile || flags['no-kiln'] ? ['--'] : []),
    ...(withPeers ? ['--peers'] : []),
    ...(flags['no-kiln'] ? ['--no-kiln'] : []),
    ...(flags.profile ? ['--profile'] : []),
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
    `* load average (1/5/15 min) at the start ${loadStart.map((x) => x.toFixed(2)).join(' ')}, at the end ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} (other work on the machine shares its ${os.availableParallelism?.() ?? os.cpus().length} CPUs)`,
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
    'Latencies in ms from the call into the client library to the resolution of its promise. "srv" = the server process tree, during the measured phase. "gen CPU s" close to "run s" means the load generator, not the server, was the limit.',
    '',
    ...tableLines(groups),
    '',
    '## Ratios (Kiln / peer, medians of this run)',
    '',
    'appends/s: above 1 = Kiln faster; latency and µs/append: above 1 = Kiln slower / costlier.',
    '',
    ...ratioLines(groups),
    '',
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

const loadStart = os.loadavg();

async function main() {
  const startedAt = new Date();
  log(`results -> ${path.relative(repoRoot, resultsFile)}; raw -> ${path.relative(repoRoot, outDir)}/${stamp}-*`);
  if (!flags['no-kiln']) await runKiln();
  if (withPeers && !interrupted) await runPeers();
  if (interrupted) return;
  const groups = groupRows([...readRows(kilnJsonl), ...readRows(peersJsonl)]);
  console.log('');
  for (const l of tableLines(groups)) console.log(l);
  console.log('');
  for (const l of ratioLines(groups)) console.log(l);
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
