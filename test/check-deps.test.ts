// The structure check `npm run lint` runs (scripts/check-deps.mjs), pointed at small fixture trees:
// it passes a clean tree and fails, naming the place, on an import circle (type-only included),
// on `export *` in an index file, on a core module importing a sibling package, and on a source
// file over 400 lines outside testing/.
import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const CHECKER = join(import.meta.dirname, '..', 'scripts', 'check-deps.mjs');
const roots: string[] = [];

/** A tree of `packages/…` files under a fresh temp dir. */
function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'kiln-check-deps-'));
  roots.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

function check(root: string): { status: number | null; output: string } {
  const run = spawnSync(process.execPath, [CHECKER, '--root', root], { encoding: 'utf8' });
  return { status: run.status, output: run.stdout + run.stderr };
}

const clean = {
  'packages/core/src/index.ts': "export { a } from './a.js';\nexport type { B } from './b/index.js';\n",
  'packages/core/src/a.ts': "import type { B } from './b/index.js';\nexport const a = (b: B) => b;\n",
  'packages/core/src/b/index.ts': "export type { B } from './b.js';\n",
  'packages/core/src/b/b.ts': '/** Mentions `import { x } from "@kiln/store-memory"` in a comment only. */\nexport type B = number;\n',
  'packages/store-memory/src/index.ts': "import { a } from '@kiln/core';\nexport const m = a;\n",
};

afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

describe('check-deps', () => {
  it('passes a clean tree', () => {
    const result = check(tree(clean));
    expect(result.output).toContain('dependency check: ok');
    expect(result.status).toBe(0);
  });

  it('fails on an import circle, type-only imports included, and prints it as a path', () => {
    const result = check(
      tree({
        ...clean,
        'packages/core/src/b/b.ts': "import type { a } from '../a.js';\nexport type B = typeof a;\n",
      }),
    );
    expect(result.status).toBe(1);
    expect(result.output).toContain(
      'import circle: packages/core/src/a.ts -> packages/core/src/b/index.ts -> packages/core/src/b/b.ts -> packages/core/src/a.ts',
    );
  });

  it('fails on a module that imports itself, and on a circle in a sibling package', () => {
    const result = check(
      tree({
        ...clean,
        'packages/store-memory/src/index.ts': "export { m } from './m.js';\n",
        'packages/store-memory/src/m.ts': "import { n } from './n.js';\nexport const m = n;\n",
        'packages/store-memory/src/n.ts': "import './m.js';\nexport const n = 1;\n",
        'packages/core/src/self.ts': "export { a } from './self.js';\n",
      }),
    );
    expect(result.status).toBe(1);
    expect(result.output).toContain('import circle: packages/store-memory/src/m.ts -> packages/store-memory/src/n.ts -> packages/store-memory/src/m.ts');
    expect(result.output).toContain('import circle: packages/core/src/self.ts -> packages/core/src/self.ts');
  });

  it("fails on 'export *' in any index file", () => {
    const result = check(tree({ ...clean, 'packages/core/src/b/index.ts': "export * from './b.js';\n" }));
    expect(result.status).toBe(1);
    expect(result.output).toContain("packages/core/src/b/index.ts: 'export *' in an index file");
  });

  it('fails on a core module importing a sibling package', () => {
    const result = check(tree({ ...clean, 'packages/core/src/a.ts': "import { memoryStore } from '@kiln/store-memory';\nexport const a = memoryStore;\n" }));
    expect(result.status).toBe(1);
    expect(result.output).toContain("packages/core/src/a.ts: imports '@kiln/store-memory': core must not import a sibling package");
  });

  it('fails on a source file over 400 lines outside testing/, and passes one inside it', () => {
    const long = 'export const x = 1;\n'.repeat(401);
    const inTesting = check(tree({ ...clean, 'packages/core/src/testing/long.ts': long }));
    expect(inTesting.status, inTesting.output).toBe(0);
    const result = check(tree({ ...clean, 'packages/core/src/long.ts': long }));
    expect(result.status).toBe(1);
    expect(result.output).toContain('packages/core/src/long.ts: 401 lines, over 400');
  });
});
