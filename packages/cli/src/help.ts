/**
 * `kiln help`, `kiln help COMMAND`, `kiln COMMAND --help` and `kiln --version`. A command's help
 * is taken from the usage text itself: the blocks whose heading names it, so the two never
 * disagree.
 */
import { readFileSync } from 'node:fs';
import { EXIT_CODES_HELP, UsageError } from './exit-codes.js';

/** The version of the `@kiln/cli` package, as `kiln --version` prints it. */
export function kilnVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return manifest.version;
}

/** The whole usage text and the exit codes: `kiln help`. */
export function fullHelp(usage: string): string {
  return `${usage}\n\n${EXIT_CODES_HELP}`;
}

/**
 * The help of one command: every block of `usage` whose heading is `kiln COMMAND ...` or lists the
 * command in parentheses (a shared option such as `--http URL (start, voter)`).
 *
 * @throws UsageError for a command `usage` does not describe
 */
export function commandHelp(usage: string, command: string): string {
  const blocks = blocksOf(usage).filter((block) => {
    const heading = block.split('\n')[0]!;
    return heading.startsWith(`  kiln ${command} `) || heading === `  kiln ${command}` || new RegExp(`\\((?:[a-z-]+, )*${command}(?:, [a-z-]+)*\\)`).test(heading);
  });
  if (blocks.length === 0) throw new UsageError(`unknown command '${command}'`);
  return `usage:\n${blocks.join('\n')}\n\n${EXIT_CODES_HELP}`;
}

/** Where a block starts: a line indented by exactly two spaces. */
function blocksOf(usage: string): string[] {
  const blocks: string[] = [];
  for (const line of usage.split('\n').slice(1)) {
    if (/^ {2}\S/.test(line)) blocks.push(line);
    else if (blocks.length > 0 && line.trim() !== '') blocks[blocks.length - 1] += `\n${line}`;
  }
  return blocks;
}

/** True when `args` ask for help: `--help` or `-h` before any `--`. */
export function asksForHelp(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).some((arg) => arg === '--help' || arg === '-h');
}
