/**
 * `@kiln/store-level`: a persistent Kiln store on LevelDB (through `level`). The log, the stream
 * index and the metadata all live on disk, so a server's memory does not grow with its data, and
 * a restarted server keeps its log. Each group commit is one atomic LevelDB batch with one fsync.
 *
 * @example
 * ```ts
 * import { createServer } from '@kiln/core';
 * import { levelStore } from '@kiln/store-level';
 *
 * const store = levelStore({ path: './data/kiln' });
 * const server = await createServer({ store, transports: [transport], listen: ['tcp://127.0.0.1:7410'] });
 * ```
 *
 * @packageDocumentation
 */
import type { Store } from '@kiln/core';
import { LevelStore, type LevelStoreOptions } from './level-store.js';

export type { LevelStore, LevelStoreOptions } from './level-store.js';

/**
 * Creates a store over a LevelDB directory. The directory is created and locked when the store
 * opens; a second store on the same directory, in this process or another, fails to open.
 * With `sync: false` (faster, not crash-safe) the store reports `persistent: false`.
 */
export function levelStore(options: LevelStoreOptions): Store & { readonly path: string } {
  return new LevelStore(options);
}
