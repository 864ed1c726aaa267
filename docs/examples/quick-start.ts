// The README's example: compose a server from packages, then append, read and subscribe.
// `tsc -b` compiles this file, so the README cannot drift from the API.
import { createServer } from '@kiln/core';
import { connect } from '@kiln/core/client';
import { memoryStore } from '@kiln/store-memory';
import { tcpTransport } from '@kiln/transport-tcp';

const server = await createServer({
  store: memoryStore(),
  transports: [tcpTransport()],
  listen: ['tcp://127.0.0.1:0'],
});

const client = await connect(server.urls, { transports: [tcpTransport()] });

// One transaction over two streams: both appends commit, or neither does.
await client.transact([
  { stream: 'order-17', events: [{ type: 'OrderPlaced', data: { total: 42 } }], expectedVersion: 'no-stream' },
  { stream: 'stock-sku-9', events: [{ type: 'Reserved', data: { order: 17 } }] },
]);

// Catch up from version 0, then follow live appends.
const live = client.subscribe('order-17').subscribe((event) => console.log('event', event.version, event.type));

const { lastVersion } = await client.append('order-17', [{ type: 'OrderPaid', data: {} }], { expectedVersion: 0 });
console.log('order-17 is at version', lastVersion);
console.log(await client.read('order-17'));

live.unsubscribe();
await client.close();
await server.close();
