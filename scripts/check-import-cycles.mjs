#!/usr/bin/env node
// Fails on any import circle between the source files of a package, type-only imports included:
// a circle means two modules own one job between them, and it only grows [rxjs `test:circular`].
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const importPattern = /(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g;

function* files(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* files(path);
    else if (path.endsWith('.ts')) yield resolve(path);
  }
}

/** Each file's relative imports, as files. */
function graphOf(dir) {
  const graph = new Map();
  for (const file of files(dir)) {
    const code = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
    const targets = [];
    for (const match of code.matchAll(importPattern)) {
      const target = resolve(dirname(file), (match[1] ?? match[2]).replace(/\.js$/, '.ts'));
      targets.push(existsSync(target) ? target : join(target.replace(/\.ts$/, ''), 'index.ts'));
    }
    graph.set(file, targets);
  }
  return graph;
}

/** One circle per strongly connected part of the graph that has one (depth-first, iterative colours). */
function circlesOf(graph) {
  const circles = [];
  const state = new Map();
  const stack = [];
  const visit = (file) => {
    state.set(file, 'open');
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      if (state.get(next) === 'open') circles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  return circles;
}

const root = resolve('.');
const problems = [];
for (const pkg of readdirSync('packages')) {
  const src = join('packages', pkg, 'src');
  if (!existsSync(src)) continue;
  for (const circle of circlesOf(graphOf(src))) problems.push(circle.map((f) => f.slice(root.length + 1)).join(' -> '));
}
if (problems.length > 0) {
  console.error(`import circles:\n${problems.join('\n')}`);
  process.exit(1);
}
console.log('import circles: none');
