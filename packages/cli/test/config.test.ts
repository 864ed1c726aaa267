// Config validation names the field and the rule it breaks.
import { describe, expect, it } from 'vitest';
import { ConfigError } from '@kiln/core';
import { checkUrl, validateConfig } from '../src/config.js';

describe('validateConfig', () => {
  it('accepts a full config', () => {
    const config = { name: 'k1', persistence: 'memory', dataDir: './d', listen: ['tcp://127.0.0.1:7410'], limits: { frameBytesMax: 1024 } };
    expect(validateConfig(config)).toEqual(config);
  });

  it.each([
    [[], 'config'],
    [{ nmae: 'typo' }, 'nmae'],
    [{ name: '' }, 'name'],
    [{ persistence: 'disk' }, 'persistence'],
    [{ listen: [] }, 'listen'],
    [{ listen: ['http://127.0.0.1:1'] }, 'listen[0]'],
    [{ listen: ['tcp://127.0.0.1'] }, 'listen[0]'],
    [{ listen: ['tcp://127.0.0.1:1', 'tcp://127.0.0.1:1'] }, 'listen'],
    [{ limits: { frameBytesMax: -1 } }, 'limits.frameBytesMax'],
    [{ limits: { speed: 11 } }, 'limits.speed'],
  ])('rejects %j naming %s', (config, field) => {
    const error = (() => {
      try {
        validateConfig(config);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ field });
  });

  it('checks listen URLs', () => {
    expect(checkUrl('tcp://127.0.0.1:0', 'x')).toBe('tcp://127.0.0.1:0');
    expect(() => checkUrl('nonsense', 'x')).toThrow(ConfigError);
  });
});
