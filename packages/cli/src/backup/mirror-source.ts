/**
 * `kiln backup --from-mirror [NAME]`: the mirror a backup reads its pages from, so that the
 * active serves only the end of the range. The mirror is one of the in-sync set as the active
 * names it (NAME, or the first of them), reached alone, never following the active: should its
 * connection drop (the mirror restarted or stopped) the backup fails rather than go on elsewhere.
 */
import { clusterConfigBounds, ConnectionClosedError, defaultClientTiming, InvalidArgumentError } from '@kiln/core';
import { connect, type BackupPage, type KilnClient } from '@kiln/core/client';
import type { Dial } from '../transports.js';
import { BackupFileError } from './backup-file-error.js';

/**
 * How long the backup waits for the mirror's answer: past the longest a mirror may wait before it
 * answers `MirrorBehindError`, its group's `mirrorTimeoutMs` (a backup given `--url` cannot know
 * it, so its bound), plus a request's usual time. At 30 s, a group whose `mirrorTimeoutMs` was
 * longer saw the mirror reported unreachable (exit 5) where it would have said it was behind. The
 * mirror keeps that wait rather than cap it: its group counts it in sync while it acknowledges
 * within `mirrorTimeoutMs`, so it may be that late to learn a range is committed. A mirror that
 * stops or is cut off is still found out within seconds: the client probes a silent server while
 * a request is outstanding (`serverSilenceMs`), and the connection does not follow another one.
 */
export const MIRROR_REQUEST_TIMEOUT_MS = clusterConfigBounds.mirrorTimeoutMs.max + defaultClientTiming.requestTimeoutMs;

/** An in-sync mirror of the stripe, connected, serving pages of the range the active committed. */
export interface MirrorSource {
  /** The mirror's name, which the backup's header gives. */
  readonly server: string;
  /** The page from `fromLsn`, within `throughLsn`. @throws BackupFileError when the mirror's connection dropped */
  page(fromLsn: number, throughLsn: number): Promise<BackupPage>;
  close(): Promise<void>;
}

/**
 * Picks the mirror from what the active (`active`, a client whose last request the active
 * answered) says of its stripe, and connects to it.
 * @param name the mirror to read from; undefined: any in-sync mirror
 * @param partial the file being written, which a dropped connection's error names
 * @throws InvalidArgumentError when the stripe has no such server, it is the active, or it is not in sync
 */
export async function openMirrorSource(active: KilnClient, stripe: string, name: string | undefined, dial: Dial, partial: string): Promise<MirrorSource> {
  const status = await active.serverStatus();
  const group = status.group;
  if (group === undefined) throw new InvalidArgumentError('--from-mirror', `${status.name} is a lone server: it has no mirror to read from`);
  const inSyncMirrors = group.inSync.filter((n) => n !== status.name);
  const servers = group.members.filter((m) => m.kind === 'server').map((m) => m.name);
  if (group.members.some((m) => m.name === name && m.kind === 'voter')) throw new InvalidArgumentError('--from-mirror', `${name} is a voter of stripe ${stripe}: it holds no log (its servers: ${servers.join(', ')})`);
  if (name !== undefined && !servers.includes(name)) throw new InvalidArgumentError('--from-mirror', `stripe ${stripe} has no server ${name} (its servers: ${servers.join(', ')})`);
  if (name === status.name) throw new InvalidArgumentError('--from-mirror', `${name} is the stripe's active; a backup from a mirror reads from another server`);
  const chosen = name ?? inSyncMirrors[0];
  if (chosen === undefined || !inSyncMirrors.includes(chosen)) {
    const which = chosen === undefined ? `stripe ${stripe} has no mirror in sync` : `${chosen} is not in the in-sync set of stripe ${stripe}, so it may lack committed records`;
    throw new InvalidArgumentError('--from-mirror', `${which} (in sync: ${group.inSync.join(', ')}); back up from the active, or wait until a mirror caught up`);
  }
  const urls = (await active.topology()).stripes.find((s) => s.name === stripe)?.members.find((m) => m.name === chosen)?.urls ?? [];
  if (urls.length === 0) throw new InvalidArgumentError('--from-mirror', `the active names no client address of ${chosen}`);
  const client = await connect(urls, { ...dial, reconnectWindowMs: 0, requestTimeoutMs: MIRROR_REQUEST_TIMEOUT_MS });
  try {
    const answering = (await client.serverStatus()).name;
    if (answering !== chosen) throw new InvalidArgumentError('--from-mirror', `another server, ${answering}, answers at ${chosen}'s address ${urls.join(', ')}`);
  } catch (error) {
    await client.close();
    throw error;
  }
  return mirrorSource(client, chosen, partial);
}

function mirrorSource(client: KilnClient, name: string, partial: string): MirrorSource {
  // A page answered after a reconnect would come from a restarted mirror: the backup does not go on over one.
  let dropped: string | undefined;
  const watch = client.status$.subscribe((status) => {
    if (status.type === 'disconnected') dropped ??= status.reason;
    else if (status.type === 'reconnecting' || status.type === 'failed') dropped ??= 'the connection dropped';
  });
  const lost = (lsn: number, cause?: unknown): BackupFileError =>
    new BackupFileError(partial, lsn, `the connection to mirror ${name} dropped during the backup (${dropped ?? 'closed'}): it restarted or stopped; take the backup again`, { cause });
  return {
    server: name,
    async page(fromLsn, throughLsn) {
      let page: BackupPage;
      try {
        page = await client.backupPage({ fromLsn, throughLsn, fromMirror: true });
      } catch (error) {
        if (dropped !== undefined || error instanceof ConnectionClosedError) throw lost(fromLsn, error);
        throw error;
      }
      if (dropped !== undefined) throw lost(fromLsn);
      return page;
    },
    async close() {
      watch.unsubscribe();
      await client.close();
    },
  };
}
