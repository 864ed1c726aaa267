// TLS against plain TCP (issue 12): a single server and a mirror group (2 servers + voter, mutual
// TLS on the peer links, certificates from `kiln certs`), each started twice from a cluster file,
// once with tcp:// everywhere and once with tls:// everywhere; appends/s and p50/p99 under
// 8 clients x 32 in flight and 1 x 1; then connections per second against the single server
// (connect with the Kiln hello, then close; sequential and 8 in parallel), and the same with TLS
// and auth (a token, and a user's scrypt password, checked on every connection) against plain
// without auth (part connections-auth). Prints one markdown table with the TLS/plain ratios.
// Standalone: build first (`npm run build`).
//
//   node bench/tls.mjs [--seconds 10] [--parts single,mirrored,connections,connections-auth] [--persistence memory|restartable]
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { connect } from '@kiln/core/client';
import { tcpTransport } from '@kiln/transport-tcp';
import { freePorts, sleep, startMember } from './cluster.mjs';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const CLI = path.join(REPO, 'packages/cli/dist/bin.js');
const PARTS = ['single', 'mirrored', 'connections', 'connections-auth'];
const WORKLOADS = [
  { name: '8x32', clients: 8, inflight: 32 },
  { name: '1x1', clients: 1, inflight: 1 },
];
const EVENT_BYTES = 100;
const STREAMS = 1000;
const WARMUP_MS = 1000;
const PARALLEL_CONNECTIONS = 8;

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, parts: { type: 'string', default: PARTS.join(',') }, persistence: { type: 'string', default: 'memory' } } });
const seconds = Number(values.seconds);
const parts = values.parts.split(',').filter(Boolean);
if (!(seconds > 0) || parts.some((p) => !PARTS.includes(p)) || !['memory', 'restartable'].includes(values.persistence)) {
  console.error(`usage: node bench/tls.mjs [--seconds N] [--parts ${PARTS.join(',')}] [--persistence memory|restartable]`);
  process.exit(2);
}

const BENCH_PASSWORD = 'bench-password';

const children = new Set();
const track = (child) => {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
};
const root = mkdtempSync(path.join(tmpdir(), 'kiln-bench-tls-'));
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(root, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(130));

/** A cluster file of `servers` servers and `voters` voters on free ports, plain or TLS (with `kiln certs`). */
async function startCluster({ tls, servers, voters, auth = false }) {
  const dir = mkdtempSync(path.join(root, tls ? 'tls-' : 'plain-'));
  const scheme = tls ? 'tls' : 'tcp';
  const grouped = servers + voters > 1;
  const ports = await freePorts(servers * (grouped ? 2 : 1) + voters);
  const certs = (name) => (tls ? { tls: { certFile: `./certs/${name}.pem`, keyFile: `./certs/${name}-key.pem` } } : {});
  const dataDir = (name) => (values.persistence === 'restartable' ? { dataDir: path.join(dir, name) } : {});
  const config = {
    cluster: 'bench-tls',
    persistence: values.persistence,
    ...(tls && { tls: { caFile: './certs/ca.pem' } }),
    servers: Array.from({ length: servers }, (_, i) => ({
      name: `s${i + 1}`,
      listen: [`${scheme}://127.0.0.1:${ports.pop()}`],
      ...(grouped && { peer: `${scheme}://127.0.0.1:${ports.pop()}` }),
      ...dataDir(`s${i + 1}`),
      ...certs(`s${i + 1}`),
    })),
    voters: Array.from({ length: voters }, (_, i) => ({ name: `v${i + 1}`, peer: `${scheme}://127.0.0.1:${ports.pop()}`, ...dataDir(`v${i + 1}`), ...certs(`v${i + 1}`) })),
  };
  const secrets = auth ? await benchSecrets() : undefined;
  if (secrets) {
    config.auth = {
      roles: [{ name: 'bench', grants: [{ prefix: '*', permissions: ['read', 'write'] }] }],
      users: [{ name: 'bench', passwordHash: secrets.passwordHash, roles: ['bench'] }],
      tokens: [{ name: 'bench', tokenHash: secrets.tokenHash, roles: ['bench'] }],
    };
  }
  const file = path.join(dir, 'kiln.config.json');
  writeFileSync(file, JSON.stringify(config, null, 2));
  if (tls) await promisify(execFile)(process.execPath, [CLI, 'certs', '--config', file, '--out', path.join(dir, 'certs')]);
  const transports = [tcpTransport(tls ? { tls: { ca: readFileSync(path.join(dir, 'certs', 'ca.pem'), 'utf8') } } : {})];
  const members = [...config.servers.map((s) => ({ name: s.name, voter: false })), ...config.voters.map((v) => ({ name: v.name, voter: true }))];
  const started = await Promise.all(members.map((m) => startMember({ cliBin: CLI, repoRoot: REPO, file, name: m.name, voter: m.voter, logFile: path.join(dir, `${m.name}.log`), track })));
  const urls = await activeFirst(config.servers.map((s) => s.listen[0]), transports, secrets && { token: secrets.token });
  return {
    urls,
    options: { transports },
    credentials: secrets && { token: { token: secrets.token }, password: { username: 'bench', password: BENCH_PASSWORD } },
    async stop() {
      await Promise.all(started.map(({ child }) => new Promise((resolve) => (child.exitCode !== null ? resolve() : (child.once('exit', resolve), child.kill('SIGTERM'))))));
    },
  };
}

/** A token and its hash, and the hash of BENCH_PASSWORD, as `kiln token` and `kiln passwd` make them. */
async function benchSecrets() {
  const { stdout } = await promisify(execFile)(process.execPath, [CLI, 'token', '--json']);
  const { token, tokenHash } = JSON.parse(stdout);
  const passwd = promisify(execFile)(process.execPath, [CLI, 'passwd']);
  passwd.child.stdin.end(BENCH_PASSWORD);
  const passwordHash = (await passwd).stdout.trim().split('\n').pop();
  return { token, tokenHash, passwordHash };
}

/** The servers' client URLs, the active first, once it counts every server in sync (60 s deadline). */
async function activeFirst(urls, transports, credentials) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const statuses = await Promise.all(urls.map((url) => statusAt(url, transports, credentials)));
    const i = statuses.findIndex((s) => s?.state === 'ACTIVE-COORDINATOR' && (urls.length === 1 || s.group?.inSync.length === urls.length));
    if (i >= 0) return [urls[i], ...urls.filter((_, j) => j !== i)];
    await sleep(200);
  }
  throw new Error(`no active with every server in sync at ${urls.join(', ')} within 60 s`);
}

async function statusAt(url, transports, credentials) {
  const client = await connect(url, { transports, reconnectWindowMs: 0, requestTimeoutMs: 2000, ...(credentials && { credentials }) }).catch(() => undefined);
  return client?.serverStatus().catch(() => undefined).finally(() => client.close());
}

/** Closed-loop appends for `seconds` after a warm-up: appends/s and latency percentiles (ms). */
async function appendLoad(cluster, { clients, inflight }) {
  const payload = Buffer.alloc(EVENT_BYTES, 0x61);
  const conns = await Promise.all(Array.from({ length: clients }, () => connect(cluster.urls, { ...cluster.options, requestTimeoutMs: 60_000 })));
  const latencies = [];
  let errors = 0;
  let measuring = false;
  let stopping = false;
  let next = 0;
  const loops = conns.flatMap((client) =>
    Array.from({ length: inflight }, async () => {
      while (!stopping) {
        const started = performance.now();
        try {
          await client.append(`s-${next++ % STREAMS}`, [{ type: 'Ev', data: payload }]);
          if (measuring) latencies.push(performance.now() - started);
        } catch {
          errors++;
        }
      }
    }),
  );
  await sleep(WARMUP_MS);
  measuring = true;
  const t0 = performance.now();
  await sleep(seconds * 1000);
  measuring = false;
  const elapsed = (performance.now() - t0) / 1000;
  stopping = true;
  await Promise.all(loops);
  await Promise.all(conns.map((c) => c.close()));
  if (errors > 0) throw new Error(`${errors} appends failed`);
  latencies.sort((a, b) => a - b);
  return { rate: latencies.length / elapsed, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99) };
}

/** Connections opened (TLS handshake and Kiln hello) and closed per second, by `parallel` loops. */
async function connectionLoad(cluster, parallel) {
  let opened = 0;
  const deadline = performance.now() + seconds * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (performance.now() < deadline) {
        const client = await connect(cluster.urls[0], { ...cluster.options, reconnectWindowMs: 0 });
        await client.close();
        opened++;
      }
    }),
  );
  return opened / ((performance.now() - t0) / 1000);
}

const percentile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;

/** Rows of { part, workload, metric, plain, tls }. */
const rows = [];
async function measurePart(part, shape) {
  const results = {};
  for (const tls of [false, true]) {
    const cluster = await startCluster({ tls, ...shape, auth: tls && part === 'connections-auth' });
    try {
      if (part === 'connections-auth') {
        // Plain: no auth; TLS: auth on, each connection with a token or a user's password.
        const kinds = tls ? Object.entries(cluster.credentials) : [['token', undefined], ['password', undefined]];
        for (const [kind, credentials] of kinds) {
          const opts = { ...cluster, options: { ...cluster.options, ...(credentials && { credentials }) } };
          results[tls] = { ...results[tls], [`sequential, ${kind}`]: await connectionLoad(opts, 1), [`${PARALLEL_CONNECTIONS} parallel, ${kind}`]: await connectionLoad(opts, PARALLEL_CONNECTIONS) };
        }
      } else if (part === 'connections') {
        results[tls] = { sequential: await connectionLoad(cluster, 1), [`${PARALLEL_CONNECTIONS} parallel`]: await connectionLoad(cluster, PARALLEL_CONNECTIONS) };
      } else {
        for (const w of WORKLOADS) results[tls] = { ...results[tls], [w.name]: await appendLoad(cluster, w) };
      }
    } finally {
      await cluster.stop();
    }
    console.error(`${part} ${tls ? 'tls' : 'plain'}: ${JSON.stringify(results[tls])}`);
  }
  for (const workload of Object.keys(results[false])) {
    const [plain, tls] = [results[false][workload], results[true][workload]];
    if (part.startsWith('connections')) rows.push({ part, workload, metric: 'connections/s', plain, tls });
    else for (const [metric, key] of [['appends/s', 'rate'], ['p50 ms', 'p50'], ['p99 ms', 'p99']]) rows.push({ part, workload, metric, plain: plain[key], tls: tls[key] });
  }
}

const SHAPES = { single: { servers: 1, voters: 0 }, mirrored: { servers: 2, voters: 1 }, connections: { servers: 1, voters: 0 }, 'connections-auth': { servers: 1, voters: 0 } };
for (const part of PARTS.filter((p) => parts.includes(p))) await measurePart(part, SHAPES[part]);

const show = (n) => (n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2));
console.log(`\nTLS vs plain TCP, ${values.persistence} mode, ${seconds} s per row (after ${WARMUP_MS / 1000} s warm-up); ${EVENT_BYTES}-byte events, expectedVersion 'any'\n`);
console.log('| part | workload | metric | plain | TLS | TLS/plain |');
console.log('|---|---|---|---:|---:|---:|');
for (const r of rows) console.log(`| ${r.part} | ${r.workload} | ${r.metric} | ${show(r.plain)} | ${show(r.tls)} | ${(r.tls / r.plain).toFixed(2)} |`);
process.exit(0);
