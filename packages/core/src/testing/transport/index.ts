/**
 * `transportConformance`: the suite a transport passes to be swappable. One file per area;
 * every test listens and dials through the fixture and closes what it opened.
 *
 * @packageDocumentation
 */
import type { TestRunner } from '../runner.js';
import { abortTests } from './abort.js';
import { backpressureTests } from './backpressure.js';
import { closeTests } from './close.js';
import { connectionsMaxTests } from './connections-max.js';
import { frameLimitTests } from './frame-limit.js';
import { frameTests } from './frames.js';
import { listenDialTests } from './listen-dial.js';
import { listenerCloseTests } from './listener-close.js';
import { refusalTests } from './refusal.js';
import type { TransportFixture } from './support.js';

export type { TransportFixture, TransportSetup, TransportCapabilities } from './support.js';

/**
 * Registers the transport conformance suite with the caller's own test functions.
 *
 * @example
 * ```ts
 * import { describe, expect, it } from 'vitest';
 * import { transportConformance } from '@kiln/core/testing';
 * import { tcpTransport } from '@kiln/transport-tcp';
 *
 * transportConformance({ describe, it, expect }, { name: 'tcp', setup: async () => ({ transport: tcpTransport(), listenUrl: 'tcp://127.0.0.1:0' }) });
 * ```
 */
export function transportConformance(runner: TestRunner, fixture: TransportFixture): void {
  runner.describe(`transport conformance: ${fixture.name}`, () => {
    listenDialTests(runner, fixture);
    frameTests(runner, fixture);
    frameLimitTests(runner, fixture);
    backpressureTests(runner, fixture);
    closeTests(runner, fixture);
    refusalTests(runner, fixture);
    abortTests(runner, fixture);
    listenerCloseTests(runner, fixture);
    connectionsMaxTests(runner, fixture);
  });
}
