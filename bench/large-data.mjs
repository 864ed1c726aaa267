#!/usr/bin/env node
// Data far larger than memory (issue 11, item 3): one restartable server under
// `node --max-old-space-size=256` is loaded with --gib GiB of event data over --streams streams,
// then serves a mixed load of appends and cold stream reads. What it shows: the server's RSS
// stays flat as the data grows (goal: RSS at the end ≤ 1.2× its RSS at 0.5 GiB), and what a read
// of a stream nobody touched recently costs (p50/p99/p99.9).
//
//   node bench/large-data.mjs [--gib 4] [--streams 1000000] [--event-size 1024] [--seconds 60]
//   node bench/large-data.mjs --gib 0.5 --streams 100000 --seconds 20      # a quick try
//
// Load: transactions of --tx-streams streams with one event each (--inflight in flight on one
// connection, expectedVersion 'any'); transaction k writes streams k·T … k·T+T-1 (mod --streams),
// so every stream gets an event per pass and the server looks most heads up in its store, not its
// cache. RSS (VmRSS, and its anonymous and file-backed parts, from /proc/PID/status) is sampled
// at 0.5 GiB of event data and at every further GiB. Mixed phase (--seconds): 1-event appends to
// the even streams and whole-stream reads of the odd ones, each odd stream read at most once (a
// stride walk), so every read is cold for the server's caches; the OS page cache is left alone
// (it is shared with the machine), so "cold" here is cold for the process, not for the disk.
//
// After it, unless --no-restart, the server is restarted on the data: the time until it listens
// again (it rebuilds its de-duplication table from the log's tail first) and its RSS then.
//
// Progress goes to stderr every 5 s; the table to stdout (and JSON to --out). The server's log,
// with --trace-gc when asked, goes to --server-log. Every process started is stopped, and the
// temp data dir removed, at exit; --deadline bounds the whole run.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { connect } from '@kiln/core/client';
import { tcpTransport } from '@kiln/transport-tcp';
import { sleep } from './cluster.mjs';

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(benchDir, '..');
const cliBin = path.join(repoRoot, 'packages/cli/dist/bin.js');
const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

const { values: flags } = parseArgs({
  options: {
    gib: { type: 'string', default: '4' },
    streams: { type: 'string', default: '1000000' },
    'event-size': { type: 'string', default: '1024' },
    'tx-streams': { type: 'string', default: '16' },
    inflight: { type: 'string', default: '16' },
    seconds: { type: 'string', default: '60' },
    'append-inflight': { type: 'string', default: '8' },
    'read-inflight': { type: 'string', default: '4' },
    'heap-mb': { type: 'string', default: '256' },
    deadline: { type: 'string', default: '3600' },
    'data-root': { type: 'string', default: os.tmpdir() },
    'trace-gc': { type: 'boolean', default: false },
    'no-restart': { type: 'boolean', default: false },
    'server-log': { type: 'string' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});
if (flags.help) {
  console.log(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\nimport ')[0].replace(/^#!.*\n/, '').replace(/^\/\/ ?/gm, ''));
  process.exit(0);
}
const num = (name, { integer = true, min = 1 } = {}) => {
  const v = Number(flags[name]);
  if (!Number.isFinite(v) || (integer && !Number.isInteger(v)) || v < min) {
    console.error(`large-data: --${name} must be ${integer ? 'an integer' : 'a number'} >= ${min}, got ${flags[name]}`);
    process.exit(2);
  }
  return v;
};
const S = {
  targetBytes: Math.round(num('gib', { integer: false, min: 0.001 }) * GiB),
  streams: num('streams'),
  eventSize: num('event-size'),
  txStreams: Math.min(num('tx-streams'), num('streams')),
  inflight: num('inflight'),
  seconds: num('seconds'),
  appendInflight: num('append-inflight', { min: 0 }),
  readInflight: num('read-inflight'),
  heapMb: num('heap-mb'),
  deadlineS: num('deadline'),
};
const log = (m) => process.stderr.write(`[large-data ${new Date().toISOString().slice(11, 19)}] ${m}\n`);
const mib = (b) => `${(b / MiB).toFixed(0)} MiB`;
const gib = (b) => `${(b / GiB).toFixed(2)} GiB`;

// ------------------------------------------------------------------ the server
let server = null;
let dataRoot = null;
/** Every server process started and not yet exited. */
const children = new Set();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
  if (dataRoot) rmSync(dataRoot, { recursive: true, force: true });
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));

/** Starts a server on `dataDir`; resolves once it listens (it first rebuilds its state from the data, hence `listenTimeoutMs`). */
async function startServer(dataDir, listenTimeoutMs = 30_000) {
  const nodeArgs = [`--max-old-space-size=${S.heapMb}`, ...(flags['trace-gc'] ? ['--trace-gc'] : [])];
  const args = [...nodeArgs, cliBin, 'start', '--data', dataDir, '--listen', 'tcp://127.0.0.1:0', '--name', 'bench-large-data'];
  const child = spawn(process.execPath, args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  const logFile = flags['server-log'] ?? path.join(dataRoot, 'server.log');
  mkdirSync(path.dirname(logFile), { recursive: true });
  const logStream = createWriteStream(logFile, { flags: 'a' });
  child.stdout.pipe(logStream, { end: false });
  let buffered = '';
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not log "listening on" within ${listenTimeoutMs / 1000} s:\n${buffered.slice(-2000)}`)), listenTimeoutMs);
    const onData = (chunk) => {
      logStream.write(chunk);
      buffered += chunk.toString('utf8');
      // The CLI's own line: logged once it handles SIGTERM (the server's earlier line is not).
      const m = /kiln: .*listening on (tcp:\/\/[^\s,()]+)/.exec(buffered);
      if (!m) return;
      clearTimeout(timer);
      child.stderr.off('data', onData);
      child.stderr.pipe(logStream, { end: false });
      resolve(m[1]);
    };
    child.stderr.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the server exited (${code ?? signal}) before listening:\n${buffered.slice(-2000)}`));
    });
  });
  log(`server pid ${child.pid} (${nodeArgs.join(' ')}) on ${url}, data in ${dataDir}, log ${logFile}`);
  return { child, url, dataDir, logStream, logFile };
}

async function stopServer() {
  const { child, logStream } = server;
  let how = child.exitCode ?? child.signalCode;
  if (how === null) {
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
    child.kill('SIGTERM');
    how = await Promise.race([exited, sleep(30_000).then(() => null)]);
    if (how === null) {
      log('the server did not exit 30 s after SIGTERM: SIGKILL');
      child.kill('SIGKILL');
      how = await exited;
    }
  }
  logStream.end();
  return how;
}

/** The server's resident memory from /proc: total, anonymous (heap, LevelDB caches) and file-backed (mapped table files). */
function memoryOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile'), hwm: kb('VmHWM') };
}

function dirBytes(dir) {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    try {
      n += e.isDirectory() ? dirBytes(p) : statSync(p).size;
    } catch {
      // a table file compacted away between the listing and the stat
    }
  }
  return n;
}

const memoryLine = (m) => `rss ${mib(m.rss)} (anon ${mib(m.anon)}, file ${mib(m.file)})`;

// ------------------------------------------------------------------ the load
const streamName = (i) => `ld-${i}`;

// Event data: slices of a random pool at varied offsets, so LevelDB's compression cannot shrink
// the data dir (identical payloads would compress to almost nothing).
const pool = randomBytes(16 * MiB);
let poolCursor = 0;
function payload() {
  poolCursor = (poolCursor + 7919 * 64) % (pool.length - S.eventSize);
  return pool.subarray(poolCursor, poolCursor + S.eventSize);
}

async function load(client, deadlineMs) {
  const txBytes = S.txStreams * S.eventSize;
  const txTotal = Math.ceil(S.targetBytes / txBytes);
  const thresholds = [0.5 * GiB];
  for (let g = GiB; g <= S.targetBytes; g += GiB) thresholds.push(g);
  if (thresholds.at(-1) !== S.targetBytes && S.targetBytes > 0.5 * GiB) thresholds.push(S.targetBytes);
  const samples = [];
  const state = { sent: 0, done: 0, errors: 0, lastError: null };
  const t0 = Date.now();
  let lastTick = { ms: t0, done: 0 };
  const sampleDue = () => {
    while (thresholds.length && state.done * txBytes >= thresholds[0]) {
      const at = thresholds.shift();
      const m = memoryOf(server.child.pid);
      samples.push({ atBytes: at, loadedBytes: state.done * txBytes, seconds: (Date.now() - t0) / 1000, ...m, dirBytes: dirBytes(server.dataDir) });
      log(`sample at ${gib(at)}: ${memoryLine(m)}, data dir ${gib(samples.at(-1).dirBytes)}`);
    }
  };
  const progress = setInterval(() => {
    const now = Date.now();
    const rate = ((state.done - lastTick.done) * txBytes) / ((now - lastTick.ms) / 1000);
    lastTick = { ms: now, done: state.done };
    log(`load ${gib(state.done * txBytes)} / ${gib(S.targetBytes)}  ${(rate / MiB).toFixed(1)} MiB/s  ${Math.round(rate / S.eventSize)} events/s  ${memoryLine(memoryOf(server.child.pid))}  data dir ${gib(dirBytes(server.dataDir))}${state.errors ? `  errors ${state.errors}` : ''}`);
  }, 5000);
  try {
    await Promise.all(
      Array.from({ length: S.inflight }, async () => {
        while (state.sent < txTotal && Date.now() < deadlineMs && state.errors < 100) {
          const k = state.sent++;
          const appends = Array.from({ length: S.txStreams }, (_, j) => ({ stream: streamName((k * S.txStreams + j) % S.streams), events: [{ type: 'Ev', data: payload() }] }));
          try {
            await client.transact(appends);
            state.done++;
            sampleDue();
          } catch (e) {
            state.errors++;
            state.lastError = String(e?.message ?? e);
            await sleep(100);
          }
        }
      }),
    );
  } finally {
    clearInterval(progress);
  }
  const seconds = (Date.now() - t0) / 1000;
  const bytes = state.done * txBytes;
  if (state.errors) log(`load: ${state.errors} failed transactions, the last: ${state.lastError}`);
  return { transactions: state.done, events: state.done * S.txStreams, bytes, seconds, bytesPerSecond: bytes / seconds, eventsPerSecond: (state.done * S.txStreams) / seconds, errors: state.errors, lastError: state.lastError, complete: state.done === txTotal, samples };
}

// ------------------------------------------------------------------ the mixed phase
/** A step coprime with n: walking i·step mod n visits every index once before any twice. */
function strideFor(n) {
  const gcd = (a, b) => (b === 0 ? a : gcd(b, a % b));
  let step = Math.floor(n * 0.618033) | 1;
  while (gcd(step, n) !== 1) step += 2;
  return step;
}

async function mixed(client, readClient, deadlineMs) {
  const odd = Math.floor(S.streams / 2);
  const even = Math.ceil(S.streams / 2);
  const readStep = strideFor(odd);
  const appendStep = strideFor(even);
  const readOffset = Math.floor(odd / 3);
  const state = { reads: 0, appends: 0, readEvents: 0, errors: 0, lastError: null, stopping: false };
  const latencies = [];
  const rss = [];
  let nextRead = 0;
  let nextAppend = 0;
  const endMs = Math.min(Date.now() + S.seconds * 1000, deadlineMs);
  const t0 = Date.now();
  const fail = async (e) => {
    state.errors++;
    state.lastError = String(e?.message ?? e);
    await sleep(100);
  };
  const progress = setInterval(() => {
    const m = memoryOf(server.child.pid);
    rss.push(m);
    const s = (Date.now() - t0) / 1000;
    log(`mixed ${s.toFixed(0)} s: ${Math.round(state.appends / s)} appends/s, ${Math.round(state.reads / s)} reads/s, ${memoryLine(m)}${state.errors ? `  errors ${state.errors}` : ''}`);
  }, 5000);
  const appenders = Array.from({ length: S.appendInflight }, async () => {
    while (Date.now() < endMs && state.errors < 100) {
      const i = ((nextAppend++ * appendStep) % even) * 2;
      try {
        await client.append(streamName(i), [{ type: 'Ev', data: payload() }]);
        state.appends++;
      } catch (e) {
        await fail(e);
      }
    }
  });
  const readers = Array.from({ length: S.readInflight }, async () => {
    while (Date.now() < endMs && state.errors < 100 && nextRead < odd) {
      const i = (((nextRead++ * readStep + readOffset) % odd) * 2) + 1;
      const t = performance.now();
      try {
        const events = await readClient.read(streamName(i));
        latencies.push(performance.now() - t);
        state.reads++;
        state.readEvents += events.length;
      } catch (e) {
        await fail(e);
      }
    }
  });
  try {
    await Promise.all([...appenders, ...readers]);
  } finally {
    clearInterval(progress);
  }
  const seconds = (Date.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)] : NaN);
  if (state.errors) log(`mixed: ${state.errors} failed requests, the last: ${state.lastError}`);
  return {
    seconds,
    appends: state.appends,
    appendsPerSecond: state.appends / seconds,
    reads: state.reads,
    readsPerSecond: state.reads / seconds,
    eventsPerRead: state.readEvents / Math.max(1, state.reads),
    readMs: { p50: pct(50), p99: pct(99), p999: pct(99.9), max: latencies.at(-1) ?? NaN },
    rssMax: Math.max(...rss.map((m) => m.rss), 0),
    errors: state.errors,
    lastError: state.lastError,
  };
}

// ------------------------------------------------------------------ restart
/** Starts the server again on the loaded data: time until it listens (it rebuilds its de-duplication table from the log's tail first), and its RSS then. */
async function restartServer(deadlineMs) {
  const t0 = Date.now();
  server = await startServer(server.dataDir, Math.max(30_000, deadlineMs - t0));
  const seconds = (Date.now() - t0) / 1000;
  const memory = memoryOf(server.child.pid);
  log(`restarted: listening after ${seconds.toFixed(1)} s, ${memoryLine(memory)}`);
  return { seconds, ...memory, exit: await stopServer() };
}

// ------------------------------------------------------------------ report
function table(r) {
  const at05 = r.load.samples[0];
  const ratio = at05 ? r.end.rss / at05.rss : NaN;
  const rows = [
    ['server', `restartable, node --max-old-space-size=${S.heapMb}; ${S.streams.toLocaleString('en')} streams, events of ${S.eventSize} B, transactions of ${S.txStreams} streams × 1 event, ${S.inflight} in flight`],
    ['load', `${gib(r.load.bytes)} of event data = ${r.load.events.toLocaleString('en')} events in ${r.load.seconds.toFixed(0)} s: ${(r.load.bytesPerSecond / MiB).toFixed(1)} MiB/s, ${Math.round(r.load.eventsPerSecond).toLocaleString('en')} events/s${r.load.complete ? '' : ' (stopped at its deadline)'}${r.load.errors ? `, ${r.load.errors} errors` : ''}`],
    ...r.load.samples.map((s) => [`RSS at ${(s.atBytes / GiB).toFixed(1)} GiB`, `${mib(s.rss)} (anon ${mib(s.anon)}, file-backed ${mib(s.file)}); data dir ${gib(s.dirBytes)}`]),
    ['RSS at the end', `${mib(r.end.rss)} (anon ${mib(r.end.anon)}, file-backed ${mib(r.end.file)}); peak during the mixed phase ${mib(r.mixed.rssMax)}; high-water mark ${mib(r.end.hwm)}`],
    ['RSS end / at 0.5 GiB (goal ≤ 1.2×)', at05 ? `**${ratio.toFixed(2)}×** (anon ${(r.end.anon / at05.anon).toFixed(2)}×)` : 'n/a (less than 0.5 GiB loaded)'],
    ['data dir', gib(r.end.dirBytes)],
    ['mixed phase', `${r.mixed.seconds.toFixed(0)} s: ${Math.round(r.mixed.appendsPerSecond).toLocaleString('en')} appends/s (${S.appendInflight} in flight), ${Math.round(r.mixed.readsPerSecond).toLocaleString('en')} cold stream reads/s (${S.readInflight} in flight, ${r.mixed.eventsPerRead.toFixed(1)} events each)${r.mixed.errors ? `, ${r.mixed.errors} errors` : ''}`],
    ['cold read ms p50 / p99 / p99.9 / max', [r.mixed.readMs.p50, r.mixed.readMs.p99, r.mixed.readMs.p999, r.mixed.readMs.max].map((v) => v.toFixed(2)).join(' / ')],
    ['server exit', String(r.exit)],
    ...(r.restart ? [['restart on the loaded data', `listening after ${r.restart.seconds.toFixed(1)} s, RSS then ${mib(r.restart.rss)} (anon ${mib(r.restart.anon)}, file-backed ${mib(r.restart.file)}); exit ${r.restart.exit}`]] : []),
  ];
  return ['| what | figure |', '| --- | --- |', ...rows.map(([a, b]) => `| ${a} | ${b} |`)].join('\n');
}

async function main() {
  const deadlineMs = Date.now() + S.deadlineS * 1000;
  const hardStop = setTimeout(() => {
    log(`deadline of ${S.deadlineS} s (+60 s to stop) passed: exiting`);
    process.exit(3);
  }, (S.deadlineS + 60) * 1000);
  hardStop.unref();
  log(`${gib(S.targetBytes)} over ${S.streams} streams, events of ${S.eventSize} B; then ${S.seconds} s of appends + cold reads`);
  dataRoot = mkdtempSync(path.join(flags['data-root'], 'kiln-bench-large-'));
  server = await startServer(path.join(dataRoot, 'data'));
  const options = { transports: [tcpTransport()], requestTimeoutMs: 120_000, reconnectWindowMs: 0 };
  const client = await connect(server.url, { ...options, name: 'bench-large-load' });
  const readClient = await connect(server.url, { ...options, name: 'bench-large-read' });
  let exit = null;
  try {
    const loaded = await load(client, deadlineMs);
    log(`loaded ${gib(loaded.bytes)} in ${loaded.seconds.toFixed(0)} s (${(loaded.bytesPerSecond / MiB).toFixed(1)} MiB/s); mixed phase for ${S.seconds} s`);
    const mix = await mixed(client, readClient, deadlineMs);
    const end = { ...memoryOf(server.child.pid), dirBytes: dirBytes(server.dataDir) };
    await Promise.all([client.close(), readClient.close()]).catch(() => {});
    exit = await stopServer();
    const restart = flags['no-restart'] || exit !== 0 ? null : await restartServer(deadlineMs);
    const result = { settings: S, load: loaded, mixed: mix, end, exit, restart };
    console.log(table(result));
    if (flags.out) writeFileSync(flags.out, JSON.stringify(result, null, 2));
    const failed = !loaded.complete || loaded.errors > 0 || mix.errors > 0 || exit !== 0 || (restart !== null && restart.exit !== 0);
    process.exitCode = failed ? 1 : 0;
  } finally {
    if (exit === null) {
      await Promise.all([client.close(), readClient.close()]).catch(() => {});
      await stopServer();
    }
    // A restart that failed may have left its server running.
    for (const child of children) child.kill('SIGKILL');
    rmSync(dataRoot, { recursive: true, force: true });
    dataRoot = null;
  }
}

main().catch((e) => {
  log(e?.stack ?? String(e));
  process.exitCode = 1;
});
