/**
 * Fresh bytes carved out of shared slabs instead of a buffer each. V8 tracks every buffer of its
 * own outside the heap, allocates it far more slowly than a view on an existing one, and frees it
 * in the young collection's pause: a buffer per message (a record, a reply, an append shipped, a
 * mirror's copy of one) costs the hot paths and lengthens every pause a client at one request in
 * flight waits out. It is what Node's `Buffer` pool does, without `node:` (core bundles for
 * browsers). A slab stays in memory while any bytes carved from it do.
 */

/** Bytes of one slab; a request for more than a quarter of it gets a buffer of its own. */
const SLAB_BYTES = 64 * 1024;

export class ByteSlab {
  private slab = new Uint8Array(0);
  private used = 0;
  /** Where the bytes {@link reserve} made room for start in the array it returned. */
  reservedAt = 0;

  /** `size` zeroed bytes of the caller's own: no later call hands them out again. */
  take(size: number): Uint8Array {
    const target = this.reserve(size);
    return this.keep(target, this.reservedAt + size);
  }

  /**
   * Room for at most `bound` bytes, for a writer that knows only an upper bound of what it will
   * write: it writes into the array returned from {@link reservedAt} on, then passes where it
   * stopped to {@link keep} before the next call.
   */
  reserve(bound: number): Uint8Array {
    if (bound > SLAB_BYTES / 4) {
      this.reservedAt = 0;
      return new Uint8Array(bound);
    }
    if (this.used + bound > this.slab.length) {
      this.slab = new Uint8Array(SLAB_BYTES);
      this.used = 0;
    }
    this.reservedAt = this.used;
    return this.slab;
  }

  /** The bytes written into `target` (from {@link reserve}) up to `end`; the rest of the room goes back. */
  keep(target: Uint8Array, end: number): Uint8Array {
    if (target === this.slab) this.used = end;
    return target.subarray(this.reservedAt, end);
  }
}
