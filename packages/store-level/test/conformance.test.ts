// The store conformance suite against the level store, with sync on (persistent, reopen and
// torn-tail areas included) and with sync off (not persistent, so no reopen areas).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Store } from '@kiln/core';
import { storeConformance } from '@kiln/core/testing';
import { levelStore } from '@kiln/store-level';

const pathOf = (store: Store): string => (store as Store & { path: string }).path;
const create = (sync: boolean) => async () => levelStore({ path: await mkdtemp(join(tmpdir(), 'kiln-level-')), sync });
const destroy = async (store: Store) => rm(pathOf(store), { recursive: true, force: true });

storeConformance({ describe, it, expect }, { name: 'level (sync: true)', create: create(true), reopen: async (store) => levelStore({ path: pathOf(store) }), destroy });
storeConformance({ describe, it, expect }, { name: 'level (sync: false)', create: create(false), destroy });
