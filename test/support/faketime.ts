// Wall-clock jumps for real processes: each member runs under libfaketime with a timestamp file of
// its own, and rewriting the file steps that process's wall clock (`Date`) within a few hundred ms.
// The monotonic clock stays real (FAKETIME_DONT_FAKE_MONOTONIC), as a machine's does when NTP
// steps its clock, so timers and leases must not notice. The system clock is never touched.
import { existsSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';

/** Why this machine cannot fake a process's clock, or undefined. */
export function faketimeUnavailable(): string | undefined {
  if (process.platform !== 'linux') return `libfaketime needs Linux (this is ${process.platform})`;
  if (!existsSync(LIBFAKETIME)) return `${LIBFAKETIME} is missing (apt-get install -y faketime)`;
  return undefined;
}

/** The wall-clock offsets of a test's processes, one timestamp file each under `dir`. */
export class FakeClocks {
  constructor(private readonly dir: string) {}

  /** The environment that starts process `name` under libfaketime at offset 0. */
  async envFor(name: string): Promise<NodeJS.ProcessEnv> {
    await this.set(name, 0);
    return { ...process.env, LD_PRELOAD: LIBFAKETIME, FAKETIME_TIMESTAMP_FILE: this.fileOf(name), FAKETIME_NO_CACHE: '1', FAKETIME_DONT_FAKE_MONOTONIC: '1' };
  }

  /** Steps process `name`'s wall clock to `offsetSeconds` from the real time (a rename, so it never reads half a file). */
  async set(name: string, offsetSeconds: number): Promise<void> {
    const file = this.fileOf(name);
    await writeFile(`${file}.next`, `${offsetSeconds >= 0 ? '+' : ''}${offsetSeconds}\n`);
    await rename(`${file}.next`, file);
  }

  private fileOf(name: string): string {
    return join(this.dir, `${name}.faketime`);
  }
}
