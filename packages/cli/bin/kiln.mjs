#!/usr/bin/env node
// The `kiln` command as npm links it: a file in git, so `npm install` on a fresh clone links it
// even before anything is built; it runs the built command, or says how to build it.
import { existsSync } from 'node:fs';

const built = new URL('../dist/bin.js', import.meta.url);
if (!existsSync(built)) {
  process.stderr.write('kiln: not built yet: run npm run build first (in the repository root)\n');
  process.exit(1);
}
await import(built.href);
