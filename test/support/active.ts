// Moved to ./cluster.ts; kept while tests written against the old path are merged.
export { activeOf } from './cluster.js';
