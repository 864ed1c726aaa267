// Moved to ../cluster.ts; kept while tests written against the old path are merged.
export { cluster, connectWithin, GROUP_SHAPES, kill, killAllMembers, launch, logOf, stopAndReadLogs, TEST_TIMING, type Member } from '../cluster.js';
