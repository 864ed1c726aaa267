#!/usr/bin/env node
// Checks the dependency direction mechanically: core imports no sibling package and nothing from
// `node:` (its client path must bundle for a browser); stores and transports import core only
// through its public entry points.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const importPattern = /(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;
const problems = [];

function* files(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* files(path);
    else if (path.endsWith('.ts')) yield path;
  }
}

function check(dir, rule) {
  for (const file of files(dir)) {
    // Doc comments hold usage examples that import siblings; only code counts.
    const code = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
    for (const match of code.matchAll(importPattern)) {
      const specifier = match[1] ?? match[2];
      const problem = rule(specifier);
      if (problem) problems.push(`${file}: imports '${specifier}': ${problem}`);
    }
  }
}

const builtins = new Set(['fs', 'path', 'os', 'net', 'crypto', 'util', 'events', 'stream', 'child_process', 'url', 'buffer']);
check('packages/core/src', (s) => {
  if (s.startsWith('node:') || builtins.has(s)) return 'core must not import Node built-ins';
  if (s.startsWith('@kiln/')) return 'core must not import a sibling package';
  return undefined;
});
for (const pkg of ['store-memory', 'store-level', 'transport-tcp', 'transport-ws']) {
  check(`packages/${pkg}/src`, (s) => (s.startsWith('@kiln/') && !/^@kiln\/core(\/client|\/testing)?$/.test(s) ? 'only @kiln/core may be imported' : undefined));
}

if (problems.length > 0) {
  console.error(`dependency check failed:\n${problems.join('\n')}`);
  process.exit(1);
}
console.log('dependency check: ok');
