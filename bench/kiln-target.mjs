// Kiln as a target of the peer benchmark harness (../shared/peers, see its
// lib/targets.mjs for the contract and README.md "Adding Kiln"):
//
//   node <peers>/bench.mjs --target kiln --target-module bench/kiln-target.mjs \
//        --endpoints 127.0.0.1:<port> --server-pids <pid> ...
//
// One Kiln client (one TCP connection) per bench client. append() calls
// client.append() directly and returns its promise, so up to --inflight appends
// are outstanding on the connection (pipelined, never serialised here). Each
// append is one event `{ type: 'Ev', data: <payload bytes> }` to stream
// `s-<stream>`, with the expected version derived from the workload's version:
// the workload's `version` is the 1-based version the new event gets, Kiln's
// expectedVersion is the 0-based version of the stream's last event, so
// version 1 -> 'no-stream', version v -> v - 2. The workload gives each client
// its own streams, so no append ever conflicts.
//
// KILN_EXPECTED=any (environment) sends expectedVersion 'any' instead: no
// version check, like the redis and nats targets (which ignore versions).
//
// The promise resolves when the Kiln server has acknowledged the transaction:
// in memory mode the event is in the server's memory; in restartable mode it is
// written to LevelDB and fsynced, on one server (no replication).
import { SlotTable } from '@kiln/core';
import { connect as kilnConnect } from '@kiln/core/client';
import { tcpTransport } from '@kiln/transport-tcp';
import { wsTransport } from '@kiln/transport-ws';

const EVENT_TYPE = 'Ev';
// KILN_STREAM_TAG (environment) puts every stream under one hash tag, `s-<n>{TAG}`, so that all of
// them land on the stripe holding the tag (bench/stripes.mjs measures one stripe's rate this way).
const streamTag = process.env.KILN_STREAM_TAG ?? '';
const streamName = streamTag === '' ? (s) => `s-${s}` : (s) => `s-${s}{${streamTag}}`;

/** Kiln's expected version for an event that will get 1-based version `version`. */
export function expectedVersionFor(version) {
  return version === 1 ? 'no-stream' : version - 2;
}

const checkVersions = (process.env.KILN_EXPECTED ?? 'workload') !== 'any';
const expectedWhat = checkVersions ? 'expectedVersion from the workload' : "expectedVersion 'any'";

// KILN_URLS (environment, comma-separated) overrides --endpoints with full client URLs: ws://
// URLs select the WebSocket transport, and several URLs (every server of a mirror group) let
// the client follow the active. Without it: tcp://<first --endpoints entry>.
const envUrls = (process.env.KILN_URLS ?? '').split(/[\s,]+/).filter(Boolean);
for (const u of envUrls) {
  const h = new URL(u).hostname;
  if (h !== '127.0.0.1') throw new Error(`KILN_URLS: ${u} is not on 127.0.0.1`);
}

function urls(opts) {
  if (envUrls.length) return envUrls;
  const { host, port } = opts.endpoints[0];
  return [`tcp://${host.includes(':') ? `[${host}]` : host}:${port}`];
}
const url = (opts) => urls(opts).join(',');
const transportName = (opts) => (urls(opts)[0].startsWith('ws') ? 'WebSocket' : 'TCP');

// KILN_SPLIT_URLS (environment, comma-separated): several independent one-server clusters instead
// of one cluster. Each bench client has a client per server, and each stream goes to the server its
// slot would take in a cluster of that many stripes: the same split of the load over the same number
// of processes, with no stripe code (bench/stripes.mjs, part alone, measures what the split costs).
const splitUrls = (process.env.KILN_SPLIT_URLS ?? '').split(/[\s,]+/).filter(Boolean);
for (const u of splitUrls) {
  if (new URL(u).hostname !== '127.0.0.1') throw new Error(`KILN_SPLIT_URLS: ${u} is not on 127.0.0.1`);
}

/** One client per server of KILN_SPLIT_URLS, shaped as far as this target uses a client. */
async function openSplit(name) {
  const table = SlotTable.initial(splitUrls.length);
  const clients = await Promise.all(splitUrls.map((u) => kilnConnect(u, { transports: [tcpTransport()], name, requestTimeoutMs: 60_000 })));
  return {
    append: (stream, events, options) => clients[table.stripeOf(stream)].append(stream, events, options),
    statuses: () => Promise.all(clients.map((c) => c.serverStatus())),
    close: () => Promise.all(clients.map((c) => c.close())),
  };
}

async function open(opts, name) {
  if (splitUrls.length) return openSplit(name);
  const list = urls(opts);
  const transports = list.some((u) => u.startsWith('ws')) ? [wsTransport()] : [tcpTransport()];
  return kilnConnect(list.length === 1 ? list[0] : list, { transports, name, requestTimeoutMs: 60_000 });
}

// Filled by prepare() (main thread); describe() runs after prepare() in the same thread.
let serverInfo = null;

export function describe(opts) {
  if (splitUrls.length) return `Kiln client.append (1 event, ${expectedWhat}) over ${splitUrls.length} independent one-server clusters (${splitUrls.join(', ')}), each stream to the server its slot takes in ${splitUrls.length} stripes`;
  const where = `${url(opts)}`;
  const via = transportName(opts) === 'TCP' ? '' : ' over WebSocket';
  if (!serverInfo) return `Kiln client.append (1 event, ${expectedWhat})${via} to ${where}`;
  const n = serverInfo.servers;
  let ack;
  if (n > 1) {
    ack = serverInfo.persistent
      ? `ack = transaction written to LevelDB and fsynced on the active and acknowledged by its in-sync mirrors (group of ${n} servers${serverInfo.voters ? ' + voter' : ''}, restartable mode)`
      : `ack = transaction in the memory of the active and of its in-sync mirrors (group of ${n} servers${serverInfo.voters ? ' + voter' : ''}, memory mode)`;
  } else {
    ack = serverInfo.persistent
      ? 'ack = transaction written to LevelDB and fsynced, on 1 server (restartable mode, no replica)'
      : "ack = transaction in the server's memory (memory mode, nothing on disk)";
  }
  return `Kiln client.append (1 event, ${expectedWhat})${via} to ${where}; ${ack}`;
}

/** prepare() over KILN_SPLIT_URLS: every server must be empty, as one must be in prepare(). */
async function prepareSplit(opts) {
  const split = await openSplit('bench-prepare');
  try {
    const statuses = await split.statuses();
    const used = statuses.find((st) => st.lastLsn !== 0 || st.commitIndex !== 0);
    if (opts.reset && used) throw new Error(`kiln server ${used.name} of KILN_SPLIT_URLS is not empty (lastLsn ${used.lastLsn}); start fresh servers or pass --no-reset`);
    serverInfo = { split: splitUrls.length, persistent: statuses.some((st) => st.persistent), servers: 1, voters: 0, expectedVersion: checkVersions ? 'workload' : 'any', transport: 'TCP' };
    return serverInfo;
  } finally {
    await split.close();
  }
}

export async function prepare(opts) {
  if (splitUrls.length) return prepareSplit(opts);
  const client = await open(opts, 'bench-prepare');
  try {
    const status = await client.serverStatus();
    // Kiln cannot delete streams: a reset means "the server must be empty", so that
    // version-checked appends start at 'no-stream'. run.mjs starts a fresh server per run.
    if (opts.reset && (status.lastLsn !== 0 || status.commitIndex !== 0)) {
      throw new Error(
        `kiln server at ${url(opts)} is not empty (lastLsn ${status.lastLsn}); start a fresh server (Kiln has no reset) or pass --no-reset`,
      );
    }
    serverInfo = {
      name: status.name,
      state: status.state,
      persistent: status.persistent,
      expectedVersion: checkVersions ? 'workload' : 'any',
      mode: status.persistent ? 'restartable' : 'memory',
      lastLsnBefore: status.lastLsn,
      listen: status.listen,
      servers: 1 + (status.group?.mirrors?.length ?? 0),
      inSync: status.group?.inSync ?? null,
      voters: Number(process.env.KILN_VOTERS ?? 0),
      transport: transportName(opts),
    };
    return serverInfo;
  } finally {
    await client.close();
  }
}

export async function connect(opts, clientId) {
  const client = await open(opts, `bench-${clientId}`);
  if (!checkVersions) {
    return {
      append: (s, _version, payload) => client.append(streamName(s), [{ type: EVENT_TYPE, data: payload }]),
      close: () => client.close(),
    };
  }
  return {
    append: (s, version, payload) =>
      client.append(streamName(s), [{ type: EVENT_TYPE, data: payload }], { expectedVersion: expectedVersionFor(version) }),
    close: () => client.close(),
  };
}

/** Events stored = acknowledged LSNs (each append is one transaction of one event). */
export async function count(opts) {
  if (splitUrls.length) {
    const split = await openSplit('bench-count');
    try {
      return (await split.statuses()).reduce((sum, st) => sum + st.commitIndex, 0);
    } finally {
      await split.close();
    }
  }
  const client = await open(opts, 'bench-count');
  try {
    const { stripes } = await client.topology();
    if (stripes.length > 1) return await countStripes(client, stripes);
    const status = await client.serverStatus();
    // Cross-check the last transaction: it holds exactly one event of our type.
    const last = await client.readAll({ direction: 'backward', maxCount: 1 });
    if (status.commitIndex > 0 && (last.length !== 1 || last[0].type !== EVENT_TYPE)) return unexpectedLast(last);
    return status.commitIndex;
  } finally {
    await client.close();
  }
}

/**
 * A cluster of several stripes: the sum of each stripe's last LSN, read backward from its own log
 * (each append is one transaction, and each stripe numbers its transactions from 1).
 */
async function countStripes(client, stripes) {
  let stored = 0;
  for (const { name } of stripes) {
    const last = await client.readAll({ stripe: name, direction: 'backward', maxCount: 1 });
    if (last.length === 0) continue;
    if (last[0].type !== EVENT_TYPE) return unexpectedLast(last);
    stored += last[0].lsn;
  }
  return stored;
}

const unexpectedLast = (last) => ({ error: `unexpected last record: ${JSON.stringify(last.map((e) => ({ type: e.type, stream: e.stream })))}` });
