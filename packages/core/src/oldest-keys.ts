/**
 * Takes the oldest keys of a Map kept in insertion order (a bounded table that forgets its oldest
 * first, or one re-inserting a key on use, least recently used first), one at a time, in constant
 * time. `map.keys().next()` starts from the table's first slot and walks every entry deleted
 * since V8 last rehashed it, up to a third of the table: tens of µs a call once a full table
 * churns. One live iterator passes each slot once: every key it passed was deleted by it, and a
 * key set again goes to the end, ahead of it.
 */
export class OldestKeys<K> {
  private iterator: Iterator<K>;

  constructor(private readonly map: Map<K, unknown>) {
    this.iterator = map.keys();
  }

  /** Deletes the map's oldest entry; returns its key, or undefined when the map is empty. */
  deleteOldest(): K | undefined {
    if (this.map.size === 0) return undefined;
    let next = this.iterator.next();
    // An iterator that once found the map's end stays there; a new one starts at the oldest.
    if (next.done) {
      this.iterator = this.map.keys();
      next = this.iterator.next();
    }
    this.map.delete(next.value as K);
    return next.value as K;
  }

  /** Starts again at the map's first key: after `map.clear()`. */
  reset(): void {
    this.iterator = this.map.keys();
  }
}
