// The read budgets: a connection's reads start in order, within its budget and the server's, only
// while the connection can take a reply; charges come back when reads settle; a closed
// connection's waiting reads are refused.
import { describe, expect, it } from 'vitest';
import { ConnectionClosedError } from '../src/errors.js';
import { ReadBudget, ReadGate } from '../src/read/read-budget.js';

/** A connection whose writability the test sets. */
class FakeConnection {
  writable = true;
  private waiters: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  whenWritable(): Promise<void> {
    return this.writable ? Promise.resolve() : new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }
  drain(): void {
    this.writable = true;
    for (const waiter of this.waiters.splice(0)) waiter.resolve();
  }
  close(): void {
    for (const waiter of this.waiters.splice(0)) waiter.reject(new ConnectionClosedError('closed'));
  }
}

/** A read that runs until the test finishes it. */
function heldRead(log: string[], name: string): { read: () => Promise<void>; finish: () => void } {
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  return {
    read: async () => {
      log.push(name);
      await done;
    },
    finish: () => finish(),
  };
}

const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

describe('ReadGate', () => {
  it('starts at most a connection budget of reads, in order, and the next once one settles', async () => {
    const log: string[] = [];
    const gate = new ReadGate(new FakeConnection(), new ReadBudget(100), 2, 1);
    const reads = ['a', 'b', 'c', 'd'].map((name) => heldRead(log, name));
    const runs = reads.map((r) => gate.run(r.read));
    await settle();
    expect(log).toEqual(['a', 'b']);
    reads[1]!.finish();
    await settle();
    expect(log).toEqual(['a', 'b', 'c']);
    for (const r of reads) r.finish();
    await Promise.all(runs);
    expect(log).toEqual(['a', 'b', 'c', 'd']);
  });

  it('shares the server budget between connections', async () => {
    const log: string[] = [];
    const server = new ReadBudget(3);
    const one = new ReadGate(new FakeConnection(), server, 2, 1);
    const two = new ReadGate(new FakeConnection(), server, 2, 1);
    const reads = ['1a', '1b', '2a', '2b'].map((name) => heldRead(log, name));
    const runs = [one.run(reads[0]!.read), one.run(reads[1]!.read), two.run(reads[2]!.read), two.run(reads[3]!.read)];
    await settle();
    // Each connection's first read starts; the server budget then has room for one more.
    expect(log).toHaveLength(3);
    expect(log).toEqual(expect.arrayContaining(['1a', '2a']));
    reads[0]!.finish();
    await settle();
    expect([...log].sort()).toEqual(['1a', '1b', '2a', '2b']);
    for (const r of reads) r.finish();
    await Promise.all(runs);
  });

  it('starts no read while its connection cannot take a reply', async () => {
    const log: string[] = [];
    const connection = new FakeConnection();
    connection.writable = false;
    const gate = new ReadGate(connection, new ReadBudget(10), 10, 1);
    const read = heldRead(log, 'a');
    const run = gate.run(read.read);
    await settle();
    expect(log).toEqual([]);
    connection.drain();
    await settle();
    expect(log).toEqual(['a']);
    read.finish();
    await run;
  });

  it('refuses the waiting reads of a closed connection and gives the server budget back', async () => {
    const log: string[] = [];
    const server = new ReadBudget(1);
    const gate = new ReadGate(new FakeConnection(), server, 1, 1);
    const first = heldRead(log, 'first');
    const running = gate.run(first.read);
    const waiting = gate.run(heldRead(log, 'never').read);
    await settle();
    gate.close('gone');
    await expect(waiting).rejects.toBeInstanceOf(ConnectionClosedError);
    await expect(gate.run(heldRead(log, 'later').read)).rejects.toBeInstanceOf(ConnectionClosedError);
    first.finish();
    await running;
    // The whole server budget is back: another connection's read starts at once.
    const other = new ReadGate(new FakeConnection(), server, 1, 1);
    const next = heldRead(log, 'other');
    const otherRun = other.run(next.read);
    await settle();
    expect(log).toEqual(['first', 'other']);
    next.finish();
    await otherRun;
  });

  it('refuses the waiting reads when the connection closes while it waits to become writable', async () => {
    const connection = new FakeConnection();
    connection.writable = false;
    const gate = new ReadGate(connection, new ReadBudget(10), 10, 1);
    const log: string[] = [];
    const run = gate.run(heldRead(log, 'never').read);
    await settle();
    connection.close();
    await expect(run).rejects.toBeInstanceOf(ConnectionClosedError);
    expect(log).toEqual([]);
  });
});
