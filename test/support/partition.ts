// Partitions between servers in one process: each server dials through its own view of one
// in-process transport, and a cut between two servers refuses their dials and closes the
// connections between them (which closes both ends), until healed.
import { ConnectionRefusedError, type Connection, type Transport } from '@kiln/core';

export class Partitions {
  private readonly cuts = new Set<string>();
  private readonly open = new Map<string, Set<Connection>>();

  constructor(
    private readonly inner: Transport,
    /** The server a peer URL belongs to. */
    private readonly ownerOf: (url: string) => string,
  ) {}

  /** The transport server `self` listens and dials with. */
  transportFor(self: string): Transport {
    return {
      name: this.inner.name,
      schemes: this.inner.schemes,
      listen: (url, onConnection, options) => this.inner.listen!(url, onConnection, options),
      dial: async (url, options) => {
        const pair = key(self, this.ownerOf(url));
        if (this.cuts.has(pair)) throw new ConnectionRefusedError(url);
        const connection = await this.inner.dial(url, options);
        const set = this.open.get(pair) ?? new Set();
        this.open.set(pair, set);
        set.add(connection);
        void connection.closed.then(() => set.delete(connection));
        return connection;
      },
    };
  }

  cut(a: string, b: string): void {
    const pair = key(a, b);
    this.cuts.add(pair);
    for (const connection of this.open.get(pair) ?? []) connection.close('partitioned');
  }

  heal(a: string, b: string): void {
    this.cuts.delete(key(a, b));
  }
}

const key = (a: string, b: string): string => [a, b].sort().join('|');
