#!/usr/bin/env node
// Transactions over two stripes against the same transactions on one stripe (issue 10's figures),
// every member its own `kiln` process: 2 stripes × 2 servers + a shared voter, memory and
// restartable. Clients each run transactions of two streams in a loop (one in flight per client):
// once with the two streams on different stripes, once hash-tagged onto one stripe. Then the
// recovery: under the cross-stripe load, the coordinator's active is killed with SIGKILL and the
// time to the first transaction on the same streams that commits is measured, against the same
// for the hash-tagged load (a single-stripe failover).
//
//   node bench/cross-stripe.mjs [--seconds 20] [--clients 8] [--modes memory,restartable]
//        [--kinds one,cross] [--skip-recovery] [--cpu] [--checkout DIR] [--profile DIR] [--rate R]
//
// `--rate R` adds an open-loop run of each kind at the same load: R transactions/s in total,
// started on a fixed schedule over the clients' connections whatever the answers do, each on a
// pair of its own unless that pair is still in flight (then it waits its turn). Latency counts
// from the transaction's scheduled start, so a stall delays every transaction scheduled in it
// (no coordinated omission). Node's timers are ms-grained, so the generator itself takes a
// transaction up ~0.5 ms after its schedule: the figures from the take-up (a wait for its pair
// still counts) are printed beside, with that lateness.
// `--cpu` prints each member's CPU (user + system, from /proc) and read and write calls per
// transaction over the measured window; `--checkout DIR` runs the members from another built checkout (a before/after on one
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

/** C clients each running transactions on their pair for `seconds`; returns latencies (ms) and the rate. */
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
  return { rate: latencies.length / seconds, ...quantiles(latencies), failed };
}

function quantiles(values) {
  values.sort((x, y) => x - y);
  const q = (f) => values[Math.min(values.length - 1, Math.floor(f * values.length))];
  return { p50: q(0.5), p99: q(0.99) };
}

/**
 * Open loop: RATE transactions/s in total for `seconds`, the n-th scheduled at start + n / RATE
 * and sent on client n mod C, whatever the answers do. Latency counts from the schedule.
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
  const takeUp = quantiles(fromTakeUp);
  return { rate: latencies.length / seconds, ...quantiles(latencies), failed, lagP50: quantiles(lags).p50, takeUpP50: takeUp.p50, takeUpP99: takeUp.p99 };
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

/** User and system CPU of a process so far, in ms, from /proc (Linux). */
function cpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th, in 1/100 s.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) * 10 + Number(fields[12]) * 10;
}

/** Read and write system calls of a process so far, from /proc (Linux): socket reads count its wake-ups, writes the peers'. */
function ioCalls(pid) {
  const io = readFileSync(`/proc/${pid}/io`, 'utf8');
  return { reads: Number(/syscr: (\d+)/.exec(io)[1]), writes: Number(/syscw: (\d+)/.exec(io)[1]) };
}

/** `load`, with each member's CPU µs per transaction over it when `--cpu` is given. */
async function measuredLoad(c, kind, open = false) {
  const actives = new Set(await waitActives(c));
  const before = new Map([...c.members].map(([name, m]) => [name, { cpu: cpuMs(m.child.pid), ...ioCalls(m.child.pid) }]));
  const fromUs = process.hrtime.bigint() / 1000n;
  const r = open ? await openLoad(c, kind, SECONDS) : await load(c, kind, SECONDS);
  const toUs = process.hrtime.bigint() / 1000n;
  const count = r.rate * SECONDS;
  const cpu = [...c.members].map(([name, m]) => {
    const { cpu, reads, writes } = before.get(name);
    const now = ioCalls(m.child.pid);
    return `${name}${actives.has(name) ? ' (active)' : ''} ${(((cpuMs(m.child.pid) - cpu) * 1000) / count).toFixed(0)} (${((now.reads - reads) / count).toFixed(2)} reads, ${((now.writes - writes) / count).toFixed(2)} writes)`;
  });
  if (flags.cpu) console.error(`  CPU µs (read, write calls) per transaction: ${cpu.join(', ')}`);
  if (flags.profile) console.error(`  profiles of ${[...c.members].map(([name, m]) => `${name} pid ${m.child.pid}`).join(', ')}; measured window: --from ${fromUs} --to ${toUs}`);
  return r;
}

const rows = [];
for (const mode of flags.modes.split(',')) {
  for (const kind of flags.kinds.split(',')) {
    const c = await startCluster(mode);
    try {
      await load(c, kind, 2); // warm up
      const r = await measuredLoad(c, kind);
      console.error(`${mode} ${kind}: ${Math.round(r.rate)} tx/s (${r.failed} failed), p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms`);
      const open = RATE === undefined ? undefined : await measuredLoad(c, kind, true);
      if (open) console.error(`${mode} ${kind} at ${RATE} tx/s: ${Math.round(open.rate)} tx/s (${open.failed} failed), p50 ${open.p50.toFixed(2)} ms, p99 ${open.p99.toFixed(2)} ms; from take-up p50 ${open.takeUpP50.toFixed(2)} ms, p99 ${open.takeUpP99.toFixed(2)} ms (generator lag p50 ${open.lagP50.toFixed(2)} ms)`);
      const failoverMs = flags['skip-recovery'] ? null : await recovery(c, kind);
      rows.push({ mode, kind, ...r, open, failoverMs });
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
  if (one && cross) lines.push(`${mode}: two stripes / one stripe: p50 ${f(cross.p50 / one.p50)}×, p99 ${f(cross.p99 / one.p99)}×, tx/s ${f(cross.rate / one.rate)}×; recovery ${cross.failoverMs} ms vs ${one.failoverMs} ms`);
  if (one?.open && cross?.open) lines.push(`${mode}, same load (open loop, ${RATE} tx/s): two stripes / one stripe: p50 ${f(cross.open.p50)} / ${f(one.open.p50)} ms = ${f(cross.open.p50 / one.open.p50)}×, p99 ${f(cross.open.p99 / one.open.p99)}×; from take-up p50 ${f(cross.open.takeUpP50)} / ${f(one.open.takeUpP50)} ms = ${f(cross.open.takeUpP50 / one.open.takeUpP50)}×`);
}
console.log(lines.join('\n'));
process.exit(0);
