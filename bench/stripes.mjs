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
//   node bench/stripes.mjs [--seconds 20] [--out FILE.jsonl] [--parts scale,even,isolation,alone]
//                                                                   (PEERS_DIR: the peers harness)
//
// scale: the same load (8 clients x 32 appends in flight) over 1, 2, 4 stripes; even: the same
// load PER STRIPE (32 in flight per client per stripe), so each stripe's group commits are as
// large as with one stripe and only what stripes cost each other shows.
//
// Prints a markdown table; every wait has a deadline, and every process started is killed at exit.
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { slotOf, SlotTable } from '@kiln/core';
import { freePorts, sleep, startMember, statusOf } from './cluster.mjs';

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(benchDir, '..');
const cliBin = path.join(repoRoot, 'packages/cli/dist/bin.js');
const peersDir = process.env.PEERS_DIR ?? path.resolve(repoRoot, '../shared/peers');
const { values: flags } = parseArgs({ options: { seconds: { type: 'string', default: '20' }, out: { type: 'string' }, parts: { type: 'string', default: 'scale,even,isolation,alone' } } });
const PARTS = new Set(flags.parts.split(','));
const SECONDS = Number(flags.seconds);
const outFile = flags.out ?? path.join(benchDir, 'out', `${new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-stripes.jsonl`);
mkdirSync(path.dirname(outFile), { recursive: true });

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
  await Promise.all(names.map(async ([name, voter]) => c.members.set(name, await startMember({ cliBin, repoRoot, file: c.file, name, voter, logFile: `${logBase}-${name}.log`, track }))));
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

try {
  if (PARTS.has('scale')) await scale(false);
  if (PARTS.has('even')) await scale(true);
  if (PARTS.has('isolation')) await isolation();
  // With scale, each runs beside its stripes (above).
  if (PARTS.has('alone') && !PARTS.has('scale')) for (const n of [2, 4]) await alone(n);
} finally {
  killAll();
}
const f = (x, d = 1) => (x === null || x === undefined ? 'n/a' : x.toFixed(d));
const lines = ['| shape | load | appends/s | server CPU µs/append | p99 ms |', '| --- | --- | ---: | ---: | ---: |'];
for (const r of rows.filter((x) => x.label !== 'isolation')) {
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
console.log(lines.join('\n'));
appendFileSync(outFile, JSON.stringify({ summary: rows }) + '\n');
