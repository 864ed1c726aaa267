/** Where `kiln` writes: a command's output on stdout, progress, warnings and the failure line on stderr. */

/** Prints a line of a command's output on stdout. */
export const print = (line: string): void => console.log(line);

/** Writes a line of progress, a warning or the failure line on stderr. */
export const log = (line: string): void => void process.stderr.write(`${line}\n`);
