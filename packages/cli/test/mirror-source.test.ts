// kiln backup --from-mirror waits for a page longer than any mirror may wait before it answers
// MirrorBehindError (its group's mirrorTimeoutMs): at 30 s, a group whose mirrorTimeoutMs was longer
// had the mirror reported unreachable (TimeoutError, exit 5) where it would have said it was behind.
import { checkGroupSettings, clusterConfigBounds, ConfigError, defaultClientTiming } from '@kiln/core';
import { describe, expect, it } from 'vitest';
import { MIRROR_REQUEST_TIMEOUT_MS } from '../src/backup/mirror-source.js';

describe('kiln backup --from-mirror', () => {
  it("outwaits the longest mirrorTimeoutMs a group accepts, by a request's usual time", () => {
    const members = [{ kind: 'server' as const }, { kind: 'server' as const }, { kind: 'voter' as const }];
    // mirrorTimeoutMs must stay below electionTimeMs, itself within its bound.
    const longest = { electionTimeMs: clusterConfigBounds.electionTimeMs.max, mirrorTimeoutMs: clusterConfigBounds.electionTimeMs.max - 1, leaseMs: 10, members };
    expect(() => checkGroupSettings(longest)).not.toThrow();
    expect(() => checkGroupSettings({ ...longest, electionTimeMs: longest.electionTimeMs + 2, mirrorTimeoutMs: longest.mirrorTimeoutMs + 1 })).toThrow(ConfigError);
    expect(MIRROR_REQUEST_TIMEOUT_MS).toBeGreaterThanOrEqual(longest.mirrorTimeoutMs + defaultClientTiming.requestTimeoutMs);
  });
});
