// The in-process transport passes the transport conformance suite, which proves the suite too.
import { describe, expect, it } from 'vitest';
import { transportConformance } from '../src/testing/transport/index.js';
import { inProcessTransport } from '../src/transport/in-process.js';

transportConformance({ describe, it, expect }, { name: 'in-process', setup: async () => ({ transport: inProcessTransport(), listenUrl: 'memory://conformance' }) });
