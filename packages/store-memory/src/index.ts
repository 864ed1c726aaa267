/**
 * `@kiln/store-memory`: a Kiln store that keeps the log, its stream index and the metadata in
 * the process's memory. Nothing survives a restart (`persistent` is false), so it serves the
 * diskless (`memory`) persistence mode, where durability comes from the in-sync mirrors, and tests.
 *
 * @example
 * ```ts
 * import { createServer } from '@kiln/core';
 * import { memoryStore } from '@kiln/store-memory';
 *
 * const server = await createServer({ store: memoryStore(), transports: [transport], listen: ['tcp://127.0.0.1:7410'] });
 * ```
 *
 * @packageDocumentation
 */
import type { Store } from '@kiln/core';
import { MemoryStore, type MemoryStoreOptions } from './memory-store.js';

export type { MemoryStore, MemoryStoreOptions } from './memory-store.js';

/**
 * Creates an empty, non-persistent store in memory. Hand it to a server (which wraps it in core's
 * checked layer); it opens when the server starts.
 * @param options none yet
 */
export function memoryStore(options: MemoryStoreOptions = {}): Store {
  return new MemoryStore(options);
}
