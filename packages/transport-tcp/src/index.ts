/**
 * `@kiln/transport-tcp`: Kiln over TCP (`node:net`), with length-prefixed frames.
 *
 * Each frame goes as a 4-byte big-endian length then its bytes; the top bit of the length marks a
 * control frame that carries the close reason to the other side. Frames over `frameBytesMax` are
 * refused from their header alone. Small frames written in one tick leave in one write.
 *
 * @example
 * ```ts
 * import { createServer } from '@kiln/core';
 * import { connect } from '@kiln/core/client';
 * import { memoryStore } from '@kiln/store-memory';
 * import { tcpTransport } from '@kiln/transport-tcp';
 *
 * const tcp = tcpTransport();
 * const server = await createServer({ store: memoryStore(), transports: [tcp], listen: ['tcp://127.0.0.1:7410'] });
 * const client = await connect(server.urls, { transports: [tcp] });
 * ```
 *
 * @packageDocumentation
 */
export { tcpTransport } from './tcp-transport.js';
export type { TcpTransportOptions, TcpTlsOptions } from './tcp-options.js';
