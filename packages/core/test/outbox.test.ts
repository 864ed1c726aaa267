// A member says nothing in a term it has not recorded: the outbox holds such messages, and all
// sent after them, until the term is on disk, then sends them in order.
import { describe, expect, it } from 'vitest';
import { Outbox } from '../src/replication/outbox.js';
import type { OutgoingPeerMessage } from '../src/replication/peer-protocol.js';

const ack = (term: number, lastLsn: number): OutgoingPeerMessage => ({ kind: 'ack', term, from: 'a', lastLsn, matched: true });

describe('Outbox', () => {
  it('holds messages of an unrecorded term and everything after them, and releases them in order once the term is on disk', () => {
    let durableTerm = 1;
    const wire: string[] = [];
    const outbox = new Outbox(
      { send: (to, m) => wire.push(`${to}:${m.term}:${(m as { lastLsn: number }).lastLsn}`) > 0, broadcast: (m) => void wire.push(`*:${m.term}`), canSend: () => true, writeNow: () => {} },
      () => durableTerm,
    );
    expect(outbox.send('b', ack(1, 1))).toBe(true);
    expect(wire).toEqual(['b:1:1']);
    outbox.send('b', ack(2, 2)); // term 2 is not on disk yet
    outbox.send('c', ack(1, 3)); // an older term, but behind a held message: it waits too
    outbox.broadcast(ack(2, 4));
    expect(wire).toEqual(['b:1:1']);
    expect(outbox.canSend('b')).toBe(false);
    outbox.release(); // a write of term 1 again: nothing moves
    expect(wire).toEqual(['b:1:1']);
    durableTerm = 2;
    outbox.release();
    expect(wire).toEqual(['b:1:1', 'b:2:2', 'c:1:3', '*:2']);
    expect(outbox.canSend('b')).toBe(true);
  });

  it('drops what it holds when the member stops', () => {
    const wire: OutgoingPeerMessage[] = [];
    const outbox = new Outbox({ send: (_to, m) => wire.push(m) > 0, broadcast: (m) => void wire.push(m), canSend: () => true, writeNow: () => {} }, () => 0);
    outbox.broadcast(ack(1, 1));
    outbox.clear();
    outbox.release();
    expect(wire).toEqual([]);
  });
});
