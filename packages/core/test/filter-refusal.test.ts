// A filter sent to a server that predates filters is refused (it reads one item fewer), never
// ignored, and the client says why instead of passing on a rule about array lengths.
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../src/errors.js';
import { explainFilterRefusal } from '../src/client/filter.js';
import { readAllFromWire, readAllToWire, subscribeFromWire, subscribeToWire } from '../src/protocol/messages.js';

/** How a server that predates filters read `readAll` and `subscribe`: exactly three items. */
function oldServerReads(op: 'readAll' | 'subscribe', wire: unknown): void {
  if (!Array.isArray(wire) || wire.length !== 3) throw new InvalidArgumentError(op, 'must be an array of 3 items');
}

describe('a filter and a server that cannot filter', () => {
  const filter = { streamPrefixes: ['orders-'] };

  it('sends no filter item without a filter, so an older server reads the request as before', () => {
    const wire = readAllToWire({ fromLsn: 1, direction: 'forward', maxCount: 10 });
    expect(() => oldServerReads('readAll', wire)).not.toThrow();
    expect(() => oldServerReads('subscribe', subscribeToWire({ subscriptionId: 1, stream: null, from: 1 }))).not.toThrow();
  });

  it('is refused by the older server, and the client names the filter as the cause', () => {
    for (const [op, wire] of [
      ['readAll', readAllToWire({ fromLsn: 1, direction: 'forward', maxCount: 10, filter })],
      ['subscribe', subscribeToWire({ subscriptionId: 1, stream: null, from: 1, filter })],
    ] as const) {
      let refusal: unknown;
      try {
        oldServerReads(op, wire);
      } catch (error) {
        refusal = error;
      }
      expect(explainFilterRefusal(refusal)).toMatchObject({ name: 'InvalidArgumentError', field: 'filter', rule: expect.stringMatching(/cannot filter/) });
    }
  });

  it('is read by this server, and other refusals pass unchanged', () => {
    expect(readAllFromWire(readAllToWire({ fromLsn: 1, direction: 'forward', maxCount: 10, filter }), 100).filter).toEqual(filter);
    expect(subscribeFromWire(subscribeToWire({ subscriptionId: 1, stream: null, from: 1, filter })).filter).toEqual(filter);
    expect(() => subscribeFromWire(subscribeToWire({ subscriptionId: 1, stream: 's', from: 1, filter }))).toThrow(/whole log only/);
    const other = new InvalidArgumentError('maxCount', 'must be an integer from 1 to 100');
    expect(explainFilterRefusal(other)).toBe(other);
  });
});
