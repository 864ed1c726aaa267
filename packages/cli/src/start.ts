/** Runs a started server in the foreground until SIGINT or SIGTERM. */
import type { KilnServer } from '@kiln/core';
import { storeFailureLine } from './store-failure.js';

/** What runs in the foreground: a server, or a voter, with its HTTP listener if any. */
export type Running = Pick<KilnServer, 'close' | 'failed'> & {
  /** Where its store is (restartable mode), for the line a store failure ends it with. */
  readonly dataDir?: string | undefined;
};

/**
 * Shuts the server down on SIGINT or SIGTERM; a second signal exits at once. A store failure
 * exits with 1. The signals are handled from the start: one that comes while the server is still
 * starting (opening a large store takes a while) shuts it down cleanly once it has started,
 * instead of killing it halfway. A failed start rejects, for the caller to report.
 */
export async function runUntilSignalled(starting: Promise<Running>, log: (line: string) => void): Promise<void> {
  let running: Running | undefined;
  let stopping = false;
  const shutDown = (server: Running): void => {
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        log(`kiln: shutdown failed: ${(error as Error).message}`);
        process.exit(1);
      },
    );
  };
  const stop = (signal: string): void => {
    if (stopping) {
      log(`kiln: ${signal} again, exiting without waiting`);
      process.exit(130);
    }
    stopping = true;
    log(`kiln: ${signal} received, ${running ? 'shutting down' : 'shutting down once started'}`);
    if (running) shutDown(running);
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  running = await starting;
  const { dataDir } = running;
  void running.failed.then((error) => {
    // The disk's state after a failed write is unknown: stop rather than serve on top of it.
    log(storeFailureLine(error, dataDir));
    process.exit(1);
  });
  if (stopping) shutDown(running);
}
