#!/usr/bin/env node
// Transactions over two stripes against the same transactions on one stripe (issue 10's figures),
// every member its own `kiln` process: 2 stripes × 2 servers + a shared voter, memory and
// restartable. Clients each run transactions of two streams in a loop (one in flight per client):
// once with the two streams on different stripes, once hash-tagged onto one stripe. Both kinds
// run on one cluster, in turns: each kind's measured time is cut into --rounds slices, one kind's
// slice then the other's (the order flipped every round), and each kind's figures pool its
// slices; a change in the shared machine's load then falls on both kinds alike. Then the
// recovery: under the cross-stripe load, the coordinator's active is killed with SIGKILL and the
// time to the first transaction on the same streams that commits is measured, against the same
// for the hash-tagged load (a single-stripe failover).
//
//   node bench/cross-stripe.mjs [--seconds 20] [--rounds 4] [--clients 8] [--modes memory,restartable]
//        [--kinds one,cross] [--skip-recovery] [--cpu] [--checkout DIR] [--profile DIR] [--rate R]
//
// `--rate R` adds an open-loop run of each kind at the same load: R transactions/s in total,
// started on a fixed schedule over the clients' connections whatever the answers do, each on a
// pair of its own unless that pair is still in flight (then it waits its turn). Latency counts
// from the transaction's scheduled start, so a stall delays every transaction scheduled in it
// (no coordinated omission). Node's timers are ms-grained, so the generator itself takes a
// transaction up ~0.5 ms after its schedule: the figures from the take-up (a wait for its pair
// still counts) are printed beside, with that lateness.
// `--cpu` prints each member's CPU (user + system, and system alone, from /proc) and read and write calls per
// transaction over the measured window, and the cores the servers and the load generator kept busy; `--checkout DIR` runs the members from another built checkout (a before/after on one
// load generator); `--profile DIR` runs them under `node --cpu-prof` (figures then not comparable).
// Prints a markdown table. Every process it starts is killed at exit.
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { slotOf, SlotTable } from '@kiln/core';
import { connect } from '@kiln/core/client';
import { tcpTransport } from '@kiln/transport-tcp';
import { freePorts, sleep, startMember, statusOf } from './cluster.mjs';

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(benchDir, '..');
const { values: flags } = parseArgs({
  options: {
    seconds: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '4' },
    clients: { type: 'string', default: '8' },
    modes: { type: 'string', default: 'memory,restartable' },
    kinds: { type: 'string', default: 'one,cross' },
    'skip-recovery': { type: 'boolean', default: false },
    cpu: { type: 'boolean', default: false },
    checkout: { type: 'string' },
    profile: { type: 'string' },
    rate: { type: 'string' },
  },
});
const checkout = flags.checkout ? path.resolve(flags.checkout) : repoRoot;
const cliBin = path.join(checkout, 'packages/cli/dist/bin.js');
const nodeArgs = flags.profile ? ['--cpu-prof', '--cpu-prof-dir', path.resolve(flags.profile)] : [];
const SECONDS = Number(flags.seconds);
const ROUNDS = Number(flags.rounds);
if (!(ROUNDS >= 1 && Number.isInteger(ROUNDS))) throw new Error('--rounds must be a positive integer');
const CLIENTS = Number(flags.clients);
const RATE = flags.rate === undefined ? undefined : Number(flags.rate);
/** Pairs an open-loop run cycles through: enough that one is rarely still in flight when its turn comes again. */
const OPEN_LOOP_PAIRS = 64;

const children = new Set();
const track = (child) => {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
};
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

async function startCluster(mode) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kiln-bench-xs-'));
  const ports = await freePorts(9);
  let p = 0;
  const server = (name) => ({ name, listen: [`tcp://127.0.0.1:${ports[p++]}`], peer: `tcp://127.0.0.1:${ports[p++]}`, ...(mode === 'restartable' ? { dataDir: path.join(dir, name) } : {}) });
  const config = {
    cluster: 'bench-xs',
    persistence: mode,
    electionTimeMs: 1000,
    mirrorTimeoutMs: 500,
    leaseMs: 400,
    reconnectWindowMs: 20000,
    stripes: [
      { name: 'alpha', servers: [server('a1'), server('a2')] },
      { name: 'bravo', servers: [server('b1'), server('b2')] },
    ],
    voters: [{ name: 'v1', peer: `tcp://127.0.0.1:${ports[p++]}`, ...(mode === 'restartable' ? { dataDir: path.join(dir, 'v1') } : {}) }],
  };
  const file = path.join(dir, 'kiln.config.json');
  writeFileSync(file, JSON.stringify(config));
  const members = new Map();
  const names = [['a1', false], ['a2', false], ['b1', false], ['b2', false], ['v1', true]];
  await Promise.all(names.map(async ([name, voter]) => members.set(name, await startMember({ cliBin, repoRoot: checkout, file, name, voter, logFile: path.join(dir, `${name}.log`), track, nodeArgs }))));
  const c = { dir, file, config, members };
  await waitActives(c);
  return c;
}

async function waitActives(c) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const actives = await Promise.all(c.config.stripes.map(async (stripe) => {
      const statuses = await Promise.all(stripe.servers.map((s) => statusOf(s.listen[0])));
      const i = statuses.findIndex((st) => st?.state === 'ACTIVE-COORDINATOR' && stripe.servers.every((s) => st.group?.inSync.includes(s.name)));
      return i >= 0 ? stripe.servers[i].name : null;
    }));
    if (actives.every(Boolean)) return actives;
    if (Date.now() > deadline) throw new Error('stripes not elected and in sync within 60 s');
    await sleep(200);
  }
}

async function stopCluster(c) {
  // Under the profiler, SIGTERM: members write their profiles as they exit.
  await Promise.all([...c.members.values()].map((m) => new Promise((resolve) => {
    if (m.child.exitCode !== null || m.child.signalCode !== null) return resolve();
    m.child.once('exit', resolve);
    m.child.kill(flags.profile ? 'SIGTERM' : 'SIGKILL');
    setTimeout(() => m.child.kill('SIGKILL'), 20_000).unref();
  })));
  rmSync(c.dir, { recursive: true, force: true });
}

/** `count` stream pairs: on two stripes (alpha and bravo), or hash-tagged onto alpha. */
function pairs(kind, count = CLIENTS) {
  const table = SlotTable.initial(2);
  const out = [];
  for (let n = 0; out.length < count; n++) {
    if (kind === 'cross') {
      const a = `x-${n}`;
      const b = `y-${n}`;
      if (table.stripeOfSlot(slotOf(a)) === 0 && table.stripeOfSlot(slotOf(b)) === 1) out.push([a, b]);
    } else if (table.stripeOfSlot(slotOf(String(n))) === 0) out.push([`x-{${n}}`, `y-{${n}}`]); // on alpha, the cross pairs' coordinator
  }
  return out;
}

/** C clients each running transactions on their pair for `seconds`; returns the latencies (ms) and the failures. */
async function load(c, kind, seconds, onCommit) {
  const url = c.config.stripes[0].servers[0].listen[0];
  const clients = await Promise.all(pairs(kind).map(() => connect(url, { transports: [tcpTransport()], reconnectWindowMs: 20000, requestTimeoutMs: 60000 })));
  const latencies = [];
  let failed = 0;
  const end = Date.now() + seconds * 1000;
  await Promise.all(clients.map(async (client, i) => {
    const [a, b] = pairs(kind)[i];
    for (let n = 0; Date.now() < end; n++) {
      const t0 = performance.now();
      try {
        const startedAt = Date.now();
        await client.transact([{ stream: a, events: [{ type: 'T', data: n }] }, { stream: b, events: [{ type: 'T', data: n }] }]);
        latencies.push(performance.now() - t0);
        onCommit?.(startedAt, Date.now());
      } catch {
        failed++;
      }
    }
  }));
  await Promise.all(clients.map((cl) => cl.close()));
  return { latencies, failed };
}

function quantiles(values) {
  values.sort((x, y) => x - y);
  const q = (f) => values[Math.min(values.length - 1, Math.floor(f * values.length))];
  return { p50: q(0.5), p99: q(0.99) };
}

/**
 * Open loop: RATE transactions/s in total for `seconds`, the n-th scheduled at start + n / RATE
 * and sent on client n mod C, whatever the answers do. Latency counts from the schedule; returns
 * it, the latency from the take-up and the generator's lateness (ms), and the failures.
 */
async function openLoad(c, kind, seconds) {
  const url = c.config.stripes[0].servers[0].listen[0];
  const clients = await Promise.all(Array.from({ length: CLIENTS }, () => connect(url, { transports: [tcpTransport()], reconnectWindowMs: 20000, requestTimeoutMs: 60000 })));
  const streamPairs = pairs(kind, OPEN_LOOP_PAIRS);
  // Each pair's last transaction: the next on that pair goes after it, still timed from its own schedule.
  const previous = streamPairs.map(() => Promise.resolve());
  const latencies = [];
  const fromTakeUp = [];
  const lags = [];
  const running = [];
  let failed = 0;
  const total = Math.round(RATE * seconds);
  const startMs = performance.now() + 10;
  const run = async (n, scheduledMs, takenMs) => {
    const [a, b] = streamPairs[n % streamPairs.length];
    lags.push(takenMs - scheduledMs);
    await previous[n % streamPairs.length];
    try {
      await clients[n % clients.length].transact([{ stream: a, events: [{ type: 'T', data: n }] }, { stream: b, events: [{ type: 'T', data: n }] }]);
      const doneMs = performance.now();
      latencies.push(doneMs - scheduledMs);
      fromTakeUp.push(doneMs - takenMs);
    } catch {
      failed++;
    }
  };
  for (let n = 0; n < total; ) {
    const now = performance.now();
    // Everything due by now goes now; then sleep until the next is due (timers are ms-grained).
    for (; n < total && startMs + (n * 1000) / RATE <= now; n++) {
      const ran = run(n, startMs + (n * 1000) / RATE, now);
      previous[n % streamPairs.length] = ran;
      running.push(ran);
    }
    if (n < total) await sleep(Math.max(0, startMs + (n * 1000) / RATE - performance.now()));
  }
  await Promise.all(running);
  await Promise.all(clients.map((cl) => cl.close()));
  return { latencies, fromTakeUp, lags, failed };
}

/** Under load, SIGKILL of alpha's active (the coordinator of every cross-stripe pair): ms to the first commit of a transaction begun after it. */
async function recovery(c, kind) {
  const [alphaActive] = await waitActives(c);
  let killedAt = 0;
  let firstAfter = 0;
  const running = load(c, kind, 8, (startedAt, now) => {
    if (killedAt && !firstAfter && startedAt > killedAt) firstAfter = now;
  });
  await sleep(2000);
  killedAt = Date.now();
  c.members.get(alphaActive).child.kill('SIGKILL');
  await running;
  return firstAfter ? firstAfter - killedAt : null;
}

/** CPU of a process so far, in ms, from /proc (Linux): user and system together, and system alone (the kernel's socket and wake-up work). */
function cpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th, in 1/100 s.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { cpu: Number(fields[11]) * 10 + Number(fields[12]) * 10, sys: Number(fields[12]) * 10 };
}

/** Read and write system calls of a process so far, from /proc (Linux): socket reads count its wake-ups, writes the peers'. */
function ioCalls(pid) {
  const io = readFileSync(`/proc/${pid}/io`, 'utf8');
  return { reads: Number(/syscr: (\d+)/.exec(io)[1]), writes: Number(/syscw: (\d+)/.exec(io)[1]) };
}

/** Each member's CPU ms and read and write calls so far. */
const usage = (c) => new Map([...c.members].map(([name, m]) => [name, { ...cpuMs(m.child.pid), ...ioCalls(m.child.pid) }]));

/**
 * The kinds' measured loads, in turns on one cluster: `ROUNDS` slices of SECONDS / ROUNDS each per
 * kind, the kinds' order flipped every round. Returns each kind's pooled figures (rate over its
 * slices' time); with `--cpu`, prints each member's CPU µs and calls per transaction of each kind.
 */
async function interleaved(c, kinds, open) {
  const actives = new Set(await waitActives(c));
  const slice = SECONDS / ROUNDS;
  const pooled = new Map(kinds.map((kind) => [kind, { latencies: [], fromTakeUp: [], lags: [], failed: 0, spent: new Map(), generatorCpuMs: 0, wallMs: 0 }]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const kind of round % 2 === 0 ? kinds : [...kinds].reverse()) {
      const p = pooled.get(kind);
      const before = usage(c);
      const generatorBefore = process.cpuUsage();
      const fromUs = process.hrtime.bigint() / 1000n;
      const r = open ? await openLoad(c, kind, slice) : await load(c, kind, slice);
      const toUs = process.hrtime.bigint() / 1000n;
      const generator = process.cpuUsage(generatorBefore);
      p.generatorCpuMs += (generator.user + generator.system) / 1000;
      p.wallMs += Number(toUs - fromUs) / 1000;
      for (const [name, now] of usage(c)) {
        const was = before.get(name);
        const sum = p.spent.get(name) ?? { cpu: 0, sys: 0, reads: 0, writes: 0 };
        p.spent.set(name, { cpu: sum.cpu + now.cpu - was.cpu, sys: sum.sys + now.sys - was.sys, reads: sum.reads + now.reads - was.reads, writes: sum.writes + now.writes - was.writes });
      }
      // Loops, not spreads: a slice may hold more latencies than a call takes arguments.
      for (const ms of r.latencies) p.latencies.push(ms);
      for (const ms of r.fromTakeUp ?? []) p.fromTakeUp.push(ms);
      for (const ms of r.lags ?? []) p.lags.push(ms);
      p.failed += r.failed;
      if (flags.profile) console.error(`  ${kind} round ${round + 1}: profiles of ${[...c.members].map(([name, m]) => `${name} pid ${m.child.pid}`).join(', ')}; measured window: --from ${fromUs} --to ${toUs}`);
    }
  }
  const figures = new Map();
  for (const [kind, p] of pooled) {
    const count = p.latencies.length;
    if (flags.cpu) {
      const each = [...p.spent].map(([name, { cpu, sys, reads, writes }]) => `${name}${actives.has(name) ? ' (active)' : ''} ${((cpu * 1000) / count).toFixed(0)} (${((sys * 1000) / count).toFixed(0)} system; ${(reads / count).toFixed(2)} reads, ${(writes / count).toFixed(2)} writes)`);
      console.error(`  ${kind}${open ? ` at ${RATE} tx/s` : ''}: CPU µs (of it system; read, write calls) per transaction: ${each.join(', ')}, load generator ${((p.generatorCpuMs * 1000) / count).toFixed(0)}`);
    }
    const takeUp = quantiles(p.fromTakeUp);
    let serverCpuMs = 0;
    for (const { cpu } of p.spent.values()) serverCpuMs += cpu;
    // Cores kept busy: below the machine's count, the load waits on wake-ups and hops, not on CPU.
    if (flags.cpu) console.error(`  ${kind}${open ? ` at ${RATE} tx/s` : ''}: cores busy ${(serverCpuMs / p.wallMs).toFixed(2)} (servers) + ${(p.generatorCpuMs / p.wallMs).toFixed(2)} (load generator) of ${os.cpus().length}`);
    figures.set(kind, { rate: count / SECONDS, ...quantiles(p.latencies), failed: p.failed, cpuUs: (serverCpuMs * 1000) / count, ...(open ? { lagP50: quantiles(p.lags).p50, takeUpP50: takeUp.p50, takeUpP99: takeUp.p99 } : {}) });
  }
  return figures;
}

const rows = [];
const kinds = flags.kinds.split(',');
for (const mode of flags.modes.split(',')) {
  const c = await startCluster(mode);
  try {
    for (const kind of kinds) await load(c, kind, 2); // warm up
    const closed = await interleaved(c, kinds, false);
    const open = RATE === undefined ? undefined : await interleaved(c, kinds, true);
    for (const kind of kinds) {
      const r = closed.get(kind);
      console.error(`${mode} ${kind}: ${Math.round(r.rate)} tx/s (${r.failed} failed), p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms`);
      const o = open?.get(kind);
      if (o) console.error(`${mode} ${kind} at ${RATE} tx/s: ${Math.round(o.rate)} tx/s (${o.failed} failed), p50 ${o.p50.toFixed(2)} ms, p99 ${o.p99.toFixed(2)} ms; from take-up p50 ${o.takeUpP50.toFixed(2)} ms, p99 ${o.takeUpP99.toFixed(2)} ms (generator lag p50 ${o.lagP50.toFixed(2)} ms)`);
      rows.push({ mode, kind, ...r, open: o, failoverMs: null });
    }
  } finally {
    await stopCluster(c);
  }
  if (flags['skip-recovery']) continue;
  // A failover ends the cluster it happens on: each kind's gets one of its own.
  for (const kind of kinds) {
    const c = await startCluster(mode);
    try {
      await load(c, kind, 2); // warm up
      rows.find((r) => r.mode === mode && r.kind === kind).failoverMs = await recovery(c, kind);
    } finally {
      await stopCluster(c);
    }
  }
}
const f = (x, d = 2) => (x === null || x === undefined ? 'n/a' : x.toFixed(d));
const lines = ['| mode | streams | tx/s | p50 ms | p99 ms | first commit after SIGKILL of alpha\'s active, ms |', '| --- | --- | ---: | ---: | ---: | ---: |'];
for (const r of rows) lines.push(`| ${r.mode} | ${r.kind === 'cross' ? 'two stripes' : 'one stripe (hash tag)'} | ${Math.round(r.rate)} | ${f(r.p50)} | ${f(r.p99)} | ${r.failoverMs ?? 'n/a'} |`);
lines.push('');
for (const mode of new Set(rows.map((r) => r.mode))) {
  const one = rows.find((r) => r.mode === mode && r.kind === 'one');
  const cross = rows.find((r) => r.mode === mode && r.kind === 'cross');
  if (one && cross) lines.push(`${mode}: two stripes / one stripe: p50 ${f(cross.p50 / one.p50)}×, p99 ${f(cross.p99 / one.p99)}×, tx/s ${f(cross.rate / one.rate)}×, servers' CPU per transaction ${f(cross.cpuUs, 0)} / ${f(one.cpuUs, 0)} µs = ${f(cross.cpuUs / one.cpuUs)}×; recovery ${cross.failoverMs} ms vs ${one.failoverMs} ms`);
  if (one?.open && cross?.open) lines.push(`${mode}, same load (open loop, ${RATE} tx/s): two stripes / one stripe: p50 ${f(cross.open.p50)} / ${f(one.open.p50)} ms = ${f(cross.open.p50 / one.open.p50)}×, p99 ${f(cross.open.p99 / one.open.p99)}×; from take-up p50 ${f(cross.open.takeUpP50)} / ${f(one.open.takeUpP50)} ms = ${f(cross.open.takeUpP50 / one.open.takeUpP50)}×; servers' CPU per transaction ${f(cross.open.cpuUs, 0)} / ${f(one.open.cpuUs, 0)} µs = ${f(cross.open.cpuUs / one.open.cpuUs)}×`);
}
console.log(lines.join('\n'));
process.exit(0);
