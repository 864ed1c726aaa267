#!/usr/bin/env node
// Stripes on this machine (issue 9's figures), every member its own `kiln` process, load from the
// peers harness (`bench.mjs --target kiln`) through the cluster-aware client given ONE server URL:
//
// - scale: 1, 2 and 4 stripes of one server each, then of 2 servers + one shared voter (memory
//   mode): appends/s and total server CPU µs per append (every member process counted). On 2
//   cores the absolute rate cannot grow; what scaling needs is the cost per append staying flat.
// - isolation: 2 stripes of 2 servers + a voter; appends/s on stripe alpha's streams (hash-tagged
//   onto alpha) with bravo healthy, then again after every bravo server was killed.
// - alone: the machine's share of scale's growth. The same load split the same way over 2 and 4
//   server processes, but each an independent one-server cluster: no stripe code, no peer links;
//   each runs right after scale's row of as many stripes. What scale's CPU per append grows by
//   beyond this is what stripes cost; the rest is the split itself (smaller batches per socket read
//   and write, N + 1 busy processes taking turns on the machine's cores).
//
//   node bench/stripes.mjs [--seconds 20] [--out FILE.jsonl] [--parts scale,even,isolation,alone,rate]
//                          [--rate 1000] [--checkout DIR]
// --checkout DIR runs the members from another built checkout (a before/after on one machine).
//                                                                   (PEERS_DIR: the peers harness)
//
// scale: the same load (8 clients x 32 appends in flight) over 1, 2, 4 stripes; even: the same
// load PER STRIPE (32 in flight per client per stripe), so each stripe's group commits are as
// large as with one stripe and only what stripes cost each other shows.
//
// rate: weak scaling below saturation (bench/fixed-rate.mjs). Each stripe gets the same fixed rate
// of appends/s (--rate, open loop, latency from each append's scheduled time) on streams of its
// own, so every server carries the same load at 1, 2 and 4 stripes, one server each and 2 servers +
// the shared voter each, and beside them the same rate per server over 2 and 4 independent
// one-server clusters. The rate is chosen so that the largest shape (4 × 2 servers + voter: 9
// processes) stays under this machine's 2 cores: at 1,000/s per stripe it took about one core
// (~250 µs of server CPU per append, 4,000 appends/s), leaving the other to the load generator.
// Below saturation an append is not batched with others, so it costs far more CPU than at full
// load: compare rows with each other, not with the closed-loop rows. Each row records the
// machine's busy share, other processes included.
//
// Prints a markdown table; every wait has a deadline, and every process started is killed at exit.
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { slotOf, SlotTable } from '@kiln/core';
import { connect } from '@kiln/core/client';
import { tcpTransport } from '@kiln/transport-tcp';
import { freePorts, sleep, startMember, statusOf } from './cluster.mjs';
import { runFixedRate, streamsPerStripe } from './fixed-rate.mjs';

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(benchDir, '..');
const { values: flags } = parseArgs({ options: { seconds: { type: 'string', default: '20' }, out: { type: 'string' }, parts: { type: 'string', default: 'scale,even,isolation,alone,rate' }, rate: { type: 'string', default: '1000' }, checkout: { type: 'string' } } });
const checkout = flags.checkout ? path.resolve(flags.checkout) : repoRoot;
const cliBin = path.join(checkout, 'packages/cli/dist/bin.js');
const peersDir = process.env.PEERS_DIR ?? path.resolve(repoRoot, '../shared/peers');
const PARTS = new Set(flags.parts.split(','));
const SECONDS = Number(flags.seconds);
const RATE = Number(flags.rate);
const outFile = flags.out ?? path.join(benchDir, 'out', `${new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-stripes.jsonl`);
mkdirSync(path.dirname(outFile), { recursive: true });
mkdirSync(path.join(benchDir, 'out'), { recursive: true }); // the members' logs, wherever --out puts the results

const children = new Set();
const track = (child) => {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
};
const killAll = () => {
  for (const c of children) c.kill('SIGKILL');
};
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(130));

/** A cluster file of `stripes` stripes of `servers` servers, plus `voters` shared voters, in memory mode. */
async function makeCluster({ stripes, servers, voters }) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kiln-bench-stripes-'));
  const ports = await freePorts(stripes * servers * 2 + voters);
  let p = 0;
  const stripeList = [];
  for (let s = 0; s < stripes; s++) {
    const name = ['alpha', 'bravo', 'charlie', 'delta'][s];
    stripeList.push({ name, servers: Array.from({ length: servers }, (_, i) => ({ name: `${name[0]}${i + 1}`, listen: [`tcp://127.0.0.1:${ports[p++]}`], peer: `tcp://127.0.0.1:${ports[p++]}` })) });
  }
  const voterList = Array.from({ length: voters }, (_, i) => ({ name: `v${i + 1}`, peer: `tcp://127.0.0.1:${ports[p++]}` }));
  const config = { cluster: 'bench-stripes', persistence: 'memory', stripes: stripeList, voters: voterList };
  const file = path.join(dir, 'kiln.config.json');
  writeFileSync(file, JSON.stringify(config, null, 2));
  return { dir, file, config };
}

async function startCluster(shape, tag) {
  const c = await makeCluster(shape);
  c.members = new Map();
  const logBase = path.join(benchDir, 'out', `stripes-${tag}`);
  const names = [...c.config.stripes.flatMap((s) => s.servers.map((x) => [x.name, false])), ...c.config.voters.map((v) => [v.name, true])];
  await Promise.all(names.map(async ([name, voter]) => c.members.set(name, await startMember({ cliBin, repoRoot: checkout, file: c.file, name, voter, logFile: `${logBase}-${name}.log`, track }))));
  await waitActives(c, c.config.stripes, 60_000);
  return c;
}

/** Waits until each of `stripes` has one active with all its servers in sync. */
async function waitActives(c, stripes, ms) {
  const deadline = Date.now() + ms;
  for (;;) {
    const ready = await Promise.all(
      stripes.map(async (stripe) => {
        const statuses = await Promise.all(stripe.servers.map((s) => statusOf(s.listen[0])));
        const active = statuses.find((st) => st?.state === 'ACTIVE-COORDINATOR');
        return active !== undefined && (stripe.servers.length === 1 || stripe.servers.every((s) => active.group?.inSync.includes(s.name)));
      }),
    );
    if (ready.every(Boolean)) return;
    if (Date.now() > deadline) throw new Error(`stripes ${stripes.map((s) => s.name).join(', ')} not all elected and in sync within ${ms / 1000} s`);
    await sleep(200);
  }
}

async function stopCluster(c) {
  for (const m of c.members.values()) m.child.kill('SIGKILL');
  await sleep(200);
  rmSync(c.dir, { recursive: true, force: true });
}

/** The pids of a cluster's members still running. */
const livePids = (c) => [...c.members.values()].filter((m) => m.child.exitCode === null && m.child.signalCode === null).map((m) => m.child.pid);

/** One load run of the peers harness against the cluster, given one server's URL; returns its JSON result. */
function load(c, label, env = {}, { inflight = 32, reset = true, pids = livePids(c) } = {}) {
  const first = c.config.stripes[0].servers[0].listen[0];
  const args = [
    path.join(peersDir, 'bench.mjs'),
    ...['--target', 'kiln', '--target-module', path.join(benchDir, 'kiln-target.mjs'), '--endpoints', new URL(first).host, '--server-pids', pids.join(',')],
    ...(reset ? [] : ['--no-reset']),
    ...['--clients', '8', '--inflight', String(inflight), '--events', '400000', '--size', '100', '--streams', '1000', '--max-seconds', String(SECONDS), '--label', label, '--out', outFile, '--quiet'],
  ];
  return new Promise((resolve, reject) => {
    const child = track(spawn(process.execPath, args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, KILN_EXPECTED: 'any', KILN_URLS: first, ...env } }));
    const timer = setTimeout(() => child.kill('SIGKILL'), (SECONDS + 120) * 1000);
    child.stdout.resume();
    child.once('exit', (code) => {
      clearTimeout(timer);
      const lines = readFileSync(outFile, 'utf8').trim().split('\n');
      const result = JSON.parse(lines[lines.length - 1]);
      // 4 with status 'partial' is a run that stopped at --max-seconds before all its events: still a measurement.
      const measured = result.label === label && result.failed === 0 && (code === 0 || (code === 4 && result.status === 'partial'));
      if (!measured) reject(new Error(`${label}: bench.mjs exited with ${code} (status ${result.status}, ${result.failed} failed)`));
      else resolve(result);
    });
  });
}

const usPerAppend = (r) => (r.server.cpuSeconds * 1e6) / r.acked;
const rows = [];

async function scale(even) {
  for (const servers of [1, 2]) {
    for (const stripes of [1, 2, 4]) {
      const shape = { stripes, servers, voters: servers === 2 ? 1 : 0 };
      const label = `stripes-${stripes}x${servers}${shape.voters ? '+v' : ''}${even ? '-even' : ''}`;
      console.error(`stripes bench: ${label}`);
      const c = await startCluster(shape, label);
      try {
        const r = await load(c, label, {}, { inflight: even ? 32 * stripes : 32 });
        rows.push({ label, even, stripes, servers, voters: shape.voters, appendsPerSec: r.appendsPerSec, usPerAppend: usPerAppend(r), p99: r.latencyMs?.p99 ?? null });
      } finally {
        await stopCluster(c);
      }
      // Right after the stripes it stands beside: the machine's load from others drifts over minutes.
      if (!even && servers === 1 && stripes > 1 && PARTS.has('alone')) await alone(stripes);
    }
  }
}

/** A hash tag whose slot the first of two stripes holds: every tagged stream lands on alpha. */
function tagOnFirstOfTwo() {
  const table = SlotTable.initial(2);
  for (let i = 0; ; i++) if (table.stripeOfSlot(slotOf(`t${i}`)) === 0) return `t${i}`;
}

/**
 * Two fresh clusters of 2 stripes × 2 servers + a voter, the same load on alpha's streams: one
 * with bravo up, one with every bravo server killed before the load. Each starts empty, so
 * neither run carries the other's heap.
 */
async function isolation() {
  const shape = { stripes: 2, servers: 2, voters: 1 };
  const env = { KILN_STREAM_TAG: tagOnFirstOfTwo() };
  const measure = async (label, killBravo) => {
    const c = await startCluster(shape, label);
    try {
      if (killBravo) {
        for (const s of c.config.stripes[1].servers) c.members.get(s.name).child.kill('SIGKILL');
        await sleep(1000);
      }
      return await load(c, label, env);
    } finally {
      await stopCluster(c);
    }
  };
  const before = await measure('isolation-bravo-up', false);
  const after = await measure('isolation-bravo-down', true);
  rows.push({ label: 'isolation', before: before.appendsPerSec, after: after.appendsPerSec, ratio: after.appendsPerSec / before.appendsPerSec, usBefore: usPerAppend(before), usAfter: usPerAppend(after) });
}

/**
 * Scale's load (8 clients x 32 in flight) over `n` independent one-server clusters, each stream to
 * the server its slot takes in a cluster of `n` stripes (kiln-target.mjs, KILN_SPLIT_URLS).
 */
async function alone(n) {
  const label = `alone-${n}`;
  console.error(`stripes bench: ${label}`);
  const clusters = [];
  try {
    for (let i = 0; i < n; i++) clusters.push(await startCluster({ stripes: 1, servers: 1, voters: 0 }, `${label}-${i}`));
    const urls = clusters.map((c) => c.config.stripes[0].servers[0].listen[0]);
    const r = await load(clusters[0], label, { KILN_SPLIT_URLS: urls.join(',') }, { pids: clusters.flatMap(livePids) });
    rows.push({ label, alone: true, stripes: n, servers: 1, voters: 0, appendsPerSec: r.appendsPerSec, usPerAppend: usPerAppend(r), p99: r.latencyMs?.p99 ?? null });
  } finally {
    for (const c of clusters) await stopCluster(c);
  }
}

const PAYLOAD = new Uint8Array(100).fill(120);
const clientOptions = { transports: [tcpTransport()], name: 'bench-rate', requestTimeoutMs: 60_000 };
/**
 * Clients the rate part spreads each stripe's appends over, in turn: on a machine shared with
 * other work the generator can stall for a second, and then sends what fell due at once, which
 * must not reach one connection's cap of requests in flight.
 */
const RATE_CLIENTS = 8;

/** `count` clients of one URL, and an append on a stripe that takes that stripe's next client. */
async function roundRobin(url, count) {
  const clients = await Promise.all(Array.from({ length: count }, (_, i) => connect(url, { ...clientOptions, name: `bench-rate-${i}` })));
  const next = [];
  return {
    append: (stripe, stream) => {
      next[stripe] = ((next[stripe] ?? -1) + 1) % count;
      return clients[next[stripe]].append(stream, [{ type: 'Ev', data: PAYLOAD }]);
    },
    close: () => Promise.all(clients.map((c) => c.close())),
  };
}

/** `RATE` appends/s on each stripe's own streams, for SECONDS (the first quarter, at most 3 s, not measured). */
async function fixedRate(appendOn, stripes, pids) {
  const warmupSeconds = Math.min(3, SECONDS / 4);
  const streams = streamsPerStripe(stripes, 64);
  // Every client dials a stripe on its first operation there: do that before the clock starts.
  await Promise.all(streams.flatMap((list, stripe) => Array.from({ length: RATE_CLIENTS }, () => appendOn(stripe, list[0]))));
  return runFixedRate({ appendOn, streams, ratePerStripe: RATE, warmupSeconds, measureSeconds: SECONDS - warmupSeconds, pids });
}

/**
 * Weak scaling: the same rate per stripe over 1, 2, 4 stripes (one server each, then 2 servers +
 * the shared voter each), through one cluster-aware client given one server's URL; after the
 * one-server rows, the same rate per server over 2 and 4 independent one-server clusters.
 */
async function rate() {
  for (const servers of [1, 2]) {
    for (const stripes of [1, 2, 4]) {
      const shape = { stripes, servers, voters: servers === 2 ? 1 : 0 };
      const label = `rate-${stripes}x${servers}${shape.voters ? '+v' : ''}`;
      console.error(`stripes bench: ${label}`);
      const c = await startCluster(shape, label);
      const client = await roundRobin(c.config.stripes[0].servers[0].listen[0], RATE_CLIENTS);
      try {
        const r = await fixedRate((stripe, stream) => client.append(stripe, stream), stripes, livePids(c));
        rows.push({ label, rate: true, stripes, servers, voters: shape.voters, ...r });
        console.error(`  ${r.usPerAppend.toFixed(1)} µs/append, ${Math.round(r.appendsPerSec)}/s, p99 ${r.p99.toFixed(2)} ms, machine ${(r.machineBusy * 100).toFixed(0)} % busy`);
      } finally {
        await client.close();
        await stopCluster(c);
      }
      if (servers === 1 && stripes > 1) await rateAlone(stripes);
    }
  }
}

/** The rate part's load over `n` independent one-server clusters, one client each: no stripe code. */
async function rateAlone(n) {
  const label = `rate-alone-${n}`;
  console.error(`stripes bench: ${label}`);
  const clusters = [];
  const clients = [];
  try {
    for (let i = 0; i < n; i++) clusters.push(await startCluster({ stripes: 1, servers: 1, voters: 0 }, `${label}-${i}`));
    for (const c of clusters) clients.push(await roundRobin(c.config.stripes[0].servers[0].listen[0], RATE_CLIENTS));
    const r = await fixedRate((stripe, stream) => clients[stripe].append(0, stream), n, clusters.flatMap(livePids));
    rows.push({ label, rate: true, alone: true, stripes: n, servers: 1, voters: 0, ...r });
    console.error(`  ${r.usPerAppend.toFixed(1)} µs/append, ${Math.round(r.appendsPerSec)}/s, p99 ${r.p99.toFixed(2)} ms, machine ${(r.machineBusy * 100).toFixed(0)} % busy`);
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    for (const c of clusters) await stopCluster(c);
  }
}

try {
  if (PARTS.has('scale')) await scale(false);
  if (PARTS.has('even')) await scale(true);
  if (PARTS.has('isolation')) await isolation();
  // With scale, each runs beside its stripes (above).
  if (PARTS.has('alone') && !PARTS.has('scale')) for (const n of [2, 4]) await alone(n);
  if (PARTS.has('rate')) await rate();
} finally {
  killAll();
}
const f = (x, d = 1) => (x === null || x === undefined ? 'n/a' : x.toFixed(d));
const closedRows = rows.filter((x) => x.label !== 'isolation' && !x.rate);
const lines = closedRows.length ? ['| shape | load | appends/s | server CPU µs/append | p99 ms |', '| --- | --- | ---: | ---: | ---: |'] : [];
for (const r of closedRows) {
  if (r.alone) {
    lines.push(`| ${r.stripes} independent one-server clusters (no stripes) | 8 × 32, split as over ${r.stripes} stripes | ${Math.round(r.appendsPerSec)} | ${f(r.usPerAppend)} | ${f(r.p99, 2)} |`);
    continue;
  }
  lines.push(`| ${r.stripes} stripe(s) × ${r.servers} server(s)${r.voters ? ' + shared voter' : ''} | ${r.even ? `8 × ${32 * r.stripes} (32 per stripe)` : '8 × 32'} | ${Math.round(r.appendsPerSec)} | ${f(r.usPerAppend)} | ${f(r.p99, 2)} |`);
}
const iso = rows.find((x) => x.label === 'isolation');
if (iso) {
  lines.push('', `isolation (2 stripes × 2 servers + voter, load on alpha's streams, each run on a fresh cluster): ${Math.round(iso.before)} appends/s (${f(iso.usBefore)} µs/append) with bravo up, ${Math.round(iso.after)} (${f(iso.usAfter)} µs/append) with every bravo server killed: ${f(iso.ratio * 100)} %`);
}
const rateRows = rows.filter((x) => x.rate);
if (rateRows.length) {
  lines.push(
    '',
    `Fixed rate (weak scaling): ${RATE} appends/s offered per stripe, open loop (latency from each append's scheduled time), ${SECONDS} s per row of which the first ${Math.min(3, SECONDS / 4)} s are not measured; machine busy: the share of all ${os.cpus().length} cores busy over the window, other processes included.`,
    '',
    '| shape | offered appends/s | appends/s | p50 ms | p99 ms | server CPU µs/append | server CPU (cores) | machine busy | load avg |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const r of rateRows) {
    const shape = r.alone ? `${r.stripes} independent one-server clusters (no stripes)` : `${r.stripes} stripe(s) × ${r.servers} server(s)${r.voters ? ' + shared voter' : ''}`;
    const cores = r.cpuSeconds / (r.acked / r.appendsPerSec);
    lines.push(`| ${shape} | ${RATE * r.stripes} | ${Math.round(r.appendsPerSec)} | ${f(r.p50, 2)} | ${f(r.p99, 2)} | ${f(r.usPerAppend)} | ${f(cores, 2)} | ${f(r.machineBusy * 100, 0)} % | ${f(r.load1, 2)} |`);
  }
}
console.log(lines.join('\n'));
appendFileSync(outFile, JSON.stringify({ summary: rows }) + '\n');
