/**
 * Transports: the {@link Transport} contract, the {@link FramedConnection} base every transport
 * extends, and the in-process reference transport.
 *
 * @packageDocumentation
 */
export type {
  Transport,
  Listener,
  Connection,
  ListenOptions,
  DialOptions,
  SendResult,
  ConnectionCloseInfo,
} from './transport.js';
export {
  FramedConnection,
  defaultReceiveQueueBytesMax,
  defaultReceiveQueueFramesMax,
  type FramedConnectionOptions,
} from './framed-connection.js';
export { inProcessTransport, type InProcessTransportOptions } from './in-process.js';
