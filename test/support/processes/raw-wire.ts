// Moved to ../wire.ts; kept while tests written against the old path are merged.
export { exchange, HELLO, RawTcp, tcpFrame, type Outcome } from '../wire.js';
