// The parts of `kiln stripe-of` a process test cannot reach: Node decodes argv as UTF-8, so a
// name with a lone surrogate never arrives through the command line; code calling the module can
// still pass one, and must get the same refusal as a server would give.
import { describe, expect, it } from 'vitest';
import { validateClusterConfig } from '@kiln/core';
import { formatPlacement, placeStream, streamNameProblem } from '../src/stripe-of.js';

const config = validateClusterConfig({
  cluster: 'c',
  persistence: 'memory',
  stripes: [
    { name: 'alpha', servers: [{ name: 'a1', listen: ['tcp://127.0.0.1:7510'], peer: 'tcp://127.0.0.1:7511' }] },
    { name: 'bravo', servers: [{ name: 'b1', listen: ['tcp://127.0.0.1:7520'], peer: 'tcp://127.0.0.1:7521' }] },
  ],
});

describe('streamNameProblem', () => {
  it.each(['a\uD800', '\uDC00b', 'x\uDC00\uD800'])('refuses %j as not well-formed Unicode', (stream) => {
    expect(streamNameProblem(config, stream)).toMatch(/well-formed Unicode/);
  });

  it('accepts a well-formed name, surrogate pairs included', () => {
    expect(streamNameProblem(config, 'a\uD83D\uDE00')).toBeUndefined();
  });
});

describe('placeStream', () => {
  it('routes by the file’s stripes, and formats both ways', () => {
    const placement = placeStream(config, 'foo');
    expect(placement).toStrictEqual({ stream: 'foo', slot: 12182, stripe: 'bravo' });
    expect(formatPlacement(placement, false)).toBe('slot 12182 stripe bravo');
    expect(JSON.parse(formatPlacement(placement, true))).toStrictEqual(placement);
  });
});
