// The TCP transport passes the transport conformance suite.
import { describe, expect, it } from 'vitest';
import { transportConformance } from '@kiln/core/testing';
import { tcpTransport } from '@kiln/transport-tcp';

transportConformance({ describe, it, expect }, { name: 'tcp', setup: async () => ({ transport: tcpTransport(), listenUrl: 'tcp://127.0.0.1:0' }) });
