#!/usr/bin/env node
// Bundles the browser example: app.ts with @kiln/core/client and @kiln/transport-ws, resolved
// through the `browser` export condition, into dist/app.js beside index.html. `npm run
// example:browser` builds it and serves it (serve.mjs); alone, run it after `npm run build` (it
// bundles the packages' built dist/):
//
//   node docs/examples/browser/build.mjs [outdir]
import { build } from 'esbuild';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/**
 * Builds the example's bundle into `outdir` (default: dist/ beside this file). Returns the
 * bundle's path and the files that went into it (esbuild's metafile inputs).
 */
export async function buildBrowserExample(outdir = join(here, 'dist')) {
  const outfile = join(outdir, 'app.js');
  const result = await build({
    entryPoints: [join(here, 'app.ts')],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    conditions: ['browser'],
    sourcemap: true,
    logLevel: 'warning',
    metafile: true,
  });
  return { outfile, inputs: Object.keys(result.metafile.inputs) };
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { outfile, inputs } = await buildBrowserExample(process.argv[2] === undefined ? undefined : resolve(process.argv[2]));
  console.log(`built ${outfile} from ${inputs.length} files`);
}
