/** Runs a started server in the foreground until SIGINT or SIGTERM. */
import type { KilnServer } from '@kiln/core';

/** What runs in the foreground: a server, or a voter, with its HTTP listener if any. */
export type Running = Pick<KilnServer, 'close' | 'failed'>;

/** Shuts the server down on SIGINT or SIGTERM; a second signal exits at once. A store failure exits with 1. */
export function runUntilSignalled(server: Running, log: (line: string) => void): void {
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      log(`kiln: ${signal} again, exiting without waiting`);
      process.exit(130);
    }
    stopping = true;
    log(`kiln: ${signal} received, shutting down`);
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        log(`kiln: shutdown failed: ${(error as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  void server.failed.then(() => {
    // The disk's state after a failed write is unknown: stop rather than serve on top of it.
    log('kiln: store failure, exiting');
    process.exit(1);
  });
}
