/** `kiln start`: runs one server in the foreground until SIGINT or SIGTERM. */
import { resolve } from 'node:path';
import { createServer, type KilnServer, type Store } from '@kiln/core';
import { levelStore } from '@kiln/store-level';
import { memoryStore } from '@kiln/store-memory';
import { tcpTransport } from '@kiln/transport-tcp';
import { wsTransport } from '@kiln/transport-ws';
import type { ServerConfig } from './config.js';

/** Starts the server the config describes and logs where it listens. */
export async function startServer(config: ServerConfig, log: (line: string) => void): Promise<KilnServer> {
  const store: Store = config.persistence === 'memory' ? memoryStore() : levelStore({ path: resolve(config.dataDir) });
  const server = await createServer({
    name: config.name,
    store,
    transports: [tcpTransport(), wsTransport()],
    listen: config.listen,
    limits: config.limits,
    log,
  });
  const where = config.persistence === 'memory' ? 'memory mode, nothing on disk' : `restartable mode, data in ${resolve(config.dataDir)}`;
  log(`kiln: ${config.name} listening on ${server.urls.join(', ')} (${where})`);
  return server;
}

/** Shuts the server down on SIGINT or SIGTERM; a second signal exits at once. A store failure exits with 1. */
export function runUntilSignalled(server: KilnServer, log: (line: string) => void): void {
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
