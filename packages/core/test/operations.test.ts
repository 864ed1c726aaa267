// The protocol's table, row by row: what an encoder produces passes its decoder (through real
// MessagePack), and a decoder refuses what its encoder could never produce: arguments with
// InvalidArgumentError (the server's check), results with ProtocolError (the client's).
import { decode, encode } from '@msgpack/msgpack';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KilnClient } from '../src/client/client.js';
import { InvalidArgumentError, ProtocolError } from '../src/errors.js';
import { defaultLogLimits } from '../src/limits.js';
import { encodeEvents } from '../src/log/events.js';
import { OPERATIONS, type ArgumentsOf, type OperationName, type ResultOf } from '../src/protocol/operations.js';
import type { ServerStatus } from '../src/protocol/status.js';
import { topologyToWire, type Topology } from '../src/protocol/topology.js';

const blob = (n: number): Uint8Array => encodeEvents(Array.from({ length: n }, (_, i) => ({ id: `e${i}`, type: 'T', data: { i } })), () => 'x');
const slice = { lsn: 3, stream: 's', firstVersion: 4, eventCount: 2, timestampMs: 1_700_000_000_000, events: blob(2) };
const view = { term: 2, version: 5, members: [{ name: 'a', kind: 'server' as const, peer: 'tcp://a:1', clientUrls: ['tcp://a:2'], weight: 1 }], inSync: ['a'] };
const status: ServerStatus = {
  name: 'a',
  clusterId: 'c',
  state: 'ACTIVE-COORDINATOR',
  term: 3,
  lastLsn: 10,
  commitIndex: 9,
  connections: 2,
  subscriptions: 0,
  pendingTransactions: 1,
  persistent: true,
  listen: ['tcp://127.0.0.1:7410'],
  uptimeMs: 1234,
  group: {
    leader: 'a',
    members: [{ name: 'a', kind: 'server' }, { name: 'v', kind: 'voter' }],
    inSync: ['a'],
    viewVersion: 4,
    removed: false,
    diverged: { entries: 0, records: 0 },
    mirrors: [{ name: 'b', ackedLsn: 7, lag: 3, inSync: false, rate: 12.5, reachable: true }],
  },
};
const { group: _group, ...loneStatus } = status;
const topology: Topology = {
  clusterId: 'c',
  cluster: 'shop',
  slotTableVersion: 1,
  slots: [
    [0, 8191, 0],
    [8192, 16383, 1],
  ],
  stripes: [
    { name: 'alpha', epoch: 1, members: [{ name: 'a', urls: ['tcp://a:2'] }], active: 'a', term: 3 },
    { name: 'bravo', epoch: 2, members: [{ name: 'b', urls: ['tcp://b:2', 'ws://b:3'] }], active: 'b', term: 1 },
  ],
};
/** The topology's wire form with some parts replaced. */
function topologyWire(parts: { slots?: unknown; stripes?: unknown }): unknown {
  const wire = topologyToWire(topology);
  return [wire[0], wire[1], wire[2], parts.slots ?? wire[3], parts.stripes ?? wire[4]];
}

/** Every row's samples: a new row without them does not type-check. */
const SAMPLES: { [K in OperationName]: { args: Array<ArgumentsOf<K>>; badArgs: unknown[]; results: Array<ResultOf<K>>; badResults: unknown[] } } = {
  transact: {
    args: [{ clientId: 'c/1', seq: 1, appends: [{ stream: 's', expectedVersion: 'no-stream', events: blob(1) }, { stream: 't', expectedVersion: 3 }] }],
    badArgs: [null, ['c', 1], ['', 1, [['s', 'any', blob(1)]]], ['c', 1, [['s', 'maybe', blob(1)]]], ['c', 1, [['\uD800', 'any', blob(1)]]]],
    results: [{ lsn: 4, streams: [{ stream: 's', firstVersion: 0, eventCount: 1 }] }, { lsn: 5, streams: [] }],
    badResults: [null, [4], ['4', []], [4, [['s', 0]]], [4, [['s', -1, 1]]], [4, [[1, 0, 1]]], [4.5, []]],
  },
  read: {
    args: [{ stream: 's', fromVersion: 0, direction: 'forward', maxCount: 10 }],
    badArgs: [['s', 0, 'sideways', 10], ['s', 0, 'forward', 0], ['s', -1, 'forward', 10], ['s', 0, 'forward', defaultLogLimits.readCountMax + 1]],
    results: [{ slices: [slice], truncated: false }, { slices: [], truncated: true }],
    badResults: [
      [[]], // the version 1 reply: slices alone
      [[], 'no'],
      [[[3, 's', 4, 2, 0]], false],
      [[[3, 's', 4, 3, 0, blob(2)]], false], // claims more events than it holds
      [[[3, 's', 4, 2, 0, new Uint8Array([0xc1])]], false],
      [[[3, 's', 4, 2, 0, 'not bytes']], false],
    ],
  },
  readAll: {
    args: [{ fromLsn: 1, direction: 'backward', maxCount: 5 }],
    badArgs: [[1, 'backward'], ['1', 'backward', 5]],
    results: [{ slices: [slice], next: 4 }],
    badResults: [[[slice], 4], [[], -1], [{}, 4]],
  },
  subscribe: {
    args: [{ subscriptionId: 3, stream: 's', from: 0 }, { subscriptionId: 4, stream: null, from: 1 }],
    badArgs: [[3, 7, 0], [-3, 's', 0], [3, '\uDC00', 0]],
    results: [null],
    badResults: [0, [], 'ok'],
  },
  unsubscribe: { args: [3], badArgs: ['3', -1, null], results: [null], badResults: [false] },
  status: {
    args: [null],
    badArgs: [0, {}, 'all'],
    results: [status, loneStatus],
    badResults: [
      null,
      [],
      { ...loneStatus, state: 'LEADER' },
      { ...loneStatus, term: -1 },
      { ...loneStatus, listen: 'tcp://x' },
      { ...loneStatus, persistent: 1 },
      { ...status, group: { ...status.group, mirrors: [{ name: 'b', ackedLsn: 7, lag: 3, inSync: false }] } },
      { ...status, group: { ...status.group, members: [{ name: 'a', kind: 'admin' }] } },
    ],
  },
  ping: { args: [null], badArgs: [1], results: [null], badResults: [1, {}] },
  prepare: {
    args: [{ txnId: 'c#1/2.1', coordinator: 0, participants: [0, 2], part: { clientId: 'c', seq: 1, appends: [{ stream: 's', expectedVersion: 'no-stream', events: blob(1) }] } }],
    badArgs: [null, ['c#1', 0, [0], ['c', 1, [['s', 'any', blob(1)]]]], ['c#1', 1, [0, 1], ['c', 1, [['s', 'any', blob(1)]]]], ['', 0, [0, 1], ['c', 1, [['s', 'any', blob(1)]]]], ['c#1', 0, [0, 1], ['c', 1, []]]],
    results: [[{ stream: 's', firstVersion: 3, eventCount: 1 }], []],
    badResults: [null, [['s', -1, 1]], [['s', 0]]],
  },
  decide: { args: [{ txnId: 'c#1/2.1', decision: 1 }, { txnId: 'c#1/2.1', decision: 2 }], badArgs: [['c#1', 0], ['c#1', 3], ['', 1], 'c#1'], results: [null], badResults: [1] },
  txnStatus: { args: ['c#1/2.1'], badArgs: ['', 7, null], results: [0, 1, 2], badResults: [3, -1, 'commit', null] },
  txnList: {
    args: [null],
    badArgs: [1, 'all'],
    results: [
      [],
      [
        { txnId: 'c#1/2.1', coordinator: 'alpha', participants: ['alpha', 'beta'], state: 'deciding', ageMs: 12, inDoubt: false },
        { txnId: 'c#2/2.2', coordinator: 'alpha', participants: ['alpha', 'gamma'], state: 'prepared', ageMs: 0, inDoubt: true },
      ],
    ],
    badResults: [null, [['c#1/2.1', 'alpha', ['alpha', 'beta'], 'open', 12, false]], [['c#1/2.1', 'alpha', ['alpha', 'beta'], 'prepared', -1, false]], [['c#1/2.1', 'alpha', [0, 1], 'prepared', 1, false]], [['c#1/2.1', 'alpha', ['alpha'], 'prepared', 1, 'yes']]],
  },
  txnResolve: {
    args: [{ txnId: 'c#1/2.1', decision: 1 }, { txnId: 'c#1/2.1', decision: 2 }],
    badArgs: [['c#1/2.1', 0], ['c#1/2.1', 'abort'], ['', 2], null],
    results: ['none', 'forced', 'commit', 'abort', 'deciding'],
    badResults: ['ended', 1, null],
  },
  topology: {
    args: [null],
    badArgs: [1, 'all'],
    results: [topology, { ...topology, stripes: [{ ...topology.stripes[0]!, active: null, term: 0 }, topology.stripes[1]!] }],
    badResults: [
      null,
      [],
      topologyWire({ slots: [[0, 100, 0]] }),
      topologyWire({ slots: [[0, 8191, 0], [8192, 16383, 2]] }),
      topologyWire({ slots: [[1, 16383, 0]] }),
      topologyWire({ stripes: [] }),
      topologyWire({ stripes: [['alpha', 1, [['a', 'tcp://a:2']], null, 0]] }),
    ],
  },
  addMirror: {
    args: [{ name: 'b', peer: 'tcp://b:1', clientUrls: ['tcp://b:2'], weight: 1 }],
    badArgs: [['b', 'tcp://b:1', [], 1], ['', 'tcp://b:1', ['tcp://b:2'], 1], ['b', 'tcp://b:1', ['tcp://b:2'], -1]],
    results: [view],
    badResults: [null, [5, [], ['a']], [5, [['a', 'admin', 'tcp://a:1', [], 1]], ['a'], 2]],
  },
  removeMirror: { args: ['b'], badArgs: ['', 7, 'x'.repeat(65)], results: [view], badResults: [[-1, [], [], 0]] },
  logDigest: { args: [12], badArgs: [-1, 'all'], results: [{ throughLsn: 12, digest: 0xdead_beef }], badResults: [[12], [12, 2 ** 32], [12, -1]] },
  rangeDigest: {
    args: [{ fromLsn: 1, throughLsn: 1 }, { fromLsn: 7, throughLsn: 100_006 }],
    badArgs: [null, [0, 5], [5, 4], [1, 100_001], [1, 'end'], [1.5, 2], [1, 2, 3]],
    results: [
      { fromLsn: 1, throughLsn: 100, digest: new Uint8Array(32).fill(7), damagedLsn: null },
      { fromLsn: 5, throughLsn: 4, digest: new Uint8Array(32), damagedLsn: 5 },
    ],
    badResults: [null, [1, 100, new Uint8Array(31), null], [5, 3, new Uint8Array(32), null], [1, 100, 'digest', null], [1, 100, new Uint8Array(32), -1], [1, 100, new Uint8Array(32)]],
  },
  diverged: {
    args: [0],
    badArgs: [-1, 1.5],
    results: [
      undefined,
      { index: 0, atMs: 1_700_000_000_000, replacedInTerm: 3, records: [{ lsn: 7, bytes: new Uint8Array([1, 2]) }] },
      { index: 1, atMs: 1_700_000_000_000, replacedInTerm: 4, records: [{ lsn: 9, bytes: new Uint8Array([1, 2]) }], forcedByOperator: { txnId: 'c#1/2.1', decision: 'abort' } },
    ],
    badResults: [[0, 1, 3], [0, 1, 3, [[7, 'bytes']]], [0, 1, 3, [[-7, new Uint8Array()]]], [0, 1, 3, [], ['c#1/2.1', 'maybe']], [0, 1, 3, [], ['c#1/2.1']]],
  },
  backupPage: {
    args: [{ fromLsn: 1, throughLsn: 0 }, { fromLsn: 7, throughLsn: 90 }],
    badArgs: [null, [0, 0], [1, -1], [1.5, 2], ['1', 2], [1]],
    results: [{ clusterId: 'c', stripe: 'alpha', stripeEpoch: 1_700_000_000_000, throughLsn: 9, records: [new Uint8Array([1, 2]), new Uint8Array(0)] }],
    badResults: [null, ['c', 'alpha', 1, 9], ['c', 'alpha', -1, 9, []], ['c', 'alpha', 1, 9, ['bytes']], [7, 'alpha', 1, 9, []]],
  },
};

/** Through MessagePack and back, as a frame would carry it. */
const overTheWire = (value: unknown): unknown => decode(encode(value, { ignoreUndefined: true }));

describe.each(Object.keys(OPERATIONS) as OperationName[])('operation %s', (op) => {
  const row = OPERATIONS[op];
  const samples = SAMPLES[op];

  it('decodes what its encoders produce', () => {
    for (const args of samples.args) {
      const wire = overTheWire(row.args.toWire(args as never));
      expect(row.args.toWire(row.args.fromWire(wire, defaultLogLimits) as never)).toEqual(wire);
    }
    for (const result of samples.results) expect(row.result.fromWire(overTheWire(row.result.toWire(result as never)))).toEqual(result);
  });

  it('refuses arguments its encoder could not produce with InvalidArgumentError, and malformed results with ProtocolError', () => {
    for (const wire of samples.badArgs) expect(() => row.args.fromWire(wire, defaultLogLimits), JSON.stringify(wire)).toThrow(InvalidArgumentError);
    for (const wire of samples.badResults) expect(() => row.result.fromWire(wire), JSON.stringify(wire)).toThrow(ProtocolError);
  });

  it('accepts, of random values, only what its encoders could produce, and throws nothing untyped', () => {
    fc.assert(
      fc.property(fc.anything({ withTypedArray: true }), (value) => {
        let wire: unknown;
        try {
          wire = overTheWire(value);
        } catch {
          return; // not MessagePack: no frame could carry it
        }
        for (const [codec, refusal] of [
          [{ toWire: row.args.toWire, fromWire: (w: unknown) => row.args.fromWire(w, defaultLogLimits) }, InvalidArgumentError],
          [row.result, ProtocolError],
        ] as const) {
          let decoded: unknown;
          try {
            decoded = codec.fromWire(wire);
          } catch (error) {
            expect(error).toBeInstanceOf(refusal);
            continue;
          }
          expect(overTheWire(codec.toWire(decoded as never))).toEqual(wire);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('names client methods that exist', () => {
    for (const method of row.clientMethods) expect(typeof (KilnClient.prototype as unknown as Record<string, unknown>)[method], method).toBe('function');
  });
});
