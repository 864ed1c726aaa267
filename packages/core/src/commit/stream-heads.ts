/**
 * A bounded cache of stream heads (the version of each stream's last event, -1 for none), so the
 * commit path checks expected versions without a store lookup for hot streams. A stream with a
 * write still in flight is never evicted: the store does not know that write yet, so a reload
 * would hand out the same version twice.
 */
import { assert } from '../assert.js';
import type { CheckedStore } from '../store/checked-store.js';

export class StreamHeads {
  private readonly heads = new Map<string, number>();
  private readonly writesInFlight = new Map<string, number>();
  private readonly loading = new Map<string, Promise<void>>();

  constructor(
    private readonly store: CheckedStore,
    private readonly capacity: number,
  ) {}

  /** The cached head, or undefined when it must be loaded first. */
  get(stream: string): number | undefined {
    return this.heads.get(stream);
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
    // The message is built only on failure: this runs for every append.
    if (!this.heads.has(stream)) assert(false, `head of ${stream} advanced while not loaded`);
    this.heads.delete(stream);
    this.heads.set(stream, version);
    this.writesInFlight.set(stream, (this.writesInFlight.get(stream) ?? 0) + 1);
  }

  /** Records that a write to the stream reached the store. */
  settle(stream: string): void {
    const left = (this.writesInFlight.get(stream) ?? 0) - 1;
    if (left < 0) assert(false, `settle without a write in flight on ${stream}`);
    if (left === 0) this.writesInFlight.delete(stream);
    else this.writesInFlight.set(stream, left);
  }

  /** Forgets everything, after a store failure or a truncation. */
  clear(): void {
    this.heads.clear();
    this.writesInFlight.clear();
  }

  private insert(stream: string, version: number): void {
    this.heads.set(stream, version);
    if (this.heads.size <= this.capacity) return;
    for (const candidate of this.heads.keys()) {
      if (this.heads.size <= this.capacity) break;
      if (!this.writesInFlight.has(candidate)) this.heads.delete(candidate);
    }
  }
}
