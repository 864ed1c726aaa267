#!/usr/bin/env node
// Checks the module structure mechanically, over `packages/*/src` of the repository (or of the
// directory given with `--root DIR`, which the checker's own test points at fixture trees):
//
// - core imports no sibling package and nothing from `node:` (its client path must bundle for a
//   browser); stores and transports import core only through its public entry points;
// - no index file re-exports with `export *`: every public name is listed, so the surface is
//   reviewed when it changes;
// - no import circle between modules, type-only imports included: a circle means two modules
//   cannot be understood, tested or changed apart.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

// Every `import … from`, `export … from`, side-effect `import '…'` and dynamic `import('…')`.
const importPattern = /(?:import|export)\s[^'";]*?from\s+['"]([^'"]+)['"]|import\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;
const builtins = new Set(['fs', 'path', 'os', 'net', 'crypto', 'util', 'events', 'stream', 'child_process', 'url', 'buffer']);

function* tsFiles(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* tsFiles(path);
    else if (path.endsWith('.ts')) yield path;
  }
}

// Doc comments hold usage examples that import siblings; only code counts.
function code(file) {
  return readFileSync(file, 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/^\s*\/\/.*$/gm, '');
}

function specifiers(source) {
  return [...source.matchAll(importPattern)].map((m) => m[1] ?? m[2] ?? m[3]);
}

/** The `.ts` file a relative specifier names (`./a.js` → `./a.ts`, `./dir` → `./dir/index.ts`). */
function resolveRelative(from, specifier) {
  const base = resolve(dirname(from), specifier);
  const candidates = [base.replace(/\.js$/, '.ts'), `${base}.ts`, join(base, 'index.ts')];
  return candidates.find((path) => existsSync(path) && statSync(path).isFile());
}

const sourceRule = {
  core: (s) => {
    if (s.startsWith('node:') || builtins.has(s)) return 'core must not import Node built-ins';
    if (s.startsWith('@kiln/')) return 'core must not import a sibling package';
    return undefined;
  },
  'store-memory': corePublicOnly,
  'store-level': corePublicOnly,
  'transport-tcp': corePublicOnly,
  'transport-ws': corePublicOnly,
};

function corePublicOnly(s) {
  return s.startsWith('@kiln/') && !/^@kiln\/core(\/client|\/testing(\/checker|\/simulation)?)?$/.test(s) ? 'only @kiln/core may be imported' : undefined;
}

/** Every elementary circle of the graph, each rotated to start at its smallest node, sorted. */
function findCycles(graph) {
  const nodes = [...graph.keys()].sort();
  const cycles = [];
  // Johnson's idea, simplified: circles through `start` use only nodes after it, so each is found once.
  nodes.forEach((start, index) => {
    const allowed = new Set(nodes.slice(index));
    const path = [start];
    const onPath = new Set([start]);
    const walk = (node) => {
      for (const next of graph.get(node) ?? []) {
        if (next === start) cycles.push([...path, start]);
        else if (allowed.has(next) && !onPath.has(next)) {
          path.push(next);
          onPath.add(next);
          walk(next);
          onPath.delete(next);
          path.pop();
        }
      }
    };
    walk(start);
  });
  return cycles.map((cycle) => cycle.join(' -> ')).sort();
}

/** Longest source file outside `testing/`, in lines. */
const SOURCE_LINES_MAX = 400;

export function checkTree(root) {
  const problems = [];
  const packagesDir = join(root, 'packages');
  const graph = new Map();
  const rel = (path) => relative(root, path).split(sep).join('/');

  for (const pkg of readdirSync(packagesDir).sort()) {
    const srcDir = join(packagesDir, pkg, 'src');
    if (!existsSync(srcDir)) continue;
    for (const file of tsFiles(srcDir)) {
      const lines = readFileSync(file, 'utf8').split('\n').length - 1;
      // Small modules with one job; the test kit (suites, simulation, checker) is exempt.
      if (lines > SOURCE_LINES_MAX && !rel(file).includes('/src/testing/')) {
        problems.push(`${rel(file)}: ${lines} lines, over ${SOURCE_LINES_MAX}; split it by job`);
      }
      const source = code(file);
      if (file.endsWith(`${sep}index.ts`) && /\bexport\s*\*/.test(source)) {
        problems.push(`${rel(file)}: 'export *' in an index file; list the exported names`);
      }
      const edges = new Set();
      for (const specifier of specifiers(source)) {
        const problem = sourceRule[pkg]?.(specifier);
        if (problem) problems.push(`${rel(file)}: imports '${specifier}': ${problem}`);
        if (specifier.startsWith('.')) {
          const target = resolveRelative(file, specifier);
          if (target) edges.add(rel(target));
          else problems.push(`${rel(file)}: imports '${specifier}', which names no file`);
        }
      }
      graph.set(rel(file), [...edges].sort());
    }
  }

  const cycles = findCycles(graph);
  for (const cycle of cycles) problems.push(`import circle: ${cycle}`);
  return { problems };
}

const repositoryRoot = resolve(dirname(new URL(import.meta.url).pathname), '..');

function main(argv) {
  const rootFlag = argv.indexOf('--root');
  const root = rootFlag >= 0 ? resolve(argv[rootFlag + 1]) : repositoryRoot;
  const { problems } = checkTree(root);
  if (problems.length > 0) {
    console.error(`dependency check failed:\n${problems.join('\n')}`);
    process.exit(1);
  }
  console.log('dependency check: ok');
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) main(process.argv.slice(2));
