// Config validation names the field and the rule it breaks.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ConfigError, validateClusterConfig } from '@kiln/core';
import { checkUrl, readClusterConfig, validateConfig } from '../src/config.js';

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

describe('readClusterConfig', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const file = (value: unknown): string => {
    const dir = mkdtempSync(join(tmpdir(), 'kiln-cli-config-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'kiln.config.json'), JSON.stringify(value));
    return join(dir, 'kiln.config.json');
  };

  it('loads a single-server file of earlier versions as the one-server cluster it stands for', async () => {
    const old = { name: 'k1', persistence: 'restartable', dataDir: './d', listen: ['tcp://127.0.0.1:7410'], limits: { inFlightMax: 64, dedupWindow: 64 } };
    const cluster = { cluster: 'k1', persistence: 'restartable', servers: [{ name: 'k1', listen: ['tcp://127.0.0.1:7410'], dataDir: './d' }], limits: old.limits };
    const oldFile = file(old);
    const fromOld = await readClusterConfig(oldFile);
    // Each file's dataDir is relative to that file's folder.
    const inFolderOf = (path: string) => ({ ...cluster, servers: [{ ...cluster.servers[0]!, dataDir: join(dirname(path), 'd') }] });
    const clusterFile = file(cluster);
    expect(await readClusterConfig(clusterFile)).toEqual(validateClusterConfig(inFolderOf(clusterFile)));
    expect(fromOld).toEqual(validateClusterConfig(inFolderOf(oldFile)));
    expect(fromOld.limits.inFlightMax).toBe(64);
  });

  it('fills an empty or absent file with the defaults, and lays flags over the file', async () => {
    expect(await readClusterConfig(undefined)).toMatchObject({
      cluster: 'kiln',
      persistence: 'restartable',
      servers: [{ name: 'kiln', listen: ['tcp://127.0.0.1:7410', 'ws://127.0.0.1:7411'], dataDir: './kiln-data' }],
    });
    const memory = await readClusterConfig(file({ name: 'from-file', dataDir: './d' }), { persistence: 'memory', listen: ['tcp://127.0.0.1:0'] });
    expect(memory).toMatchObject({ cluster: 'from-file', persistence: 'memory', servers: [{ name: 'from-file', listen: ['tcp://127.0.0.1:0'] }] });
    expect(memory.servers![0]!.dataDir).toBeUndefined();
  });

  it('holds an old file to the cluster rules too, naming the field', async () => {
    await expect(readClusterConfig(file({ limits: { inFlightMax: 4096 } }))).rejects.toMatchObject({ name: 'ConfigError', field: 'limits' });
    await expect(readClusterConfig(file({ nmae: 'typo' }))).rejects.toMatchObject({ name: 'ConfigError', field: 'nmae' });
  });
});
