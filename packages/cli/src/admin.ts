/**
 * `kiln admin add-mirror|remove-mirror --config FILE --name NAME [--stripe STRIPE]`: changes a
 * running stripe's membership through its active, which records the change without pausing. The
 * cluster file says where the stripe's servers are and, for `add-mirror`, the new server's
 * addresses; with several stripes, `--stripe` names the stripe, and must be the one the file puts
 * the server in. The commands dial with the cluster's CA when the file has one, and present the
 * operator's credentials to a cluster with `auth` (see `operatorCredentials`).
 */
import { ConfigError, findServer, stripesOf, type ClusterConfig, type GroupView } from '@kiln/core';
import { connect, type KilnClient } from '@kiln/core/client';
import { describeMirror } from './status.js';
import type { Dial } from './transports.js';

export interface AdminOptions {
  /** The cluster file. */
  config: ClusterConfig;
  /** What to dial its servers with, and the credentials to present (see operatorCredentials). */
  dial: Dial;
  name: string;
  /** The stripe the server is in; required when the cluster has several. */
  stripe: string | undefined;
  /** add-mirror: wait until the new mirror is in the in-sync set, printing its progress. */
  wait: boolean;
  /** The longest wait, ms. */
  waitLimitMs: number;
}

const PROGRESS_EVERY_MS = 1000;

/** Runs one admin command; resolves when the change is recorded (and, with `wait`, synced). */
export async function runAdmin(command: 'add-mirror' | 'remove-mirror', options: AdminOptions, print: (line: string) => void): Promise<void> {
  const { config } = options;
  const { server, stripe } = findServer(config, options.name, '--name');
  const stripes = stripesOf(config);
  if (options.stripe === undefined && stripes.length > 1) {
    throw new ConfigError('--stripe', `the cluster has ${stripes.length} stripes (${stripes.map((s) => s.name).join(', ')}); name the one '${options.name}' is in`);
  }
  if (options.stripe !== undefined && options.stripe !== stripe.name) {
    throw new ConfigError('--stripe', `'${options.name}' is in stripe '${stripe.name}' in the cluster file, not '${options.stripe}'`);
  }
  // Ask the stripe's other servers: the client follows whichever one is the active.
  const others = stripe.servers.filter((s) => s.name !== options.name).flatMap((s) => s.listen);
  const client = await connect(others, { ...options.dial, reconnectWindowMs: 10_000, requestTimeoutMs: 30_000 });
  try {
    if (command === 'remove-mirror') {
      printView(await client.removeMirror(options.name), print);
      return;
    }
    const view = await client.addMirror({ name: server.name, peer: server.peer!, clientUrls: server.listen, weight: server.weight });
    printView(view, print);
    if (options.wait) await waitInSync(client, options, print);
  } finally {
    await client.close();
  }
}

function printView(view: GroupView, print: (line: string) => void): void {
  const servers = view.members.filter((m) => m.kind === 'server').map((m) => m.name);
  const voters = view.members.filter((m) => m.kind === 'voter').map((m) => m.name);
  print(`view ${view.version} recorded: servers ${servers.join(', ')}${voters.length > 0 ? `; voters ${voters.join(', ')}` : ''}; in sync ${view.inSync.join(', ')}`);
}

/** Prints the new mirror's progress once a second until the active counts it in sync. */
async function waitInSync(client: KilnClient, options: AdminOptions, print: (line: string) => void): Promise<void> {
  // On the monotonic clock: a wall-clock step would end the wait at once or stretch it.
  const deadline = performance.now() + options.waitLimitMs;
  for (;;) {
    const { group } = await client.serverStatus();
    const mirror = group?.mirrors.find((m) => m.name === options.name);
    if (mirror) print(describeMirror(mirror));
    if (group?.inSync.includes(options.name)) return;
    if (performance.now() > deadline) throw new AdminWaitError(`${options.name} is not in sync after ${Math.round(options.waitLimitMs / 1000)} s; it stays a member and keeps catching up`);
    await new Promise((resolve) => setTimeout(resolve, PROGRESS_EVERY_MS));
  }
}

/** `--wait` ran out before the mirror was in sync. */
export class AdminWaitError extends Error {
  override name = 'AdminWaitError';
}
