// The handshake shared by clients, peers and voters: the version is read first, and a dialler of
// another version is refused with UnsupportedProtocolVersionError naming both versions.
import { describe, expect, it } from 'vitest';
import { ProtocolError, UnsupportedProtocolVersionError } from '../src/errors.js';
import { PROTOCOL_VERSION } from '../src/protocol/frames.js';
import { acceptHello, welcomeFromWire, type Role } from '../src/protocol/handshake.js';

const policy = { clusterId: 'c1', roles: new Set<Role>(['client', 'peer']) };

describe('acceptHello', () => {
  it('is at version 3: stripes and transactions over several came after version 2', () => {
    expect(PROTOCOL_VERSION).toBe(3);
  });

  it('accepts a good hello', () => {
    expect(acceptHello({ version: PROTOCOL_VERSION, role: 'client', name: 'app', clusterId: 'c1' }, policy)).toEqual({ role: 'client', name: 'app', clusterId: 'c1' });
    expect(acceptHello({ version: PROTOCOL_VERSION, role: 'peer' }, policy)).toEqual({ role: 'peer' });
  });

  it("takes the largest frame a client reads; an older client says nothing of it, and a malformed one is refused", () => {
    expect(acceptHello({ version: PROTOCOL_VERSION, role: 'client', frameBytesMax: 16384 }, policy)).toEqual({ role: 'client', frameBytesMax: 16384 });
    for (const frameBytesMax of [0, -5, 2.5, '16384', null, 2 ** 60]) {
      expect(() => acceptHello({ version: PROTOCOL_VERSION, role: 'client', frameBytesMax }, policy), String(frameBytesMax)).toThrow(ProtocolError);
    }
  });

  it('refuses an older client or peer with UnsupportedProtocolVersionError naming both versions, before reading the rest', () => {
    for (const hello of [{ version: 2, role: 'client' }, { version: 1, role: 'peer', name: 'old' }, { version: 2, role: 'no such role', credentials: 'x' }]) {
      const error = (() => {
        try {
          acceptHello(hello, policy);
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(UnsupportedProtocolVersionError);
      expect(error).toMatchObject({ version: hello.version, supported: 3 });
      expect((error as Error).message).toMatch(new RegExp(`version ${hello.version} .*speaks 3`));
    }
  });

  it('refuses a malformed hello, a role or cluster not served here, and credentials of the wrong shape or size', () => {
    const bad = [
      null,
      { role: 'client' },
      { version: PROTOCOL_VERSION, role: 'admin' },
      { version: PROTOCOL_VERSION, role: 'voter' },
      { version: PROTOCOL_VERSION, role: 'client', clusterId: 'c2' },
      { version: PROTOCOL_VERSION, role: 'client', name: 'n'.repeat(257) },
      { version: PROTOCOL_VERSION, role: 'client', credentials: 'secret' },
      { version: PROTOCOL_VERSION, role: 'client', credentials: { token: '' } },
      { version: PROTOCOL_VERSION, role: 'client', credentials: { token: 't'.repeat(1025) } },
      { version: PROTOCOL_VERSION, role: 'client', credentials: { username: 'alice' } },
      { version: PROTOCOL_VERSION, role: 'client', credentials: { username: 'alice', password: 7 } },
      { version: PROTOCOL_VERSION, role: 'client', credentials: { username: 'alice', password: 'p', token: 't' } },
    ];
    for (const hello of bad) expect(() => acceptHello(hello, policy), JSON.stringify(hello)).toThrow(ProtocolError);
  });

  it('accepts well-formed credentials, and never echoes a secret when it refuses them', () => {
    expect(acceptHello({ version: PROTOCOL_VERSION, role: 'client', credentials: { token: 'kiln_t' } }, policy).credentials).toEqual({ token: 'kiln_t' });
    expect(acceptHello({ version: PROTOCOL_VERSION, role: 'client', credentials: { username: 'a', password: 'p' } }, policy).credentials).toEqual({ username: 'a', password: 'p' });
    const secret = 'hunter2-'.repeat(200);
    expect(() => acceptHello({ version: PROTOCOL_VERSION, role: 'client', credentials: { username: 'a', password: secret } }, policy)).toThrow(/^(?!.*hunter2)/);
  });
});

describe('welcomeFromWire', () => {
  it('checks the welcome a client or peer receives', () => {
    expect(welcomeFromWire({ version: PROTOCOL_VERSION, server: 'a', clusterId: 'c', servers: ['tcp://a:1'] })).toEqual({ version: 3, server: 'a', clusterId: 'c', servers: ['tcp://a:1'] });
    expect(() => welcomeFromWire({ version: 1, server: 'a', clusterId: 'c' })).toThrow(UnsupportedProtocolVersionError);
    for (const bad of [null, { version: PROTOCOL_VERSION, server: 1, clusterId: 'c' }, { version: PROTOCOL_VERSION, server: 'a', clusterId: 'c', servers: [7] }, { version: PROTOCOL_VERSION, server: 'a', clusterId: 'c', servers: 'tcp://a:1' }]) {
      expect(() => welcomeFromWire(bad), JSON.stringify(bad)).toThrow(ProtocolError);
    }
  });

  it('tells a peer whether the member it dialled understands pre-vote; an older member says nothing of it', () => {
    expect(welcomeFromWire({ version: PROTOCOL_VERSION, server: 'a', clusterId: 'c', preVote: true }).preVote).toBe(true);
    expect(welcomeFromWire({ version: PROTOCOL_VERSION, server: 'a', clusterId: 'c' }).preVote).toBeUndefined();
    expect(welcomeFromWire({ version: PROTOCOL_VERSION, server: 'a', clusterId: 'c', preVote: 'yes' }).preVote).toBeUndefined();
  });

  it("says the largest frame the server reads and its idle timeout; an older server says nothing of them, and a malformed one is refused", () => {
    expect(welcomeFromWire({ version: PROTOCOL_VERSION, server: 'a', clusterId: 'c', frameBytesMax: 65536, idleTimeoutMs: 2000 })).toMatchObject({ frameBytesMax: 65536, idleTimeoutMs: 2000 });
    expect(welcomeFromWire({ version: PROTOCOL_VERSION, server: 'a', clusterId: 'c' })).not.toHaveProperty('frameBytesMax');
    expect(welcomeFromWire({ version: PROTOCOL_VERSION, server: 'a', clusterId: 'c' })).not.toHaveProperty('idleTimeoutMs');
    for (const bad of [0, -1, 1.5, '65536', null, 2 ** 60]) {
      expect(() => welcomeFromWire({ version: PROTOCOL_VERSION, server: 'a', clusterId: 'c', frameBytesMax: bad }), String(bad)).toThrow(ProtocolError);
      expect(() => welcomeFromWire({ version: PROTOCOL_VERSION, server: 'a', clusterId: 'c', idleTimeoutMs: bad }), String(bad)).toThrow(ProtocolError);
    }
  });

  it('tells a peer whether the member it dialled echoes an append\'s ask; an older member says nothing of it', () => {
    expect(welcomeFromWire({ version: PROTOCOL_VERSION, server: 'a', clusterId: 'c', preVote: true, leaseEcho: true })).toMatchObject({ preVote: true, leaseEcho: true });
    expect(welcomeFromWire({ version: PROTOCOL_VERSION, server: 'a', clusterId: 'c', preVote: true }).leaseEcho).toBeUndefined();
    expect(welcomeFromWire({ version: PROTOCOL_VERSION, server: 'a', clusterId: 'c', leaseEcho: 1 }).leaseEcho).toBeUndefined();
  });
});
