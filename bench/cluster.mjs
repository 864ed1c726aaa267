// Mirror groups for bench/run.mjs: generate a cluster file on free 127.0.0.1 ports, start every
// member as its own process (`kiln start --config F --server N`, `kiln voter --config F --name N`),
// wait for an ACTIVE-COORDINATOR with every server in the in-sync set; plus the failover and
// rejoin measurements (issue #4). Every wait has a deadline; the caller owns process tracking.
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { connect } from '@kiln/core/client';
import { tcpTransport } from '@kiln/transport-tcp';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** `n` distinct free ports on 127.0.0.1 (bound together, then released). */
export async function freePorts(n) {
  const servers = [];
  const ports = [];
  for (let i = 0; i < n; i++) {
    const s = net.createServer();
    await new Promise((res, rej) => s.listen(0, '127.0.0.1', res).once('error', rej));
    servers.push(s);
    ports.push(s.address().port);
  }
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/**
 * Writes a cluster file for `servers` servers and `voters` voters in a fresh temp dir.
 * ws: also listen on ws://. Returns { dir, file, config, servers: [{name, tcp, ws, dataDir}], voters: [names] }.
 */
export async function makeGroup({ persistence, servers, voters, dataRoot, ws = false }) {
  const dir = mkdtempSync(path.join(dataRoot, 'kiln-bench-group-'));
  const ports = await freePorts(servers * (ws ? 3 : 2) + voters);
  let p = 0;
  const srv = [];
  for (let i = 0; i < servers; i++) {
    const name = `s${i + 1}`;
    const tcp = `tcp://127.0.0.1:${ports[p++]}`;
    const wsu = ws ? `ws://127.0.0.1:${ports[p++]}` : null;
    const peer = `tcp://127.0.0.1:${ports[p++]}`;
    const dataDir = path.join(dir, name);
    srv.push({ name, tcp, ws: wsu, peer, dataDir, listen: [tcp, ...(wsu ? [wsu] : [])] });
  }
  const vot = [];
  for (let i = 0; i < voters; i++) vot.push({ name: `v${i + 1}`, peer: `tcp://127.0.0.1:${ports[p++]}`, dataDir: path.join(dir, `v${i + 1}`) });
  const config = {
    cluster: 'bench',
    persistence,
    servers: srv.map((s) => ({ name: s.name, listen: s.listen, peer: s.peer, ...(persistence === 'restartable' ? { dataDir: s.dataDir } : {}) })),
    voters: vot.map((v) => ({ name: v.name, peer: v.peer, ...(persistence === 'restartable' ? { dataDir: v.dataDir } : {}) })),
  };
  const file = path.join(dir, 'kiln.config.json');
  writeFileSync(file, JSON.stringify(config, null, 2));
  return { dir, file, config, servers: srv, voters: vot.map((v) => v.name) };
}

/**
 * Starts one member; resolves { child, name } once it logged "listening on" (deadline 30 s).
 * `track(child)` registers it with the caller's child bookkeeping.
 */
export async function startMember({ cliBin, repoRoot, file, name, voter, logFile, track, nodeArgs = [] }) {
  const args = [...nodeArgs, cliBin, voter ? 'voter' : 'start', '--config', file, voter ? '--name' : '--server', name];
  const child = track(spawn(process.execPath, args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] }));
  const logStream = createWriteStream(logFile, { flags: 'a' });
  child.stdout.pipe(logStream, { end: false });
  child.stderr.pipe(logStream, { end: false });
  child.once('exit', () => setTimeout(() => logStream.end(), 100));
  let buffered = '';
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not log "listening on" within 30 s:\n${buffered.slice(-2000)}`)), 30_000);
    const onData = (c) => {
      buffered += c.toString('utf8');
      if (/listening on/.test(buffered)) {
        clearTimeout(timer);
        child.stderr.off('data', onData);
        resolve();
      }
    };
    child.stderr.on('data', onData);
    child.once('exit', (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code ?? sig}) before listening:\n${buffered.slice(-2000)}`));
    });
  });
  return { child, name, logStream };
}

/** One server's own status (no reconnect), or null when it does not answer within 2 s. */
export async function statusOf(url) {
  let c;
  try {
    c = await withTimeout(connect(url, { transports: [tcpTransport()], reconnectWindowMs: 0, requestTimeoutMs: 2000, name: 'bench-status' }), 3000);
    return await withTimeout(c.serverStatus(), 3000);
  } catch {
    return null;
  } finally {
    if (c) c.close().catch(() => {});
  }
}

async function withTimeout(p, ms) {
  let t;
  try {
    return await Promise.race([p, new Promise((_, rej) => (t = setTimeout(() => rej(new Error('timeout')), ms)))]);
  } finally {
    clearTimeout(t);
  }
}

/**
 * Polls every server until one is ACTIVE-COORDINATOR and its in-sync set holds every server.
 * Resolves { active: server, status, ms }; throws after `deadlineMs`.
 */
export async function waitInSync(group, deadlineMs = 60_000, names = group.servers.map((s) => s.name)) {
  const t0 = Date.now();
  let last = null;
  while (Date.now() - t0 < deadlineMs) {
    const sts = await Promise.all(group.servers.map((s) => statusOf(s.tcp)));
    for (let i = 0; i < sts.length; i++) {
      const st = sts[i];
      if (st?.state !== 'ACTIVE-COORDINATOR') continue;
      last = st;
      const inSync = st.group?.inSync ?? [];
      if (names.every((n) => inSync.includes(n))) return { active: group.servers[i], status: st, ms: Date.now() - t0 };
    }
    await sleep(200);
  }
  throw new Error(`no ACTIVE-COORDINATOR with in-sync set ${names.join(',')} within ${deadlineMs / 1000} s; last active status: ${JSON.stringify(last?.group ?? null)}`);
}

/** A closed-loop load: `clients` connections × `inflight` appends of `size` bytes, expectedVersion 'any'. */
export async function startLoad(urls, { clients, inflight, size, streams }) {
  const payload = Buffer.alloc(size, 0x61);
  const conns = await Promise.all(
    Array.from({ length: clients }, (_, i) =>
      connect(urls, { transports: [tcpTransport()], name: `bench-load-${i}`, requestTimeoutMs: 60_000, reconnectWindowMs: 30_000 }),
    ),
  );
  const state = { acked: 0, errors: 0, lastError: null, stopping: false };
  let seq = 0;
  const loops = [];
  for (let c = 0; c < clients; c++) {
    for (let k = 0; k < inflight; k++) {
      loops.push(
        (async () => {
          while (!state.stopping) {
            const s = (seq++ % Math.ceil(streams / clients)) * clients + c;
            try {
              await conns[c].append(`s-${s}`, [{ type: 'Ev', data: payload }]);
              state.acked++;
            } catch (e) {
              state.errors++;
              state.lastError = String(e?.message ?? e);
              await sleep(50);
            }
          }
        })(),
      );
    }
  }
  return {
    state,
    async stop() {
      state.stopping = true;
      await withTimeout(Promise.all(loops), 60_000).catch(() => {});
      await Promise.all(conns.map((c) => c.close().catch(() => {})));
    },
  };
}
