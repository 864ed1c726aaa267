// The hooks of a test file whose servers run on loop images (power-loss, disk-full): what its tests
// open, closed after each in the order that works (clients, then processes, then the images under
// them, then the temp roots), and an image check before all when the file runs.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { connect, type KilnClient } from '@kiln/core/client';
import { tcpTransport } from '@kiln/transport-tcp';
import { kill, killAllKilns, killAllMembers, type Member } from './cluster.js';
import { checkLoopImagesWork, removeAllImages } from './loop-image.js';

/** What a test opens, for the hooks to close. */
export interface LoopImageTests {
  /** A fresh temp directory named `prefix…`, removed after the test (kept with KILN_KEEP=1). */
  tempRoot(): Promise<string>;
  /** A client of `urls` that gives up at once when its server goes (no reconnect window), closed after the test. */
  clientOf(urls: string | string[]): Promise<KilnClient>;
  /** Members of the groups started, to kill (and wait for) before their images are unmounted. */
  readonly groupMembers: Member[];
}

/** Registers the file's hooks (`runs`: whether its tests run, see runsOnLoopImages) and returns what its tests open things with. */
export function loopImageTests(runs: boolean, prefix: string): LoopImageTests {
  const roots: string[] = [];
  const clients: KilnClient[] = [];
  const groupMembers: Member[] = [];
  beforeAll(() => {
    if (runs) checkLoopImagesWork();
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
    await killAllKilns();
    await Promise.all(groupMembers.splice(0).map((m) => (m.process ? kill(m) : undefined)));
    await removeAllImages();
    if (!process.env.KILN_KEEP) await Promise.all(roots.splice(0).map((root) => rm(root, { recursive: true, force: true })));
  });
  afterAll(async () => {
    killAllMembers();
    await removeAllImages();
  });
  return {
    groupMembers,
    async tempRoot() {
      const root = await mkdtemp(join(tmpdir(), prefix));
      roots.push(root);
      return root;
    },
    async clientOf(urls) {
      const client = await connect(urls, { transports: [tcpTransport()], reconnectWindowMs: 0, requestTimeoutMs: 20_000 });
      clients.push(client);
      return client;
    },
  };
}
