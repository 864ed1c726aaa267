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
import { connect as kilnConnect } from '@kiln/core/client';
import { tcpTransport } from '@kiln/transport-tcp';

const EVENT_TYPE = 'Ev';
const streamName = (s) => `s-${s}`;

/** Kiln's expected version for an event that will get 1-based version `version`. */
export function expectedVersionFor(version) {
  return version === 1 ? 'no-stream' : version - 2;
}

const checkVersions = (process.env.KILN_EXPECTED ?? 'workload') !== 'any';
const expectedWhat = checkVersions ? 'expectedVersion from the workload' : "expectedVersion 'any'";

function url(opts) {
  const { host, port } = opts.endpoints[0];
  return `tcp://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

async function open(opts, name) {
  return kilnConnect(url(opts), { transports: [tcpTransport()], name, requestTimeoutMs: 60_000 });
}

// Filled by prepare() (main thread); describe() runs after prepare() in the same thread.
let serverInfo = null;

export function describe(opts) {
  const where = `${url(opts)}`;
  if (!serverInfo) return `Kiln client.append (1 event, ${expectedWhat}) to ${where}`;
  const ack = serverInfo.persistent
    ? 'ack = transaction written to LevelDB and fsynced, on 1 server (restartable mode, no replica)'
    : "ack = transaction in the server's memory (memory mode, nothing on disk)";
  return `Kiln client.append (1 event, ${expectedWhat}) to ${where}; ${ack}`;
}

export async function prepare(opts) {
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
  const client = await open(opts, 'bench-count');
  try {
    const status = await client.serverStatus();
    // Cross-check the last transaction: it holds exactly one event of our type.
    const last = await client.readAll({ direction: 'backward', maxCount: 1 });
    if (status.commitIndex > 0 && (last.length !== 1 || last[0].type !== EVENT_TYPE)) {
      return { error: `unexpected last record: ${JSON.stringify(last.map((e) => ({ type: e.type, stream: e.stream })))}` };
    }
    return status.commitIndex;
  } finally {
    await client.close();
  }
}
