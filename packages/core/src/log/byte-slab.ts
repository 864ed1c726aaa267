/**
 * Fresh bytes carved out of shared slabs instead of a buffer each. V8 tracks every buffer of its
 * own outside the heap and frees it in the young collection's pause: a buffer per message (an
 * append shipped, a mirror's copy of one) lengthens every pause a client at one request in flight
 * waits out. A slab stays in memory while any bytes carved from it do.
 */

/** Bytes of one slab; a request for more than a quarter of it gets a buffer of its own. */
const SLAB_BYTES = 64 * 1024;

export class ByteSlab {
  private slab = new Uint8Array(0);
  private used = 0;

  /** `size` zeroed bytes of the caller's own: no later call hands them out again. */
  take(size: number): Uint8Array {
    if (size > SLAB_BYTES / 4) return new Uint8Array(size);
    if (this.used + size > this.slab.length) {
      this.slab = new Uint8Array(SLAB_BYTES);
      this.used = 0;
    }
    const bytes = this.slab.subarray(this.used, this.used + size);
    this.used += size;
    return bytes;
  }
}
