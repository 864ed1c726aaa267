// `createServer({ group })` holds a group's settings to the rules the config file does: what the
// file refuses, code cannot start either, with a ConfigError naming the setting; nothing is
// opened for a refused setting.
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, createServer, inProcessTransport, validateClusterConfig, type GroupOptions, type KilnServer } from '@kiln/core';
import { memoryStore } from '@kiln/store-memory';

const started: KilnServer[] = [];
afterEach(async () => {
  for (const server of started.splice(0)) await server.close();
});

const good = { electionTimeMs: 1000, mirrorTimeoutMs: 500, leaseMs: 400 };
const servers = ['a', 'b', 'c'];

/** The same group as a config file and as `createServer` options for server `a`. */
function both(settings: Partial<GroupOptions> & { voters?: number; servers?: string[] }): { file: unknown; group: GroupOptions } {
  const names = settings.servers ?? servers;
  const voters = Array.from({ length: settings.voters ?? 0 }, (_, i) => `v${i + 1}`);
  const timing = { electionTimeMs: settings.electionTimeMs!, mirrorTimeoutMs: settings.mirrorTimeoutMs!, leaseMs: settings.leaseMs! };
  const failover = settings.failoverPriority ? { failoverPriority: settings.failoverPriority } : {};
  return {
    file: {
      cluster: 'c',
      persistence: 'memory',
      ...timing,
      ...failover,
      reconnectWindowMs: 600_000,
      servers: names.map((name, i) => ({ name, listen: [`tcp://127.0.0.1:${7000 + i}`], peer: `tcp://127.0.0.1:${7100 + i}` })),
      voters: voters.map((name, i) => ({ name, peer: `tcp://127.0.0.1:${7200 + i}` })),
    },
    group: {
      self: names[0]!,
      members: [
        ...names.map((name) => ({ name, kind: 'server' as const, peer: `memory://${name}-peer`, clientUrls: [`memory://${name}`], weight: 1 })),
        ...voters.map((name) => ({ name, kind: 'voter' as const, peer: `memory://${name}-peer`, clientUrls: [], weight: 1 })),
      ],
      ...timing,
      ...failover,
    },
  };
}

async function start(group: GroupOptions): Promise<KilnServer> {
  const server = await createServer({ name: group.self, store: memoryStore(), transports: [inProcessTransport()], listen: [`memory://${group.self}`], group });
  started.push(server);
  return server;
}

describe('createServer({ group })', () => {
  it.each([
    ['leaseMs not below mirrorTimeoutMs', { ...good, leaseMs: 500 }, 'leaseMs'],
    ['mirrorTimeoutMs not below electionTimeMs', { ...good, mirrorTimeoutMs: 1000 }, 'mirrorTimeoutMs'],
    ['electionTimeMs below its bound', { electionTimeMs: 50, mirrorTimeoutMs: 20, leaseMs: 10 }, 'electionTimeMs'],
    ['a fractional time', { ...good, leaseMs: 399.5 }, 'leaseMs'],
    ['two servers without a voter in consistency mode', { ...good, servers: ['a', 'b'] }, 'voters|members'],
  ])('refuses %s, as the config file does', async (_what, settings, field) => {
    const { file, group } = both(settings);
    expect(() => validateClusterConfig(file)).toThrow(ConfigError);
    const error = await start(group).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).field).toMatch(new RegExp(`^group\\.(${field})$`));
  });

  it('starts with settings the config file accepts', async () => {
    for (const settings of [good, { ...good, servers: ['a', 'b'], voters: 1 }, { ...good, servers: ['a', 'b'], failoverPriority: 'availability' as const }]) {
      const { file, group } = both(settings);
      expect(() => validateClusterConfig(file)).not.toThrow();
      await expect(start(group)).resolves.toBeDefined();
      for (const server of started.splice(0)) await server.close();
    }
  });
});
