// The store conformance suite against the memory store.
import { describe, expect, it } from 'vitest';
import { storeConformance } from '@kiln/core/testing';
import { memoryStore } from '@kiln/store-memory';

storeConformance({ describe, it, expect }, { name: 'memory', create: async () => memoryStore() });
