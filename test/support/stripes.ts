// A cluster of stripes on 127.0.0.1 for client tests: each stripe one standalone server over TCP,
// on ports chosen before the layout is written (the layout names every server's URL).
import { createServer as createNetServer } from 'node:net';
import { clusterLayoutOf, createServer, validateClusterConfig, type ClusterLayout, type KilnServer, type ServerOptions, type SlotTable, type Store } from '@kiln/core';
import { memoryStore } from '@kiln/store-memory';
import { tcpTransport } from '@kiln/transport-tcp';

export const STRIPE_NAMES = ['alpha', 'beta', 'gamma'];

/** A free TCP port: bound on port 0, read, released. */
export async function freePort(): Promise<number> {
  return (await freePorts(1))[0]!;
}

/**
 * `count` distinct free TCP ports: all bound on port 0 at once, read, then released, so that the
 * kernel cannot hand one port out twice (as it may to sockets bound one after another).
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createNetServer());
  await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))));
  const ports = servers.map((server) => (server.address() as { port: number }).port);
  await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  return ports;
}

/** The cluster file of `count` stripes of one server each, listening on `urls[i]`. */
export function configOf(urls: readonly string[], peers: readonly string[]) {
  return {
    cluster: 'c',
    persistence: 'memory',
    failoverPriority: 'availability',
    stripes: urls.map((url, i) => ({ name: STRIPE_NAMES[i]!, servers: [{ name: `${STRIPE_NAMES[i]![0]}1`, listen: [url], peer: peers[i]! }] })),
  };
}

/** The layout of `count` stripes of one server each, listening on `urls[i]`. */
export function layoutOf(urls: readonly string[], peers: readonly string[]): ClusterLayout {
  return clusterLayoutOf(validateClusterConfig(configOf(urls, peers)));
}

export interface Stripes {
  layout: ClusterLayout;
  /** The cluster file's content (for `kiln ... --config`). */
  config: ReturnType<typeof configOf>;
  /** Each stripe's client URL. */
  urls: string[];
  /** Each stripe's server, or undefined while it is stopped. */
  servers: Array<KilnServer | undefined>;
  /** Starts stripe `i`'s server (again) on its URL, with `store` or a new memory store. */
  start(i: number, store?: Store, layout?: ClusterLayout): Promise<KilnServer>;
  stop(i: number): Promise<void>;
  close(): Promise<void>;
}

export async function startStripes(count: number, stores: Array<() => Store> = [], limits?: ServerOptions['limits']): Promise<Stripes> {
  const ports = await freePorts(count * 2);
  const urls = ports.slice(0, count).map((p) => `tcp://127.0.0.1:${p}`);
  const config = configOf(
    urls,
    ports.slice(count).map((p) => `tcp://127.0.0.1:${p}`),
  );
  const layout = clusterLayoutOf(validateClusterConfig(config));
  const servers: Array<KilnServer | undefined> = [];
  const stripes: Stripes = {
    layout,
    config,
    urls,
    servers,
    async start(i, store, at = layout) {
      const server = await createServer({
        name: config.stripes[i]!.servers[0]!.name,
        store: store ?? stores[i]?.() ?? memoryStore(),
        transports: [tcpTransport()],
        listen: [urls[i]!],
        cluster: { layout: at, stripe: i },
        ...(limits ? { limits } : {}),
      });
      servers[i] = server;
      return server;
    },
    async stop(i) {
      const server = servers[i];
      servers[i] = undefined;
      await server?.close();
    },
    async close() {
      for (let i = 0; i < count; i++) await stripes.stop(i);
    },
  };
  for (let i = 0; i < count; i++) await stripes.start(i);
  return stripes;
}

/** `perStripe` stream names of each stripe a slot table routes to: `${prefix}-${n}` for the first n that land there. */
export function streamsByStripe({ slotTable }: { slotTable: SlotTable }, prefix: string, perStripe = 1): string[][] {
  const found: string[][] = Array.from({ length: slotTable.stripeCount }, () => []);
  for (let n = 0; found.some((f) => f.length < perStripe); n++) {
    const name = `${prefix}-${n}`;
    const list = found[slotTable.stripeOf(name)]!;
    if (list.length < perStripe) list.push(name);
  }
  return found;
}

/** A memory store whose appends wait while it is held, and fail once it is lost: a server that takes its time to write, or dies writing. */
export function holdableStore(): { store: Store; hold(): void; release(): void; lose(): void } {
  const inner = memoryStore();
  let gate: Promise<void> | undefined;
  let open = (): void => {};
  let fail = (_error: Error): void => {};
  const store = new Proxy(inner, {
    get(target, prop) {
      if (prop === 'append') return async (records: Parameters<Store['append']>[0]) => (await gate, target.append(records));
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return {
    store,
    hold: () =>
      void (gate = new Promise((resolve, reject) => {
        open = resolve;
        fail = reject;
      })),
    release: () => {
      gate = undefined;
      open();
    },
    lose: () => fail(new Error('the store is lost')),
  };
}
