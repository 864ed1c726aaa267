import { once } from 'node:events';
import type { Member } from './cluster.js';

/**
 * Shuts a member's process down gracefully (SIGTERM, as `kiln start` handles it) and returns its
 * exit code; a process still running after `timeoutMs` is killed and the call throws.
 */
export async function terminate(member: Member, timeoutMs: number): Promise<number | null> {
  const child = member.process!;
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exit = once(child, 'exit', { signal: AbortSignal.timeout(timeoutMs) });
  child.kill('SIGTERM');
  try {
    const [code] = (await exit) as [number | null];
    return code;
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`${member.name} did not exit within ${timeoutMs} ms of SIGTERM`, { cause: error });
  }
}
