#!/usr/bin/env node
// What a mirror costs, process by process: a memory-mode group of 2 servers + 1 voter (as
// `memory-m1` in `npm run bench`), each member its own `kiln` process talking over real TCP on
// 127.0.0.1, fed raw pipelined `transact` frames (one ~100-byte event each, 1,000 streams) by a
// client that only encodes frames and reads replies. Prints each member's CPU µs per append (from
// /proc, so the client's own CPU is not in it) and the client's latency percentiles. `--single`
// runs a lone server the same way, for the active's mirrored / single ratio.
//
//   node bench/mirrored-appends.mjs [CHECKOUT] [--single] [--clients 8] [--in-flight 32]
//        [--appends 100000] [--warmup 20000] [--profile DIR]
//
// CHECKOUT is a built checkout (default: this one); its `kiln` runs the members. `--profile DIR`
// runs every member under `node --cpu-prof` (summarise with bench/profile-summary.mjs; the
// profiler costs CPU, so such a run's figures are not comparable). For before/after comparisons;
// the real figures come from `npm run bench`.
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values: flags, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    single: { type: 'boolean', default: false },
    clients: { type: 'string', default: '8' },
    'in-flight': { type: 'string', default: '32' },
    appends: { type: 'string', default: '100000' },
    warmup: { type: 'string', default: '20000' },
    profile: { type: 'string' },
  },
});
const root = path.resolve(positionals[0] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..'));
const CLIENTS = Number(flags.clients);
const IN_FLIGHT = Number(flags['in-flight']);
const APPENDS = Number(flags.appends);
const WARMUP = Number(flags.warmup);

const { makeGroup, startMember, waitInSync } = await import(path.join(root, 'bench/cluster.mjs'));
const core = await import(path.join(root, 'packages/core/dist/index.js'));
const { tcpTransport } = await import(path.join(root, 'packages/transport-tcp/dist/index.js'));
const { Encoder, Decoder } = await import(path.join(root, 'node_modules/@msgpack/msgpack/dist.esm/index.mjs'));
const encoder = new Encoder();
const decoder = new Decoder();

const children = new Set();
const track = (child) => {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
};
const group = await makeGroup({ persistence: 'memory', servers: flags.single ? 1 : 2, voters: flags.single ? 0 : 1, dataRoot: os.tmpdir() });
const nodeArgs = flags.profile ? ['--cpu-prof', '--cpu-prof-dir', path.resolve(flags.profile)] : [];
const cliBin = path.join(root, 'packages/cli/dist/bin.js');
const member = (name, voter) => startMember({ cliBin, repoRoot: root, file: group.file, name, voter, logFile: path.join(group.dir, `${name}.log`), track, nodeArgs });

try {
  const members = flags.single ? [await startSingle()] : await Promise.all([...group.servers.map((s) => member(s.name, false)), ...group.voters.map((v) => member(v, true))]);
  const active = flags.single ? members[0] : (await waitInSync(group, 60_000)).active;
  const pidOf = new Map(members.map((m) => [m.name, m.child.pid]));
  const roleOf = (name) => (name === active.name ? 'active' : group.voters.includes(name) ? 'voter' : 'mirror');

  const transport = tcpTransport();
  const connections = await Promise.all(Array.from({ length: CLIENTS }, () => openClient(active.tcp)));
  await load(connections, WARMUP);
  const before = new Map([...pidOf].map(([name, pid]) => [name, { cpu: cpuMs(pid), io: syscalls(pid) }]));
  const fromUs = process.hrtime.bigint() / 1000n;
  const latencies = await load(connections, APPENDS);
  const toUs = process.hrtime.bigint() / 1000n;
  const cpu = [...pidOf].map(([name, pid]) => {
    const { cpu: cpuBefore, io } = before.get(name);
    const now = syscalls(pid);
    const { user, system } = cpuMs(pid);
    const perAppend = (ms) => (ms * 1000) / APPENDS;
    return { name, role: roleOf(name), usPerAppend: perAppend(user + system - cpuBefore.user - cpuBefore.system), systemUs: perAppend(system - cpuBefore.system), reads: (now.reads - io.reads) / APPENDS, writes: (now.writes - io.writes) / APPENDS };
  });
  for (const c of connections) c.close('done');

  const total = cpu.reduce((sum, c) => sum + c.usPerAppend, 0);
  const shape = flags.single ? 'single server' : '2 servers + voter';
  console.log(`${shape}, memory, ${CLIENTS}x${IN_FLIGHT}, ${APPENDS} appends after ${WARMUP} warm-up; checkout ${root}`);
  for (const c of cpu) console.log(`  ${c.role.padEnd(6)} ${c.name}: ${c.usPerAppend.toFixed(2)} µs CPU per append (${c.systemUs.toFixed(2)} in the kernel); read and write calls per append ${c.reads.toFixed(3)}, ${c.writes.toFixed(3)}`);
  console.log(`  group:  ${total.toFixed(2)} µs CPU per append`);
  console.log(`  ${Math.round(latencies.perSecond)} appends/s, latency p50 ${latencies.p50.toFixed(3)} ms, p99 ${latencies.p99.toFixed(3)} ms, p99.9 ${latencies.p999.toFixed(3)} ms`);
  if (flags.profile) {
    const pids = [...pidOf].map(([name, pid]) => `${roleOf(name)} ${name}: pid ${pid}`).join(', ');
    console.log(`  profiles of ${pids}; measured window: node bench/profile-summary.mjs FILE --from ${fromUs} --to ${toUs}`);
  }

  /** A raw client connection: hello, then frames in and out. */
  async function openClient(url) {
    const connection = await transport.dial(url, core.defaultConnectionLimits);
    const frames = connection[Symbol.asyncIterator]();
    connection.send(encoder.encode([0, { version: core.PROTOCOL_VERSION, role: 'client' }]));
    await frames.next();
    return Object.assign(connection, { frames, id: 0 });
  }

  /** `count` appends over every connection, IN_FLIGHT each; resolves latency figures. */
  async function load(conns, count) {
    const events = encoder.encode([['id', 'E', { d: 'x'.repeat(80) }]]);
    let sent = 0;
    const latenciesMs = [];
    const started = performance.now();
    await Promise.all(
      conns.map(async (c, index) => {
        const sentAt = new Map();
        const sendNext = () => {
          if (sent >= count) return false;
          sent++;
          const id = ++c.id;
          sentAt.set(id, performance.now());
          c.send(encoder.encode([1, id, 'transact', [`bench-${index}`, id, [[`s-${id % 1000}-${index}`, 'any', events]]]]));
          return true;
        };
        for (let i = 0; i < IN_FLIGHT; i++) sendNext();
        while (sentAt.size > 0) {
          const next = await c.frames.next();
          if (next.done) throw new Error('the server closed the connection');
          const frame = decoder.decode(next.value);
          if (frame[0] !== 3) throw new Error(`not a result: ${JSON.stringify(frame)}`);
          latenciesMs.push(performance.now() - sentAt.get(frame[1]));
          sentAt.delete(frame[1]);
          sendNext();
        }
      }),
    );
    const elapsedMs = performance.now() - started;
    latenciesMs.sort((a, b) => a - b);
    const at = (q) => latenciesMs[Math.min(latenciesMs.length - 1, Math.floor(q * latenciesMs.length))];
    return { perSecond: (count / elapsedMs) * 1000, p50: at(0.5), p99: at(0.99), p999: at(0.999) };
  }
} finally {
  await Promise.all([...children].map(stop));
  rmSync(group.dir, { recursive: true, force: true });
}

/** A server without a group, as `npm run bench` starts one; resolves { name, child, tcp }. */
async function startSingle() {
  const child = track(spawn(process.execPath, [...nodeArgs, cliBin, 'start', '--memory', '--listen', 'tcp://127.0.0.1:0', '--name', 'single'], { stdio: ['ignore', 'ignore', 'pipe'] }));
  let log = '';
  const tcp = await new Promise((resolve, reject) => {
    child.stderr.on('data', (chunk) => {
      log += chunk.toString('utf8');
      const listening = /listening on (tcp:\/\/[^\s,()]+)/.exec(log);
      if (listening) resolve(listening[1]);
    });
    child.once('exit', (code) => reject(new Error(`the server exited (${code}) before listening:\n${log}`)));
  });
  return { name: 'single', child, tcp };
}

/** User and system CPU of a process so far, in ms, from /proc (Linux). */
function cpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th, in 1/100 s.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]) * 10, system: Number(fields[12]) * 10 };
}

/** Read and write system calls of a process so far, from /proc (Linux): socket reads and writes count. */
function syscalls(pid) {
  const io = readFileSync(`/proc/${pid}/io`, 'utf8');
  return { reads: Number(/syscr: (\d+)/.exec(io)[1]), writes: Number(/syscw: (\d+)/.exec(io)[1]) };
}

/** SIGTERM (members write their profiles as they exit), SIGKILL after 20 s. */
async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
}
