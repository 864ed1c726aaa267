/**
 * `kiln help`, `kiln help COMMAND`, `kiln COMMAND --help`, `kiln --version`, and the refusal of a
 * command there is none of. A command's help
 * is taken from the usage text itself: the blocks whose heading names it, so the two never
 * disagree.
 */
import { readFileSync } from 'node:fs';
import { EXIT_CODES_HELP, UsageError } from './exit-codes.js';

/** How far a mistyped command may be from a command for `kiln` to suggest that one. */
const SUGGESTION_DISTANCE_MAX = 2;

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
export async function commandHelp(usage: string, command: string): Promise<string> {
  const blocks = blocksOf(usage).filter((block) => {
    const heading = block.split('\n')[0]!;
    return heading.startsWith(`  kiln ${command} `) || heading === `  kiln ${command}` || new RegExp(`\\((?:[a-z-]+, )*${command}(?:, [a-z-]+)*\\)`).test(heading);
  });
  if (blocks.length === 0) throw await unknownCommand(usage, command);
  return `usage:\n${blocks.join('\n')}\n\n${EXIT_CODES_HELP}`;
}

/**
 * The refusal of a command `usage` does not describe: it names the nearest command when one is
 * close (a typo), else every command. `@kiln/core` is loaded only here, for a typo: `kiln help`
 * and `kiln --version` load nothing of it.
 */
export async function unknownCommand(usage: string, command: string): Promise<UsageError> {
  const { editDistance } = await import('@kiln/core');
  const commands = commandsOf(usage);
  let nearest: string | undefined;
  let best = SUGGESTION_DISTANCE_MAX + 1;
  for (const known of commands) {
    const distance = editDistance(known, command);
    if (distance < best) [nearest, best] = [known, distance];
  }
  const hint = nearest !== undefined ? `did you mean '${nearest}'?` : `the commands are ${commands.join(', ')}`;
  return new UsageError(`unknown command '${command}'; ${hint}`);
}

/** The commands `usage` describes, in its order: the blocks headed `kiln COMMAND`. */
function commandsOf(usage: string): string[] {
  return [...new Set(Array.from(usage.matchAll(/^ {2}kiln ([a-z][a-z-]*)/gm), (m) => m[1]!))];
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
