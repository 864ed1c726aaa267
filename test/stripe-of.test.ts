// `kiln stripe-of` as a user runs it: the slot and stripe of a stream in the cluster a file
// describes, plain or as JSON; a name no server would take is a usage error (exit 2), a broken
// file a config error (exit 3). And the two-stripe example the docs point at is a valid file.
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { clusterLayoutOf, defaultLogLimits, serversOf, slotOf, stripesOf, validateClusterConfig } from '@kiln/core';
import { KILN_BIN } from './support/cluster.js';

const EXAMPLE = fileURLToPath(new URL('../examples/two-stripes.json', import.meta.url));

const dir = mkdtempSync(join(tmpdir(), 'kiln-stripe-of-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const kiln = (...args: string[]) => spawnSync(process.execPath, [KILN_BIN, ...args], { encoding: 'utf8', timeout: 20_000 });

function configFile(name: string, value: unknown): string {
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify(value));
  return file;
}

describe('kiln stripe-of', () => {
  it('prints the slot and the stripe of a stream', () => {
    const foo = kiln('stripe-of', 'foo', '--config', EXAMPLE);
    expect(foo.stderr).toBe('');
    expect(foo.status).toBe(0);
    expect(foo.stdout).toBe('slot 12182 stripe bravo\n');
    const bar = kiln('stripe-of', '--config', EXAMPLE, 'bar');
    expect(bar.stdout).toBe('slot 5061 stripe alpha\n');
  });

  it('prints { stream, slot, stripe } with --json', () => {
    const result = kiln('stripe-of', '日本語', '--config', EXAMPLE, '--json');
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toStrictEqual({ stream: '日本語', slot: 12788, stripe: 'bravo' });
  });

  it('puts streams with the same hash tag on one stripe, and reads a name after --', () => {
    const account = JSON.parse(kiln('stripe-of', 'account-{42}', '--config', EXAMPLE, '--json').stdout) as { slot: number; stripe: string };
    const ledger = JSON.parse(kiln('stripe-of', 'ledger-{42}', '--config', EXAMPLE, '--json').stdout) as { slot: number; stripe: string };
    expect(account).toMatchObject({ slot: slotOf('42'), stripe: 'alpha' });
    expect(ledger).toMatchObject({ slot: account.slot, stripe: account.stripe });
    const dashed = kiln('stripe-of', '--config', EXAMPLE, '--', '-x');
    expect(dashed.status).toBe(0);
    expect(dashed.stdout).toBe(`slot ${slotOf('-x')} stripe ${slotOf('-x') < 8192 ? 'alpha' : 'bravo'}\n`);
  });

  it('answers for a one-stripe file too: the stripe is named after the cluster', () => {
    const file = configFile('one.json', { cluster: 'solo', persistence: 'memory', servers: [{ name: 's', listen: ['tcp://127.0.0.1:7410'] }] });
    expect(kiln('stripe-of', 'foo', '--config', file).stdout).toBe('slot 12182 stripe solo\n');
  });

  it.each([
    ['an empty name', '', /STREAM: must be a non-empty string/],
    ['a reserved name', '$all', /STREAM: names starting with '\$' are reserved/],
    ['a name over the default limit', 'x'.repeat(defaultLogLimits.streamNameBytesMax + 1), /STREAM: must be at most 512 UTF-8 bytes/],
    ['a name over the limit in UTF-8 bytes', 'é'.repeat(defaultLogLimits.streamNameBytesMax / 2 + 1), /STREAM: must be at most 512 UTF-8 bytes/],
  ])('refuses %s with exit 2 and one line pointing to the usage', (_what, stream, message) => {
    const result = kiln('stripe-of', '--config', EXAMPLE, '--', stream);
    expect(result.status).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(message);
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain('(see kiln stripe-of --help)');
  });

  it("takes the stream-name limit from the file's limits", () => {
    const file = configFile('short-names.json', { ...JSON.parse(readFileSync(EXAMPLE, 'utf8')), limits: { streamNameBytesMax: 16 } });
    expect(kiln('stripe-of', 'x'.repeat(16), '--config', file).status).toBe(0);
    const over = kiln('stripe-of', 'x'.repeat(17), '--config', file);
    expect(over.status).toBe(2);
    expect(over.stderr).toMatch(/STREAM: must be at most 16 UTF-8 bytes/);
  });

  it('refuses a missing file, stream or extra argument as usage (exit 2), a broken file as config (exit 3)', () => {
    for (const args of [['foo'], ['--config', EXAMPLE], ['foo', 'bar', '--config', EXAMPLE], ['foo', '--config', EXAMPLE, '--stripe', 'x']]) {
      const result = kiln('stripe-of', ...args);
      expect(result.status, args.join(' ')).toBe(2);
      expect(result.stdout).toBe('');
    }
    const broken = configFile('broken.json', { cluster: 'c', stripes: [{ name: 'a', servers: [] }] });
    const result = kiln('stripe-of', 'foo', '--config', broken);
    expect(result.status).toBe(3);
    expect(result.stderr).toMatch(/ConfigError: stripes\[0\]\.servers/);
    expect(kiln('stripe-of', 'foo', '--config', join(dir, 'missing.json')).stderr).toMatch(/ConfigError: --config: cannot read/);
  });
});

describe('examples/two-stripes.json', () => {
  it('is a valid restartable cluster of two stripes of two servers and one voter, on 127.0.0.1 ports 7510-7530', () => {
    const config = validateClusterConfig(JSON.parse(readFileSync(EXAMPLE, 'utf8')));
    expect(config.persistence).toBe('restartable');
    expect(stripesOf(config).map((s) => [s.name, s.servers.length])).toEqual([['alpha', 2], ['bravo', 2]]);
    expect(config.voters).toHaveLength(1);
    const urls = [...serversOf(config).flatMap((s) => [...s.listen, s.peer!]), ...config.voters.map((v) => v.peer)];
    for (const url of urls) {
      const { hostname, port } = new URL(url);
      expect(hostname).toBe('127.0.0.1');
      expect(Number(port)).toBeGreaterThanOrEqual(7510);
      expect(Number(port)).toBeLessThanOrEqual(7530);
    }
    for (const dataDir of [...serversOf(config).map((s) => s.dataDir), ...config.voters.map((v) => v.dataDir)]) expect(dataDir).toMatch(/^\.\/data\/[a-z0-9]+$/);
    expect(clusterLayoutOf(config).slotTable.ranges()).toEqual([[0, 8191, 0], [8192, 16383, 1]]);
  });
});

describe('kiln admin in a cluster of several stripes', () => {
  it('needs --stripe, and refuses one the file does not put the server in, before asking any server', () => {
    const missing = kiln('admin', 'remove-mirror', '--config', EXAMPLE, '--name', 'a2');
    expect(missing.status).toBe(3);
    expect(missing.stderr).toMatch(/ConfigError: --stripe: the cluster has 2 stripes \(alpha, bravo\); name the one 'a2' is in/);
    const wrong = kiln('admin', 'add-mirror', '--config', EXAMPLE, '--name', 'a2', '--stripe', 'bravo');
    expect(wrong.status).toBe(3);
    expect(wrong.stderr).toMatch(/ConfigError: --stripe: 'a2' is in stripe 'alpha' in the cluster file, not 'bravo'/);
  });
});
