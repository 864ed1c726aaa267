// Moved to ../cluster.ts; kept while tests written against the old path are merged.
export { freeFixedPort, KILN_BIN, killAllKilns, pollUntil, seededRandom, startKiln, type KilnProcess, type StartKilnOptions } from '../cluster.js';
