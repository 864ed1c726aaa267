// Dialing where nothing listens is refused with a typed error, not a hang.
import type { TestRunner } from '../runner.js';
import { harnessTest, rejection, type TransportFixture } from './support.js';

export function refusalTests(runner: TestRunner, fixture: TransportFixture): void {
  const { describe, expect } = runner;
  describe('refusal', () => {
    harnessTest(runner, fixture, 'a dial to an address nothing listens on fails with ConnectionRefusedError', async (h) => {
      const { listener } = await h.listen();
      const url = listener.url;
      await listener.close();
      const error = await rejection(h.dial(url), 'a dial to a closed address');
      expect(error.name).toBe('ConnectionRefusedError');
    });
  });
}
