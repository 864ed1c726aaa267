// The peer inbox hands a member every frame that arrived together before any of them is acted on:
// a mirror then stores the appends of one read of the socket in one write, with one acknowledgement.
import { describe, expect, it } from 'vitest';
import { PeerInbox } from '../src/replication/peer-inbox.js';
import { encodePeerMessage, SINGLE_STRIPE, type GroupMessage } from '../src/replication/peer-protocol.js';
import type { Connection } from '../src/transport/transport.js';

describe('PeerInbox', () => {
  it('delivers the frames received together in one go, before a member could act on the first', async () => {
    const frames = [1, 2, 3].map((lsn) => encodePeerMessage({ kind: 'ack', stripe: SINGLE_STRIPE, term: 3, from: 's2', lastLsn: lsn, matched: true }));
    // As a connection's: the iterator and takeReceived take from one queue; the iterator then ends.
    const queued = [...frames];
    let ended!: () => void;
    const end = new Promise<IteratorResult<Uint8Array>>((resolve) => (ended = () => resolve({ value: undefined, done: true })));
    const iterator: AsyncIterator<Uint8Array> = { next: () => (queued.length > 0 ? Promise.resolve({ value: queued.shift()!, done: false }) : end) };
    const connection = { remoteAddress: 'test', certificateName: undefined, takeReceived: () => queued.shift(), close: () => {} } as unknown as Connection;

    const inbox = new PeerInbox({ self: 'b', log: () => {}, onError: (error) => { throw error; } });
    const delivered: GroupMessage[] = [];
    // What a member acting on the first message one microtask later would find delivered.
    let seenByFirst = 0;
    inbox.register(SINGLE_STRIPE, (message) => {
      if (delivered.push(message) === 1) queueMicrotask(() => (seenByFirst = delivered.length));
    });
    const accepting = inbox.accept(connection, iterator);
    ended();
    await accepting;
    expect(delivered.map((m) => (m.kind === 'ack' ? m.lastLsn : -1))).toEqual([1, 2, 3]);
    expect(seenByFirst).toBe(3);
  });
});
