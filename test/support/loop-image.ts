// Disk images for power-loss tests (RELIABILITY.md §2.2): ext4 on a loop device over a file, a
// data directory on its mount, and a copy of the file as a power cut leaves the disk. A process
// killed with SIGKILL keeps what the page cache holds; a copy of the image holds only what reached
// the (loop) device: what was fsynced, and whatever the kernel happened to write back.
//
// Every image, device and mount made here is tracked, so `removeAllImages` in an afterEach or
// afterAll undoes them even when a test failed or timed out halfway, and an exit hook does the same
// for a runner that exits without running it.
import { execFile, spawnSync } from 'node:child_process';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A mounted image: the file, the loop device over it, and where its file system is mounted. */
export interface LoopImage {
  readonly file: string;
  readonly device: string;
  readonly mountPoint: string;
}

const mounted = new Set<LoopImage>();
const files = new Set<string>();

process.once('exit', () => {
  for (const image of mounted) {
    spawnSync('umount', ['-l', image.mountPoint]);
    spawnSync('losetup', ['-d', image.device]);
  }
});

/**
 * True when the power-loss tests of `what` should run: as root, or in CI (\`CI=true\`, which runs as
 * root), where a missing capability must fail them rather than skip them. Prints why when skipped.
 */
export function runsOnLoopImages(what: string): boolean {
  if (process.getuid?.() === 0 || process.env.CI === 'true') return true;
  console.warn(`skipped ${what}: loop-device images need root (losetup, mkfs.ext4, mount); CI runs as root and fails instead`);
  return false;
}

/** Throws naming what is missing when this machine cannot make loop images (a tool, a free loop device). */
export function checkLoopImagesWork(): void {
  if (process.getuid?.() !== 0) throw new Error('loop-device images need root (losetup, mount), and CI=true demands them');
  for (const tool of ['losetup', 'mkfs.ext4', 'fsck.ext4', 'mount', 'umount', 'cp']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) throw new Error(`${tool} is not installed; the power-loss tests need it`);
  }
  const probe = spawnSync('losetup', ['--find'], { encoding: 'utf8' });
  if (probe.status !== 0) throw new Error(`no free loop device (losetup --find: ${probe.stderr.trim()}); the power-loss tests need one per member`);
}

/** Makes a fresh ext4 image of `sizeMiB` at `file` and mounts it on `mountPoint` (created when missing). */
export async function makeImage(file: string, mountPoint: string, sizeMiB = 64): Promise<LoopImage> {
  files.add(file);
  await run('truncate', ['-s', `${sizeMiB}M`, file]);
  const device = await attach(file);
  try {
    // Inode tables and journal written now: by default the kernel fills them in later, in the
    // background, and those writes would land in the middle of a copy.
    await run('mkfs.ext4', ['-q', '-E', 'lazy_itable_init=0,lazy_journal_init=0', device]);
  } catch (error) {
    await run('losetup', ['-d', device]);
    throw error;
  }
  return mountDevice(file, device, mountPoint);
}

/**
 * Copies an image's file as it stands: the disk a power cut at this moment would leave. Stop the
 * writing processes first ({@link stopForCopy}): a copy read while they write is not one moment's
 * disk (a later synced write could land in it while an earlier one did not, which no disk does
 * across an fsync). Also copies a copy, to start from the same cut more than once.
 */
export async function copyImage(image: LoopImage | string, copy: string): Promise<string> {
  files.add(copy);
  await run('cp', ['--sparse=always', typeof image === 'string' ? image : image.file, copy]);
  return copy;
}

/**
 * Stops the processes (SIGSTOP) and waits until every thread of each is stopped, so that no write
 * or fsync of theirs is still on its way to the disk while the image is copied. A thread in an
 * fsync finishes it first, as the disk would have before the power went.
 */
export async function stopForCopy(pids: readonly number[], timeoutMs = 5000): Promise<void> {
  for (const pid of pids) process.kill(pid, 'SIGSTOP');
  const deadline = Date.now() + timeoutMs;
  for (const pid of pids) {
    while (!(await allThreadsStopped(pid))) {
      if (Date.now() > deadline) throw new Error(`process ${pid} still has running threads ${timeoutMs} ms after SIGSTOP`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
}

async function allThreadsStopped(pid: number): Promise<boolean> {
  const threads = await readdir(`/proc/${pid}/task`);
  const states = await Promise.all(threads.map(async (tid) => (await readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8')).replace(/^.*\) /s, '')[0]));
  return states.every((state) => state === 'T' || state === 't');
}

/** Unmounts the image and detaches its loop device; run it once no process holds a file on it. */
export async function unmountImage(image: LoopImage): Promise<void> {
  if (!mounted.has(image)) return;
  await run('umount', [image.mountPoint]);
  mounted.delete(image);
  await run('losetup', ['-d', image.device]);
}

/**
 * Checks a copy's file system as a boot after a power cut would (`fsck.ext4 -p`: replay the
 * journal, repair what is safe) and mounts it on `mountPoint`.
 * @throws when fsck finds what it cannot repair on its own (exit code 4 or more)
 */
export async function mountCopy(copy: string, mountPoint: string): Promise<LoopImage> {
  const device = await attach(copy);
  const fsck = spawnSync('fsck.ext4', ['-p', device], { encoding: 'utf8' });
  // 0: clean, 1: errors corrected, 2: corrected and a reboot asked for; 4 and up: not repaired.
  if (fsck.status === null || fsck.status >= 4) {
    await run('losetup', ['-d', device]);
    throw new Error(`fsck.ext4 -p ${copy} exited ${fsck.status}: ${fsck.stdout}${fsck.stderr}`);
  }
  return mountDevice(copy, device, mountPoint);
}

/** Unmounts every image still mounted (lazily when busy), detaches its device and removes every image file. */
export async function removeAllImages(): Promise<void> {
  for (const image of [...mounted]) {
    await run('umount', [image.mountPoint]).catch(() => run('umount', ['-l', image.mountPoint]));
    await run('losetup', ['-d', image.device]).catch(() => undefined);
    mounted.delete(image);
  }
  await Promise.all([...files].map((file) => rm(file, { force: true })));
  files.clear();
}

async function attach(file: string): Promise<string> {
  const { stdout } = await run('losetup', ['--find', '--show', file]);
  return stdout.trim();
}

async function mountDevice(file: string, device: string, mountPoint: string): Promise<LoopImage> {
  await mkdir(mountPoint, { recursive: true });
  try {
    // No timed journal commit (the default is every 5 s) while a copy is read: only an fsync commits.
    await run('mount', ['-o', 'commit=600', device, mountPoint]);
  } catch (error) {
    await run('losetup', ['-d', device]);
    throw error;
  }
  const image = { file, device, mountPoint };
  mounted.add(image);
  return image;
}

