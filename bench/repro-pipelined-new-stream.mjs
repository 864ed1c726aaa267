#!/usr/bin/env node
// Reproduces a finding of the benchmark (not a benchmark itself): on one connection, a pipelined
// append with expectedVersion 0 sent a few requests after the first append ('no-stream') to a
// NEW stream is rejected with WrongExpectedVersionError ("expected version 0, actual no stream"),
// although the server received the first append earlier. The workload of ../shared/peers
// (a client owns its streams and pipelines version-checked appends) trips over it.
//
//   node packages/cli/dist/bin.js start --memory --listen tcp://127.0.0.1:17001 &
//   node bench/repro-pipelined-new-stream.mjs tcp://127.0.0.1:17001
//
// For d = 1..40: append to new stream x<d> (expected 'no-stream'), then d-1 appends to another
// stream, then x<d>'s second append (expected 0), all without awaiting; prints the d that fail.
import { connect } from '@kiln/core/client';
import { tcpTransport } from '@kiln/transport-tcp';

const client = await connect(process.argv[2] ?? 'tcp://127.0.0.1:17001', { transports: [tcpTransport()] });
const prefix = `x${Date.now()}-`;
await client.append(`${prefix}other`, [{ type: 'E', data: 0 }]);
const hits = [];
for (let d = 1; d <= 40; d++) {
  const ps = [client.append(`${prefix}${d}`, [{ type: 'E', data: 0 }], { expectedVersion: 'no-stream' })];
  for (let i = 1; i < d; i++) ps.push(client.append(`${prefix}other`, [{ type: 'E', data: i }]));
  ps.push(client.append(`${prefix}${d}`, [{ type: 'E', data: 1 }], { expectedVersion: 0 }));
  const settled = await Promise.allSettled(ps);
  const last = settled[settled.length - 1];
  if (last.status === 'rejected') hits.push(`d=${d}: ${last.reason.name}: ${last.reason.message}`);
}
console.log(hits.length ? hits.join('\n') : 'no rejection');
await client.close();
process.exitCode = hits.length ? 1 : 0;
