#!/usr/bin/env node
// What the machine alone charges the hops of issue 10's two transactions, with no Kiln code: a
// one-byte token follows a route over plain node processes (a full mesh of TCP loopback sockets,
// no delay), each process forwarding it at once (or after --work-us of busy CPU). Process 0 is
// the load generator. The default routes are the hops of a 2-stream transaction:
//   one stripe:  client → a1 → a2 → a1 → client                           (0,1,2,1,0)
//   two stripes: client → a1 → b1 → b2 → b1 → a1 → a2 → a1 → client       (0,1,3,4,3,1,2,1,0)
// Routes take turns, one token at a time, so a change in the shared machine's load falls on all.
// A hop among more processes costs more on a small VM (a sleeping process's CPU must be woken),
// so the two-stripe route's floor is more than twice the one-stripe route's.
//
// `--tokens N` sends N tokens along a route at once each round (as N closed-loop clients would; a
// token's latency counts from its own send), each tagged so its arrival is matched to it.
//
//   node bench/hop-floor.mjs [--rounds 3000] [--seconds S] [--tokens 1] [--work-us 0] [--route 0,1,2,1,0 --route ...]
//
// `--seconds S` ends the run after S seconds if the rounds have not ended it first.
//
// Prints p50 and p99 per route and per hop, and each route's p50 over the first's.
import net from 'node:net';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

/** Processes a route may name: a mesh of this many is cheap, and a typo cannot fork hundreds. */
const PROCESSES_MAX = 8;

const busyFor = (us) => {
  const end = performance.now() + us / 1000;
  while (performance.now() < end);
};

const connectTo = (port) =>
  new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
    socket.setNoDelay(true);
    socket.once('error', reject);
  });

/** Every token is padded to one length, so a socket's bytes split into tokens without framing. */
const TOKEN_BYTES = 2 + 16;

/** Bytes of a token: [tag, position in the route, ...route]. */
const tokenOf = (tag, route) => Buffer.from([tag, 1, ...route, ...new Array(TOKEN_BYTES - 2 - route.length).fill(0)]);

/** Calls `onToken` with each whole token a connection delivers (a read may hold several, or part of one under --tokens). */
const listen = (onToken) =>
  new Promise((resolve) => {
    const server = net.createServer((socket) => {
      socket.setNoDelay(true);
      let rest = Buffer.alloc(0);
      socket.on('data', (chunk) => {
        rest = rest.length === 0 ? chunk : Buffer.concat([rest, chunk]);
        let at = 0;
        for (; at + TOKEN_BYTES <= rest.length; at += TOKEN_BYTES) onToken(rest.subarray(at, at + TOKEN_BYTES));
        rest = rest.subarray(at);
      });
    });
    server.listen(0, '127.0.0.1', () => resolve(server));
  });

// Each process moves a token one step along its route and sends it on.
async function forwarder(self, workUs) {
  const peers = new Map();
  const server = await listen((token) => {
    busyFor(workUs);
    const next = Buffer.from(token);
    next[1] += 1;
    peers.get(next[next[1] + 2]).write(next);
  });
  process.on('message', async ({ ports }) => {
    for (const [i, port] of ports.entries()) if (i !== self) peers.set(i, await connectTo(port));
    process.send({ ready: true });
  });
  process.send({ port: server.address().port });
}

async function main() {
  const { values: flags } = parseArgs({ options: { rounds: { type: 'string', default: '3000' }, tokens: { type: 'string', default: '1' }, seconds: { type: 'string', default: 'Infinity' }, 'work-us': { type: 'string', default: '0' }, route: { type: 'string', multiple: true } } });
  const rounds = Number(flags.rounds);
  const tokens = Number(flags.tokens);
  if (!(Number.isInteger(tokens) && tokens >= 1 && tokens <= 255)) throw new Error('--tokens must be an integer from 1 to 255');
  const endMs = performance.now() + Number(flags.seconds) * 1000;
  if (!(Number(flags.seconds) > 0)) throw new Error('--seconds must be above 0');
  const workUs = Number(flags['work-us']);
  const routes = (flags.route ?? ['0,1,2,1,0', '0,1,3,4,3,1,2,1,0']).map((r) => r.split(',').map(Number));
  const count = Math.max(...routes.flat()) + 1;
  if (!(Number.isInteger(rounds) && rounds > 0) || !(workUs >= 0)) throw new Error('--rounds must be a positive integer and --work-us at least 0');
  if (!routes.every((r) => r.length >= 2 && r.length <= TOKEN_BYTES - 2 && r[0] === 0 && r.at(-1) === 0 && r.every((p, i) => Number.isInteger(p) && p >= 0 && p !== r[i + 1]))) throw new Error('a route starts and ends at 0 and never stays on one process');
  if (count > PROCESSES_MAX) throw new Error(`a route names at most ${PROCESSES_MAX} processes (0 to ${PROCESSES_MAX - 1})`);

  const children = [];
  process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));
  const arrivals = new Map();
  const server = await listen((token) => arrivals.get(token[0])());
  const ports = [server.address().port];
  for (let i = 1; i < count; i++) {
    const child = fork(fileURLToPath(import.meta.url), ['--forwarder', String(i), String(workUs)]);
    children.push(child);
    ports.push(await new Promise((resolve) => child.once('message', ({ port }) => resolve(port))));
  }
  await Promise.all(children.map((child) => {
    const ready = new Promise((resolve) => child.once('message', resolve));
    child.send({ ports });
    return ready;
  }));
  const peers = new Map();
  for (let i = 1; i < count; i++) peers.set(i, await connectTo(ports[i]));

  const latencies = routes.map(() => []);
  for (let round = 0; round < rounds && performance.now() < endMs; round++) {
    for (const [r, route] of routes.entries()) {
      await Promise.all(Array.from({ length: tokens }, (_, tag) => new Promise((resolve) => {
        const startMs = performance.now();
        arrivals.set(tag, () => {
          latencies[r].push(performance.now() - startMs);
          resolve();
        });
        peers.get(route[1]).write(tokenOf(tag, route));
      })));
      // The next token leaves on a later turn, as a closed-loop client's next transaction does.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  let firstP50 = 0;
  for (const [r, route] of routes.entries()) {
    const sorted = latencies[r].sort((a, b) => a - b);
    const p50 = sorted[sorted.length >> 1] * 1000;
    const p99 = sorted[Math.floor(sorted.length * 0.99)] * 1000;
    const hops = route.length - 1;
    firstP50 ||= p50;
    console.log(`route ${route.join(',')} (${hops} hops, ${tokens} token${tokens === 1 ? '' : 's'} at once, work ${workUs} µs a hop): p50 ${p50.toFixed(0)} µs (${(p50 / hops).toFixed(0)} a hop, ${(p50 / firstP50).toFixed(2)}× the first route), p99 ${p99.toFixed(0)} µs`);
  }
  process.exit(0);
}

if (process.argv[2] === '--forwarder') await forwarder(Number(process.argv[3]), Number(process.argv[4]));
else await main();
