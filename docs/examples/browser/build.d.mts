/** Builds the browser example's bundle into `outdir` (default: dist/ beside build.mjs). */
export function buildBrowserExample(outdir?: string): Promise<{
  /** Path of the bundle. */
  outfile: string;
  /** Files that went into it, relative to the working directory. */
  inputs: string[];
}>;
