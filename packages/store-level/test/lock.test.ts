// One directory, one store: a second open from another process fails with a clear error that
// names the path, and succeeds once the first store has closed.
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { levelStore } from '@kiln/store-level';

const openScript = new URL('./fixtures/open.mjs', import.meta.url);

async function openFromChild(path: string): Promise<{ opened: boolean; message?: string; cause?: string }> {
  const child = fork(openScript, [path], { stdio: 'ignore' });
  const [message] = (await once(child, 'message')) as [{ opened: boolean; message?: string; cause?: string }];
  await once(child, 'exit');
  return message;
}

describe('level store lock', () => {
  let path: string;
  beforeEach(async () => {
    path = await mkdtemp(join(tmpdir(), 'kiln-level-lock-'));
  });
  afterEach(async () => {
    await rm(path, { recursive: true, force: true });
  });

  it('refuses a second process while the first holds the directory, then lets it in', async () => {
    const store = levelStore({ path });
    await store.open();
    const refused = await openFromChild(path);
    expect(refused.opened).toBe(false);
    expect(refused.message).toContain(path);
    expect(refused.message).toMatch(/lock/);
    expect(refused.cause).toBe('LEVEL_LOCKED');
    await store.close();
    expect((await openFromChild(path)).opened).toBe(true);
  });

  it('refuses a second store on the same directory in the same process', async () => {
    const first = levelStore({ path });
    await first.open();
    try {
      const error = await levelStore({ path }).open().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toContain(path);
    } finally {
      await first.close();
    }
  });
});
