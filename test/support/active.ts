// Waiting for a group in one process to have exactly one active.
import { expect } from 'vitest';
import type { KilnServer } from '@kiln/core';

/** The name of the one active among `servers`, once there is exactly one (10 s at most). */
export async function activeOf(servers: Map<string, KilnServer>): Promise<string> {
  let active: string | undefined;
  await expect
    .poll(
      () => {
        const actives = [...servers.entries()].filter(([, s]) => s.status().state === 'ACTIVE-COORDINATOR');
        active = actives.length === 1 ? actives[0]![0] : undefined;
        return active;
      },
      { timeout: 10_000, interval: 20 },
    )
    .toBeDefined();
  return active!;
}
