// Addresses compared as the machine binds them, not as strings: a mirror an operator adds
// (`kiln admin add-mirror`) at `tcp://localhost:P` when a member has `tcp://127.0.0.1:P`, or at
// `tcp://0.0.0.0:P` on that member's host, is refused naming both addresses; the group's view
// would have held two members at one address, and the new one could never bind it.
import { describe, expect, it } from 'vitest';
import { withMirrorAdded, type GroupMemberConfig, type GroupView } from '../packages/core/src/replication/group-view.js';

const member = (name: string, host: string, port: number): GroupMemberConfig => ({
  name,
  kind: 'server',
  peer: `tcp://${host}:${port + 1}`,
  clientUrls: [`tcp://${host}:${port}`, `ws://${host}:${port + 2}`],
  weight: 1,
});
const voter: GroupMemberConfig = { name: 'v', kind: 'voter', peer: 'tcp://127.0.0.1:7500', clientUrls: [], weight: 0 };
const group: GroupView = { term: 1, version: 3, members: [member('a', '127.0.0.1', 7410), member('b', '127.0.0.1', 7420), voter], inSync: ['a', 'b'] };

describe('adding a mirror', () => {
  it('refuses an address a member holds under another loopback spelling, naming both', () => {
    const peer = { ...member('c', '127.0.0.1', 7430), peer: 'tcp://localhost:7411' };
    expect(() => withMirrorAdded(group, peer, false)).toThrow(expect.objectContaining({ name: 'InvalidArgumentError', field: 'peer', rule: "tcp://localhost:7411 is already the peer address of 'a' (tcp://127.0.0.1:7411)" }));
    const client = { ...member('c', '127.0.0.1', 7430), clientUrls: ['tcp://127.0.0.1:7430', 'ws://[::1]:7422'] };
    expect(() => withMirrorAdded(group, client, false)).toThrow(expect.objectContaining({ field: 'clientUrls', rule: "ws://[::1]:7422 is already the client address of 'b' (ws://127.0.0.1:7422)" }));
  });

  it("refuses a wildcard address on a member's host that takes a member's port, and any clash between a peer and a client address", () => {
    const wildcard = { ...member('c', '127.0.0.1', 7430), clientUrls: ['tcp://0.0.0.0:7420'] };
    expect(() => withMirrorAdded(group, wildcard, false)).toThrow(expect.objectContaining({ field: 'clientUrls', rule: "tcp://0.0.0.0:7420 is already the client address of 'b' (tcp://127.0.0.1:7420)" }));
    const crossed = { ...member('c', '127.0.0.1', 7430), peer: 'tcp://localhost:7410' };
    expect(() => withMirrorAdded(group, crossed, false)).toThrow(expect.objectContaining({ field: 'peer', rule: "tcp://localhost:7410 is already the client address of 'a' (tcp://127.0.0.1:7410)" }));
  });

  it('takes a mirror of another host on the same ports, wildcards included, and one at free addresses', () => {
    const spread: GroupView = { ...group, members: [member('a', '10.0.0.1', 7410), { ...member('b', '10.0.0.2', 7410), clientUrls: ['tcp://0.0.0.0:7410'] }, voter] };
    const elsewhere = { ...member('c', '10.0.0.3', 7410), clientUrls: ['tcp://0.0.0.0:7410'] };
    expect(withMirrorAdded(spread, elsewhere, false).members.map((m) => m.name)).toEqual(['a', 'b', 'v', 'c']);
    expect(withMirrorAdded(group, member('c', 'localhost', 7430), false).members.map((m) => m.name)).toEqual(['a', 'b', 'v', 'c']);
  });
});
