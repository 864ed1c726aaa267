// The cluster configuration: every rule names the field it guards and says what broke; valid
// configs come back with their defaults; nothing but a ConfigError ever escapes validation.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ConfigError } from '../src/errors.js';
import { defaultConnectionLimits, defaultLogLimits } from '../src/limits.js';
import { validateClusterConfig } from '../src/config/cluster-config.js';
import type { ClusterConfig } from '../src/config/types.js';
import { findServer, findVoter, quorumSize, serversOf, stripeOf, stripesOf, votingMembers } from '../src/config/members.js';

/** A valid one-stripe cluster: two servers and a voter. */
const oneStripe = () => ({
  cluster: 'orders',
  servers: [
    { name: 'a', listen: ['tcp://10.0.0.1:7410', 'ws://10.0.0.1:7420'], peer: 'tcp://10.0.0.1:7411', dataDir: '/var/lib/kiln' },
    { name: 'b', listen: ['tcp://10.0.0.2:7410'], peer: 'tcp://10.0.0.2:7411', dataDir: '/var/lib/kiln', weight: 2 },
  ],
  voters: [{ name: 'v', peer: 'tcp://10.0.0.3:7412' }],
});

/** A valid two-stripe cluster on one host. */
const twoStripes = () => ({
  cluster: 'ledger',
  persistence: 'restartable',
  failoverPriority: 'consistency',
  electionTimeMs: 8000,
  stripes: [
    {
      name: 'east',
      electionTimeMs: 10000,
      servers: [
        { name: 's1', listen: ['tcp://127.0.0.1:7410'], peer: 'tcp://127.0.0.1:7411', dataDir: './data/s1' },
        { name: 's2', listen: ['tcp://127.0.0.1:7420'], peer: 'tcp://127.0.0.1:7421', dataDir: './data/s2' },
      ],
    },
    {
      name: 'west',
      servers: [
        { name: 's3', listen: ['tcp://127.0.0.1:7430'], peer: 'tcp://127.0.0.1:7431', dataDir: './data/s3' },
        { name: 's4', listen: ['tcp://127.0.0.1:7440'], peer: 'tcp://127.0.0.1:7441', dataDir: './data/s4' },
      ],
    },
  ],
  voters: [{ name: 'v1', peer: 'tcp://127.0.0.1:7450', dataDir: './data/v1' }],
  limits: { frameBytesMax: 1048576 },
});

/** A well-formed password hash (of the example config's password). */
const HASH = 'scrypt$16384$8$1$YxnIdZefM/XD8/genmFJ1Q==$5mslKmArkW45WZFdxFTcVZnJHtwd89GiMt8rceYJ7V8=';

type Json = Record<string, any>;
/** A copy of `base` changed by `edit`. */
const edit = (base: () => Json, change: (c: Json) => void): Json => {
  const c = base();
  change(c);
  return c;
};

function rejection(value: unknown): ConfigError {
  try {
    validateClusterConfig(value);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('validation passed');
}

describe('validateClusterConfig: each rule names its field', () => {
  const cases: Array<[rule: string, config: unknown, field: string, says: RegExp]> = [
    ['the file is an object', [], 'config', /object/],
    ['cluster is required', edit(oneStripe, (c) => delete c.cluster), 'cluster', /required/],
    ['names have a shape', edit(oneStripe, (c) => (c.cluster = 'has space')), 'cluster', /letters, digits/],
    ['unknown top-level keys are typos', edit(oneStripe, (c) => (c.electionTimeoutMs = 5000)), 'electionTimeoutMs', /not a known setting.*electionTimeMs/],
    ['unknown server keys are typos', edit(oneStripe, (c) => (c.servers[1].dataDri = '/x')), 'servers[1].dataDri', /did you mean 'dataDir'/],
    ['unknown stripe keys are typos', edit(twoStripes, (c) => (c.stripes[1].electionTime = 1)), 'stripes[1].electionTime', /not a known setting/],
    ['unknown voter keys are typos', edit(oneStripe, (c) => (c.voters[0].weight = 1)), 'voters[0].weight', /not a known setting/],
    ['persistence is one of two', edit(oneStripe, (c) => (c.persistence = 'disk')), 'persistence', /'restartable' or 'memory'/],
    ['failoverPriority is one of two', edit(oneStripe, (c) => (c.failoverPriority = 'speed')), 'failoverPriority', /'consistency' or 'availability'/],
    ['servers and stripes never both', edit(oneStripe, (c) => (c.stripes = twoStripes().stripes)), 'stripes', /never both/],
    ['servers or stripes, not neither', edit(oneStripe, (c) => delete c.servers), 'servers', /required/],
    ['servers is not empty', edit(oneStripe, (c) => (c.servers = [])), 'servers', /empty/],
    ['stripes is not empty', edit(twoStripes, (c) => (c.stripes = [])), 'stripes', /empty/],
    ['a stripe has servers', edit(twoStripes, (c) => delete c.stripes[1].servers), 'stripes[1].servers', /required/],
    ['a stripe has a name', edit(twoStripes, (c) => delete c.stripes[0].name), 'stripes[0].name', /required/],
    ['a server has client addresses', edit(oneStripe, (c) => delete c.servers[0].listen), 'servers[0].listen', /required/],
    ['server names are unique', edit(oneStripe, (c) => (c.servers[1].name = 'a')), 'servers[1].name', /unique/],
    ['voter names differ from server names', edit(oneStripe, (c) => (c.voters[0].name = 'b')), 'voters[0].name', /unique/],
    ['stripe names differ from server names', edit(twoStripes, (c) => (c.stripes[1].servers[0].name = 'east')), 'stripes[1].servers[0].name', /unique/],
    ['server names are unique across stripes', edit(twoStripes, (c) => (c.stripes[1].servers[1].name = 's1')), 'stripes[1].servers[1].name', /unique/],
    ['client addresses are unique', edit(oneStripe, (c) => (c.servers[1].listen = ['tcp://10.0.0.1:7410'])), 'servers[1].listen[0]', /already used by servers\[0\]\.listen\[0\]/],
    ['client and peer addresses are unique', edit(twoStripes, (c) => (c.stripes[1].servers[0].peer = 'ws://localhost:7410')), 'stripes[1].servers[0].peer', /unique/],
    ['loopback spellings are one address', edit(twoStripes, (c) => (c.stripes[1].servers[1].listen = ['ws://localhost:7430'])), 'stripes[1].servers[1].listen[0]', /already used by stripes\[1\]\.servers\[0\]\.listen\[0\] \('tcp:\/\/127\.0\.0\.1:7430'\)/],
    ['a wildcard address takes its port on its host', edit(twoStripes, (c) => (c.stripes[1].servers[0].listen = ['tcp://0.0.0.0:7410'])), 'stripes[1].servers[0].listen[0]', /'tcp:\/\/0\.0\.0\.0:7410' is already used by stripes\[0\]\.servers\[0\]\.listen\[0\] \('tcp:\/\/127\.0\.0\.1:7410'\).*0\.0\.0\.0/],
    ['an IPv6 wildcard too, HTTP addresses included', edit(twoStripes, (c) => (c.stripes[0].servers[0].http = 'http://[::]:7441')), 'stripes[1].servers[1].peer', /already used by stripes\[0\]\.servers\[0\]\.http \('http:\/\/\[::\]:7441'\)/],
    ["a wildcard address takes its port on its server's own host", edit(oneStripe, (c) => (c.servers[0].listen[1] = 'ws://0.0.0.0:7410')), 'servers[0].listen[1]', /already used by servers\[0\]\.listen\[0\]/],
    ['wsOrigins are origins as a browser sends them', edit(oneStripe, (c) => (c.servers[0].wsOrigins = ['https://app.example', 'https://app.example/'])), 'servers[0].wsOrigins[1]', /origin as a browser sends it/],
    ['wsOrigins are strings', edit(oneStripe, (c) => (c.servers[0].wsOrigins = [7])), 'servers[0].wsOrigins[0]', /origin/],
    ['wsOrigins go with a ws:// or wss:// listener', edit(oneStripe, (c) => (c.servers[1].wsOrigins = ['*'])), 'servers[1].wsOrigins', /no ws:\/\/ or wss:\/\//],
    ['voter addresses are unique', edit(oneStripe, (c) => (c.voters[0].peer = 'tcp://10.0.0.2:7411')), 'voters[0].peer', /unique/],
    ['addresses are URLs', edit(oneStripe, (c) => (c.servers[0].peer = 'nonsense')), 'servers[0].peer', /not a URL/],
    ['addresses are tcp, ws or wss', edit(oneStripe, (c) => (c.servers[0].listen[1] = 'http://10.0.0.1:80')), 'servers[0].listen[1]', /tcp, tls, ws or wss/],
    ['addresses have ports', edit(oneStripe, (c) => (c.servers[0].listen[0] = 'tcp://10.0.0.1')), 'servers[0].listen[0]', /port/],
    ['a ws address has its port written out', edit(oneStripe, (c) => (c.servers[0].listen[1] = 'ws://10.0.0.1/')), 'servers[0].listen[1]', /port/],
    ['peer addresses are not port 0', edit(oneStripe, (c) => (c.voters[0].peer = 'tcp://10.0.0.3:0')), 'voters[0].peer', /other than 0/],
    ['client addresses of a cluster are not port 0', edit(oneStripe, (c) => (c.servers[1].listen = ['tcp://10.0.0.2:0'])), 'servers[1].listen[0]', /port 0/],
    ['peer is required in a cluster', edit(oneStripe, (c) => delete c.servers[1].peer), 'servers[1].peer', /required/],
    ['a voter has a peer address', edit(oneStripe, (c) => delete c.voters[0].peer), 'voters[0].peer', /required/],
    ['dataDir is required when restartable', edit(oneStripe, (c) => delete c.servers[1].dataDir), 'servers[1].dataDir', /required when persistence is 'restartable'/],
    ['dataDir is a non-empty path', edit(oneStripe, (c) => (c.servers[0].dataDir = '')), 'servers[0].dataDir', /non-empty path/],
    ['data directories on one host are unique', edit(twoStripes, (c) => (c.stripes[1].servers[0].dataDir = 'data/./s2/')), 'stripes[1].servers[0].dataDir', /already the data directory of stripes\[0\]\.servers\[1\]/],
    ['a voter does not share a data directory', edit(twoStripes, (c) => (c.voters[0].dataDir = './data/s1')), 'voters[0].dataDir', /data directory/],
    ['weights are positive', edit(oneStripe, (c) => (c.servers[0].weight = 0)), 'servers[0].weight', /positive integer/],
    ['weights are integers', edit(oneStripe, (c) => (c.servers[0].weight = 1.5)), 'servers[0].weight', /positive integer/],
    ['electionTimeMs is at least 100', edit(oneStripe, (c) => (c.electionTimeMs = 99)), 'electionTimeMs', /from 100 to 600000/],
    ['electionTimeMs is at most 600000', edit(twoStripes, (c) => (c.stripes[0].electionTimeMs = 600001)), 'stripes[0].electionTimeMs', /from 100 to 600000/],
    ['electionTimeMs is an integer', edit(oneStripe, (c) => (c.electionTimeMs = '5000')), 'electionTimeMs', /integer number of milliseconds/],
    ['mirrorTimeoutMs is in bounds', edit(oneStripe, (c) => (c.mirrorTimeoutMs = 0)), 'mirrorTimeoutMs', /from 10/],
    ['leaseMs is in bounds', edit(oneStripe, (c) => (c.leaseMs = -5)), 'leaseMs', /from 10/],
    ['reconnectWindowMs is in bounds', edit(oneStripe, (c) => (c.reconnectWindowMs = 4_000_000)), 'reconnectWindowMs', /to 3600000/],
    ['mirrorTimeoutMs < electionTimeMs', edit(oneStripe, (c) => (c.mirrorTimeoutMs = 5000)), 'mirrorTimeoutMs', /less than electionTimeMs \(5000 ms\)/],
    ['leaseMs < electionTimeMs', edit(oneStripe, (c) => (c.leaseMs = 6000)), 'leaseMs', /less than electionTimeMs/],
    ['leaseMs < every stripe electionTimeMs', edit(twoStripes, (c) => (c.leaseMs = 9000)), 'leaseMs', /stripe 'west'/],
    ['a short election window blames itself', edit(twoStripes, (c) => (c.stripes[1].electionTimeMs = 900)), 'stripes[1].electionTimeMs', /more than mirrorTimeoutMs \(1000 ms, its default\)/],
    ['leaseMs < mirrorTimeoutMs', edit(oneStripe, (c) => (c.leaseMs = 1000)), 'leaseMs', /less than mirrorTimeoutMs/],
    ['a short cluster window blames itself', edit(oneStripe, (c) => (c.electionTimeMs = 1000)), 'electionTimeMs', /mirrorTimeoutMs/],
    ['reconnectWindowMs outlasts an election', edit(oneStripe, (c) => (c.reconnectWindowMs = 1000)), 'reconnectWindowMs', /at least electionTimeMs/],
    ['two servers in consistency mode need a voter', edit(oneStripe, (c) => delete c.voters), 'voters', /at least one voter.*two servers/],
    ['every two-server stripe needs a voter', edit(twoStripes, (c) => (c.voters = [])), 'voters', /stripe 'east'/],
    ['limits are known', edit(oneStripe, (c) => (c.limits = { speed: 11 })), 'limits.speed', /not a known limit/],
    ['limits are positive integers', edit(oneStripe, (c) => (c.limits = { frameBytesMax: -1 })), 'limits.frameBytesMax', /positive integer/],
    ['limits pass checkLimits', edit(oneStripe, (c) => (c.limits = { frameBytesMax: 64 * 1024 * 1024 })), 'limits', /groupCommitBytesMax must be at least frameBytesMax/],
    ['one read fits the connection read budget', edit(oneStripe, (c) => (c.limits = { readBytesInFlightPerConnectionMax: 1024 })), 'limits', /readBytesInFlightPerConnectionMax must be at least readBytesMax/],
    ['the server read budget fits a connection budget', edit(oneStripe, (c) => (c.limits = { readBytesInFlightMax: 2 * 1024 * 1024 })), 'limits', /readBytesInFlightMax must be at least readBytesInFlightPerConnectionMax/],
    ['auth takes roles, users, tokens and anonymous only', edit(oneStripe, (c) => (c.auth = { token: 'x' })), 'auth.token', /not a known setting; did you mean 'tokens'/],
    ['a password hash is scrypt, and its value is not shown', edit(oneStripe, (c) => (c.auth = { users: [{ name: 'alice', passwordHash: 'hunter2' }] })), 'auth.users[0].passwordHash', /^(?!.*hunter2)must be a scrypt hash/],
    ['a user holds no password', edit(oneStripe, (c) => (c.auth = { users: [{ name: 'alice', password: 'hunter2' }] })), 'auth.users[0].password', /^is not a known setting$/],
    ['a token hash is sha256, and its value is not shown', edit(oneStripe, (c) => (c.auth = { tokens: [{ name: 't', tokenHash: 'kiln_secret' }] })), 'auth.tokens[0].tokenHash', /^(?!.*kiln_secret)must be a token hash/],
    ['a user names defined roles', edit(oneStripe, (c) => (c.auth = { users: [{ name: 'alice', passwordHash: HASH, roles: ['ghost'] }] })), 'auth.users[0].roles[0]', /names role 'ghost', which auth.roles does not define/],
    ['anonymous names a defined role', edit(oneStripe, (c) => (c.auth = { roles: [{ name: 'r', grants: [] }], anonymous: 'ghost' })), 'auth.anonymous', /names role 'ghost'/],
    ['role names are unique', edit(oneStripe, (c) => (c.auth = { roles: [{ name: 'r', grants: [] }, { name: 'r', grants: [] }] })), 'auth.roles[1].name', /already the name of another/],
    ['a grant names read, write or admin', edit(oneStripe, (c) => (c.auth = { roles: [{ name: 'r', grants: [{ prefix: 'a-', permissions: ['delete'] }] }] })), 'auth.roles[0].grants[0].permissions[0]', /must be 'read', 'write' or 'admin'/],
    ['a prefix is literal', edit(oneStripe, (c) => (c.auth = { roles: [{ name: 'r', grants: [{ prefix: 'orders-*', permissions: ['read'] }] }] })), 'auth.roles[0].grants[0].prefix', /literal prefix, not a pattern/],
  ];

  it.each(cases)('%s', (_rule, config, field, says) => {
    const error = rejection(config);
    expect(error.field).toBe(field);
    expect(error.rule).toMatch(says);
    expect(error.message).toBe(`${field}: ${error.rule}`);
  });

  // A hostile file: each must be a ConfigError naming the field, never a crash or another error class.
  it('refuses more stripes than slots as a ConfigError on stripes, before reading them one by one', () => {
    // Each stripe valid on its own (names and ports unique): the slot table had no room, and it was an InvalidArgumentError.
    const stripes = Array.from({ length: 16_385 }, (_, i) => ({ name: `z${i}`, servers: [{ name: `x${i}`, listen: [`tcp://10.0.0.1:${20_000 + i}`], peer: `tcp://10.0.0.2:${20_000 + i}` }] }));
    const error = rejection({ cluster: 'many', persistence: 'memory', failoverPriority: 'availability', stripes });
    expect(error.field).toBe('stripes');
    expect(error.rule).toMatch(/at most 16384 stripes.*got 16385/);
  });

  it('names the field of a value nested too deep to print (it threw a RangeError from the message)', () => {
    let deep: unknown = [];
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(rejection(edit(oneStripe, (c) => (c.cluster = deep))).field).toBe('cluster');
    expect(rejection(edit(twoStripes, (c) => (c.stripes[1] = deep))).field).toBe('stripes[1]');
    expect(rejection(edit(twoStripes, (c) => (c.stripes[0].servers[0].listen = deep))).field).toBe('stripes[0].servers[0].listen[0]');
  });

  it('does not modify its input', () => {
    const config = oneStripe();
    const copy = structuredClone(config);
    validateClusterConfig(config);
    expect(config).toEqual(copy);
  });
});

describe('validateClusterConfig: valid configs normalise', () => {
  it('lets servers of different hosts listen on 0.0.0.0 with the same port, and keeps wsOrigins', () => {
    const config = edit(oneStripe, (c) => {
      c.servers[0].listen = ['tcp://0.0.0.0:7410', 'ws://0.0.0.0:7420'];
      c.servers[0].wsOrigins = ['https://app.example.com', 'http://localhost:8080', '*'];
      c.servers[1].listen = ['tcp://0.0.0.0:7410'];
    });
    const valid = validateClusterConfig(config);
    expect(serversOf(valid).map((s) => s.listen[0])).toEqual(['tcp://0.0.0.0:7410', 'tcp://0.0.0.0:7410']);
    expect(serversOf(valid)[0]!.wsOrigins).toEqual(['https://app.example.com', 'http://localhost:8080', '*']);
    expect(serversOf(valid)[1]).not.toHaveProperty('wsOrigins');
  });

  it('fills in the defaults of a one-stripe cluster', () => {
    const config = validateClusterConfig(oneStripe());
    expect(config).toEqual({
      cluster: 'orders',
      persistence: 'restartable',
      failoverPriority: 'consistency',
      electionTimeMs: 5000,
      mirrorTimeoutMs: 1000,
      leaseMs: 800,
      reconnectWindowMs: 10000,
      servers: [
        { name: 'a', listen: ['tcp://10.0.0.1:7410', 'ws://10.0.0.1:7420'], peer: 'tcp://10.0.0.1:7411', dataDir: '/var/lib/kiln', weight: 1 },
        { name: 'b', listen: ['tcp://10.0.0.2:7410'], peer: 'tcp://10.0.0.2:7411', dataDir: '/var/lib/kiln', weight: 2 },
      ],
      voters: [{ name: 'v', peer: 'tcp://10.0.0.3:7412' }],
      limits: { ...defaultConnectionLimits, ...defaultLogLimits },
    });
    expect(validateClusterConfig(config)).toEqual(config);
  });

  it('resolves each stripe of a two-stripe cluster', () => {
    const config = validateClusterConfig(twoStripes());
    expect(config.servers).toBeUndefined();
    expect(config.stripes?.map((s) => [s.name, s.electionTimeMs])).toEqual([
      ['east', 10000],
      ['west', 8000],
    ]);
    expect(config.stripes?.[1]?.servers[0]).toEqual({ name: 's3', listen: ['tcp://127.0.0.1:7430'], peer: 'tcp://127.0.0.1:7431', dataDir: './data/s3', weight: 1 });
    expect(config.limits.frameBytesMax).toBe(1048576);
    expect(config.limits.readCountMax).toBe(defaultLogLimits.readCountMax);
    expect(validateClusterConfig(config)).toEqual(config);
  });

  it('accepts a lone server without a peer address, in memory, on port 0', () => {
    const config = validateClusterConfig({ cluster: 'dev', persistence: 'memory', servers: [{ name: 'kiln', listen: ['tcp://127.0.0.1:0'] }] });
    expect(config.servers).toEqual([{ name: 'kiln', listen: ['tcp://127.0.0.1:0'], weight: 1 }]);
  });

  it('lets two servers fail over without a voter in availability mode', () => {
    const config = edit(oneStripe, (c) => {
      delete c.voters;
      c.failoverPriority = 'availability';
    });
    expect(validateClusterConfig(config).voters).toEqual([]);
  });

  it('allows the same data directory on different hosts, and ws on its default port written out', () => {
    const config = edit(oneStripe, (c) => (c.servers[0].listen[1] = 'ws://10.0.0.1:80'));
    expect(validateClusterConfig(config).servers?.[0]?.listen[1]).toBe('ws://10.0.0.1:80');
  });

  it('lets explicit timeouts fit a short election window', () => {
    const config = validateClusterConfig(edit(oneStripe, (c) => Object.assign(c, { electionTimeMs: 500, mirrorTimeoutMs: 400, leaseMs: 300 })));
    expect([config.electionTimeMs, config.mirrorTimeoutMs, config.leaseMs]).toEqual([500, 400, 300]);
  });
});

describe('lookups', () => {
  const one = validateClusterConfig(oneStripe());
  const two = validateClusterConfig(twoStripes());

  it('treats a servers list as one stripe named after the cluster', () => {
    expect(stripesOf(one)).toEqual([{ name: 'orders', electionTimeMs: 5000, servers: one.servers }]);
    expect(serversOf(two).map((s) => s.name)).toEqual(['s1', 's2', 's3', 's4']);
  });

  it('finds a server and its stripe', () => {
    const { stripe, server } = findServer(two, 's3');
    expect(stripe.name).toBe('west');
    expect(server.peer).toBe('tcp://127.0.0.1:7431');
    expect(stripeOf(two, 's2')?.name).toBe('east');
    expect(stripeOf(two, 'nobody')).toBeUndefined();
    expect(stripeOf(one, 'b')?.name).toBe('orders');
  });

  it('names the known servers when --server is wrong', () => {
    expect(() => findServer(two, 's9')).toThrow(expect.objectContaining({ field: '--server', rule: expect.stringMatching(/'s1', 's2', 's3', 's4'/) }));
    expect(() => findServer(two, 'v1')).toThrow(expect.objectContaining({ field: '--server', rule: expect.stringMatching(/is a voter/) }));
    expect(findVoter(two, 'v1').peer).toBe('tcp://127.0.0.1:7450');
    expect(() => findVoter(two, 'x')).toThrow(ConfigError);
  });

  it('counts a stripe’s servers and the cluster’s voters as voting members', () => {
    const stripe = findServer(two, 's1').stripe;
    expect(votingMembers(stripe, two.voters)).toEqual([
      { name: 's1', kind: 'server', peer: 'tcp://127.0.0.1:7411', weight: 1 },
      { name: 's2', kind: 'server', peer: 'tcp://127.0.0.1:7421', weight: 1 },
      { name: 'v1', kind: 'voter', peer: 'tcp://127.0.0.1:7450', weight: 0 },
    ]);
    expect(quorumSize(votingMembers(stripe, two.voters).length)).toBe(2);
  });

  it('computes majorities', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map(quorumSize)).toEqual([1, 2, 2, 3, 3, 4, 4]);
    expect(() => quorumSize(0)).toThrow(RangeError);
    expect(() => quorumSize(2.5)).toThrow(RangeError);
  });
});

describe('validateClusterConfig: properties', () => {
  const onlyConfigErrors = (value: unknown): void => {
    try {
      validateClusterConfig(value);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      expect(error.field.length).toBeGreaterThan(0);
      expect(error.rule.length).toBeGreaterThan(0);
    }
  };

  it('throws nothing but ConfigError on arbitrary JSON', () => {
    fc.assert(fc.property(fc.jsonValue(), onlyConfigErrors), { numRuns: 2000 });
  });

  it('throws nothing but ConfigError on near-valid configs', () => {
    // Replace one value somewhere inside a valid config by arbitrary JSON.
    const paths = (value: unknown, prefix: (string | number)[] = []): (string | number)[][] =>
      typeof value === 'object' && value !== null
        ? Object.entries(value).flatMap(([k, v]) => [[...prefix, Array.isArray(value) ? Number(k) : k], ...paths(v, [...prefix, Array.isArray(value) ? Number(k) : k])])
        : [];
    const base = twoStripes();
    const all = paths(base);
    fc.assert(
      fc.property(fc.constantFrom(...all), fc.jsonValue(), (path, replacement) => {
        const config: Json = structuredClone(base);
        let at: any = config;
        for (const key of path.slice(0, -1)) at = at[key];
        at[path[path.length - 1] as string | number] = replacement;
        onlyConfigErrors(config);
      }),
      { numRuns: 2000 },
    );
  });

  it('is idempotent on what it accepts', () => {
    const arbitraryConfig = fc.record({
      cluster: fc.constantFrom('c', 'prod'),
      persistence: fc.constantFrom('restartable', 'memory'),
      failoverPriority: fc.constantFrom('consistency', 'availability'),
      electionTimeMs: fc.integer({ min: 100, max: 20000 }),
      voters: fc.constantFrom([], [{ name: 'v', peer: 'tcp://h9:1' }]),
      servers: fc.integer({ min: 1, max: 4 }).map((n) =>
        Array.from({ length: n }, (_, i) => ({ name: `s${i}`, listen: [`tcp://h${i}:1`], peer: `tcp://h${i}:2`, dataDir: 'd' })),
      ),
    });
    fc.assert(
      fc.property(arbitraryConfig, (input) => {
        let config: ClusterConfig;
        try {
          config = validateClusterConfig(input);
        } catch (error) {
          expect(error).toBeInstanceOf(ConfigError);
          return;
        }
        expect(validateClusterConfig(config)).toEqual(config);
      }),
    );
  });
});

describe('validateClusterConfig: the auth section', () => {
  it('fills in every list, keeps the hashes as written, and validates again to an equal value', () => {
    const config = edit(oneStripe, (c) => (c.auth = { roles: [{ name: 'r', grants: [{ prefix: '*', permissions: ['read'] }] }], users: [{ name: 'alice', passwordHash: HASH }], anonymous: 'r' }));
    const validated = validateClusterConfig(config);
    expect(validated.auth).toEqual({ roles: [{ name: 'r', grants: [{ prefix: '*', permissions: ['read'] }] }], users: [{ name: 'alice', passwordHash: HASH, roles: [] }], tokens: [], anonymous: 'r' });
    expect(validateClusterConfig(validated)).toEqual(validated);
    expect(validateClusterConfig(oneStripe())).not.toHaveProperty('auth');
  });
});
