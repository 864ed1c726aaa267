// docs/LIMITS.md and limits.ts say the same: every default and fixed limit in limits.ts is listed
// in the doc with the value the code uses, and the doc lists nothing limits.ts does not hold.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as limits from '../src/limits.js';

const DOC = readFileSync(join(import.meta.dirname, '..', '..', '..', 'docs', 'LIMITS.md'), 'utf8');
const UNITS: Record<string, number> = { '': 1, KiB: 1024, MiB: 1024 * 1024 };

/** `| \`name\` | value | … |` rows of every table, as name → value. */
function documented(markdown: string): Map<string, number> {
  const rows = new Map<string, number>();
  for (const [, name, value] of markdown.matchAll(/^\| `(\w+)` \| ([^|]+) \|/gm)) {
    const parsed = /^(\d+)(?: (KiB|MiB))?$/.exec(value!.trim());
    if (!parsed) throw new Error(`LIMITS.md: '${name}' has a default that is not a number: '${value!.trim()}'`);
    rows.set(name!, Number(parsed[1]) * UNITS[parsed[2] ?? '']!);
  }
  return rows;
}

/** Every default and fixed limit limits.ts holds, as name → value. */
function inCode(): Map<string, number> {
  const entries: Array<[string, number]> = [
    ...Object.entries(limits.defaultConnectionLimits),
    ...Object.entries(limits.defaultLogLimits),
    ...Object.entries(limits.defaultGroupTiming),
    ...Object.entries(limits.defaultClientTiming),
    ...Object.entries(limits).filter((entry): entry is [string, number] => /^[A-Z][A-Z_]+$/.test(entry[0]) && typeof entry[1] === 'number'),
  ];
  return new Map(entries);
}

describe('docs/LIMITS.md', () => {
  const doc = documented(DOC);
  const code = inCode();

  it('finds the tables and the code', () => {
    expect(doc.size).toBeGreaterThan(30);
    expect(code.size).toBeGreaterThan(30);
  });

  it('lists every limit of limits.ts with the value the code uses', () => {
    const wrong = [...code].filter(([name, value]) => doc.get(name) !== value).map(([name, value]) => `${name}: code ${value}, doc ${doc.get(name) ?? 'missing'}`);
    expect(wrong).toEqual([]);
  });

  it('lists nothing that limits.ts does not hold', () => {
    expect([...doc.keys()].filter((name) => !code.has(name))).toEqual([]);
  });
});
