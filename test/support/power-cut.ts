// Power cuts of cluster members on loop-device images (see loop-image.ts): stop the members, copy
// their disks as they stand, restart them on the copies, and wait for a group's logs to agree.
import { digestOf, launch, pollUntil, type Member } from './cluster.js';
import { copyImage, mountCopy, stopForCopy, unmountImage, type LoopImage } from './loop-image.js';

/** Stops the processes, then copies every image at once: the disks a power cut would leave. Returns when the copies began. */
export async function powerCut(pids: readonly number[], images: ReadonlyArray<{ image: LoopImage; copy: string }>): Promise<number> {
  await stopForCopy(pids);
  const cutAtMs = performance.now();
  await Promise.all(images.map(({ image, copy }) => copyImage(image, copy)));
  return cutAtMs;
}

/** Replaces each member's image with its copy (after fsck), runs `beforeStart` on it, and starts the member again. */
export async function restartOnCopies(file: string, images: Map<Member, LoopImage>, copies: Map<Member, string>, beforeStart?: (m: Member) => Promise<void>): Promise<void> {
  for (const [m, copy] of copies) {
    await unmountImage(images.get(m)!);
    images.set(m, await mountCopy(copy, m.dataDir));
    await beforeStart?.(m);
    launch(file, m);
  }
}

/** Waits until every server holds the same log as the active through its last LSN. */
export async function mirrorsMatch(active: Member, servers: readonly Member[], lastLsn: number): Promise<void> {
  const expected = await digestOf(active.client, lastLsn);
  for (const m of servers) {
    if (m === active) continue;
    await pollUntil(`${m.name} to hold the active's log through LSN ${lastLsn}`, async () => {
      const digest = await digestOf(m.client, lastLsn).catch(() => undefined);
      return digest?.throughLsn === lastLsn && digest.digest === expected.digest;
    }, 30_000, 100);
  }
}
