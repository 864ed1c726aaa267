/** What the level store's modules share of LevelDB: the database's types, a batch operation, the LSN bound. */
import type { Iterator, Level } from 'level';

export type Db = Level<Uint8Array, Uint8Array>;

export type DbIterator = Iterator<Db, Uint8Array, Uint8Array>;

export type Op = { type: 'put'; key: Uint8Array; value: Uint8Array } | { type: 'del'; key: Uint8Array };

/** The greatest LSN a key may hold: the top of every LSN range. */
export const LSN_MAX = Number.MAX_SAFE_INTEGER;
