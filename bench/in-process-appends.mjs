#!/usr/bin/env node
// The server's append path alone, in one process: a lone memory-mode server over the in-process
// transport, fed 200,000 raw pipelined `transact` frames (256 in flight, 1,000 streams, one ~100
// byte event each) by a client that only encodes frames and decodes replies. Prints process CPU
// per append (server and raw client together) and the group commits taken. For before/after
// comparisons of the commit path and for `node --cpu-prof` / `--trace-gc-nvp` runs; the real
// figures come from `npm run bench`. With `--level` the server is restartable instead: a level
// store (synced writes) in a temp dir, removed at the end. With `--stripes N` the server is the
// first stripe's of a cluster of N (the other stripes' servers are not started: at idle nothing
// goes to them), fed streams of its own stripe: what being one of several stripes costs an append.
//
//   node bench/in-process-appends.mjs [--level] [--appends N] [--stripes N] [CHECKOUT]   # CHECKOUT: a built checkout (default: this one)
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const { values: options, positionals } = parseArgs({ options: { level: { type: 'boolean' }, appends: { type: 'string' }, stripes: { type: 'string', default: '1' } }, allowPositionals: true });
const root = path.resolve(positionals[0] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..'));
const core = await import(path.join(root, 'packages/core/dist/index.js'));
const { Encoder, Decoder } = await import(path.join(root, 'node_modules/@msgpack/msgpack/dist.esm/index.mjs'));
// One encoder and decoder, as a real client keeps: `encode()` and `decode()` make a new one per call,
// whose allocations then stood in the profile as the server's garbage.
const encoder = new Encoder();
const decoder = new Decoder();
const encode = (value) => encoder.encode(value);
const decode = (bytes) => decoder.decode(bytes);

const APPENDS = Number(options.appends ?? 200_000);
const IN_FLIGHT = 256;
const dataDir = options.level ? await mkdtemp(path.join(tmpdir(), 'kiln-in-process-')) : undefined;
const store = dataDir
  ? (await import(path.join(root, 'packages/store-level/dist/index.js'))).levelStore({ path: dataDir })
  : (await import(path.join(root, 'packages/store-memory/dist/index.js'))).memoryStore();
let groupCommits = 0;
const append = store.append.bind(store);
store.append = (records) => {
  groupCommits++;
  return append(records);
};
const transport = core.inProcessTransport();
const STRIPES = Number(options.stripes);
/** A cluster of STRIPES stripes of one server each, this one in the first; none for one stripe (a lone server, as before). */
function clusterOfStripes() {
  if (STRIPES === 1) return {};
  const stripes = Array.from({ length: STRIPES }, (_, i) => ({ name: `stripe${i}`, servers: [{ name: `s${i}`, urls: [`memory://bench-${i}`] }] }));
  return { name: 's0', cluster: { layout: { name: 'bench', stripes, slotTable: core.SlotTable.initial(STRIPES) }, stripe: 0 } };
}
const server = await core.createServer({ store, transports: [transport], listen: ['memory://bench'], ...clusterOfStripes() });
/** 1,000 stream names of the first stripe. */
const table = core.SlotTable.initial(STRIPES);
const streams = [];
for (let i = 0; streams.length < 1000; i++) if (table.stripeOf(`s-${i}`) === 0) streams.push(`s-${i}`);
const connection = await transport.dial(server.urls[0], core.defaultConnectionLimits);
const frames = connection[Symbol.asyncIterator]();
connection.send(encode([0, { version: core.PROTOCOL_VERSION, role: 'client' }]));
await frames.next();

const events = encode([['id', 'E', { d: 'x'.repeat(80) }]]);
let sent = 0;
let answered = 0;
const sendNext = () => {
  sent++;
  connection.send(encode([1, sent, 'transact', ['bench', sent, [[streams[sent % 1000], 'any', events]]]]));
};
const cpuBefore = process.cpuUsage();
const started = performance.now();
for (let i = 0; i < IN_FLIGHT; i++) sendNext();
while (answered < APPENDS) {
  const next = await frames.next();
  if (next.done) throw new Error('the server closed the connection');
  const frame = decode(next.value);
  if (frame[0] !== 3) throw new Error(`not a result: ${JSON.stringify(frame)}`);
  answered++;
  if (sent < APPENDS) sendNext();
}
const cpu = process.cpuUsage(cpuBefore);
const elapsedMs = performance.now() - started;
console.log(`${((cpu.user + cpu.system) / APPENDS).toFixed(2)} µs CPU per append (server and raw client), ${Math.round((APPENDS / elapsedMs) * 1000)} appends/s, ${groupCommits} group commits${dataDir ? ', level store' : ''}${STRIPES > 1 ? `, stripe 1 of ${STRIPES}` : ''}`);
connection.close('done');
await server.close();
if (dataDir) await rm(dataDir, { recursive: true, force: true });
