// Moved to ./wire.ts; kept while tests written against the old path are merged.
export { rawSession, type RawSession } from './wire.js';
