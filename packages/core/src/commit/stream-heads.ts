/**
 * A bounded cache of stream heads (the version of each stream's last event, -1 for none), so the
 * commit path checks expected versions without a store lookup for hot streams. A stream with a
 * write still in flight is never evicted: the store does not know that write yet, so a reload
 * would hand out the same version twice.
 *
 * Eviction gives a second chance instead of keeping exact recency: an entry touched since the
 * last sweep moves to the back once. Exact recency cost a delete and an insert into the map on
 * every append, and the map's tables were rebuilt from the holes they left.
 */
import { assert } from '../assert.js';
import type { CheckedStore } from '../store/checked-store.js';

/** One cached stream head, changed in place: the append path allocates nothing here. */
interface Head {
  version: number;
  /** Writes that moved the head and have not reached the store: while any, the entry stays. */
  writesInFlight: number;
  /** Touched since the last eviction sweep passed it. */
  used: boolean;
}

export class StreamHeads {
  private readonly heads = new Map<string, Head>();
  private readonly loading = new Map<string, Promise<void>>();

  constructor(
    private readonly store: CheckedStore,
    private readonly capacity: number,
  ) {}

  /** The cached head, or undefined when it must be loaded first. */
  get(stream: string): number | undefined {
    const head = this.heads.get(stream);
    if (head === undefined) return undefined;
    head.used = true;
    return head.version;
  }

  /** Loads the heads of the given streams that are not cached. */
  async load(streams: readonly string[]): Promise<void> {
    const waits: Promise<void>[] = [];
    for (const stream of streams) {
      if (this.heads.has(stream)) continue;
      let pending = this.loading.get(stream);
      if (!pending) {
        pending = this.loadOne(stream);
        this.loading.set(stream, pending);
      }
      waits.push(pending);
    }
    await Promise.all(waits);
  }

  private async loadOne(stream: string): Promise<void> {
    try {
      const head = await this.store.streamHead(stream);
      if (!this.heads.has(stream)) this.insert(stream, head ? head.firstVersion + head.eventCount - 1 : -1);
    } finally {
      this.loading.delete(stream);
    }
  }

  /** Records a write in flight that moves the stream's head to `version`. */
  advance(stream: string, version: number): void {
    const head = this.heads.get(stream);
    // The message is built only on failure: this runs for every append.
    if (head === undefined) assert(false, `head of ${stream} advanced while not loaded`);
    head.version = version;
    head.writesInFlight++;
    head.used = true;
  }

  /** Records that a write to the stream reached the store. */
  settle(stream: string): void {
    const head = this.heads.get(stream);
    if (head === undefined || head.writesInFlight === 0) assert(false, `settle without a write in flight on ${stream}`);
    head.writesInFlight--;
  }

  /** Forgets everything, after a store failure or a truncation. */
  clear(): void {
    this.heads.clear();
  }

  private insert(stream: string, version: number): void {
    this.heads.set(stream, { version, writesInFlight: 0, used: false });
    if (this.heads.size <= this.capacity) return;
    // Oldest first. An entry moved to the back comes round again in this same walk, unmarked, so
    // the walk ends; one with writes in flight is passed over, and so is the one just loaded: a
    // transaction waits for it, and evicting it when every other head has a write in flight sent
    // that transaction to load it again, for ever.
    for (const [candidate, head] of this.heads) {
      if (this.heads.size <= this.capacity) break;
      if (head.writesInFlight > 0 || candidate === stream) continue;
      this.heads.delete(candidate);
      if (head.used) {
        head.used = false;
        this.heads.set(candidate, head);
      }
    }
  }
}
