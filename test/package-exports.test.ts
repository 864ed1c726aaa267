// Every file a package's `exports`, `bin`, `main` or `types` names exists in the build: a user who
// installs the package can import each entry point and run each command it declares.
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const PACKAGES = join(import.meta.dirname, '..', 'packages');

/** Every path string in a package.json field, however its conditions nest. */
function pathsIn(field: unknown): string[] {
  if (typeof field === 'string') return [field];
  if (typeof field !== 'object' || field === null) return [];
  return Object.values(field).flatMap(pathsIn);
}

const packages = readdirSync(PACKAGES).filter((name) => existsSync(join(PACKAGES, name, 'package.json')));

describe('package entry points', () => {
  it('covers every package', () => {
    expect(packages).toEqual(expect.arrayContaining(['core', 'cli', 'store-memory', 'store-level', 'transport-tcp', 'transport-ws']));
  });

  it.each(packages)('%s names only files that exist after the build', (name) => {
    const manifest = JSON.parse(readFileSync(join(PACKAGES, name, 'package.json'), 'utf8')) as Record<string, unknown>;
    const paths = [manifest.exports, manifest.bin, manifest.main, manifest.types].flatMap(pathsIn);
    expect(paths.length).toBeGreaterThan(0);
    const missing = paths.filter((path) => !existsSync(join(PACKAGES, name, path)));
    expect(missing).toEqual([]);
  });
});
