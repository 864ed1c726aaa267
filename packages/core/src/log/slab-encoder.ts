/**
 * A MessagePack encoder whose small outputs are carved out of a shared slab instead of each
 * getting an ArrayBuffer of its own. V8 allocates a typed array with a buffer of its own far more
 * slowly than a view on an existing one (the buffer is tracked outside the heap), and a client
 * encodes two small outputs per append (the events blob and the request frame): with a slab,
 * neither costs a buffer. It is what Node's `Buffer` pool does, without `node:` (core bundles
 * for browsers).
 *
 * A slab stays in memory while any output carved from it does; outputs live as long as the
 * request they belong to, so this holds at most a few slabs per client.
 */
import { Encoder, type EncoderOptions } from '@msgpack/msgpack';

/** Bytes of one slab. */
const SLAB_BYTES = 64 * 1024;
/** Outputs larger than this get a buffer of their own, as they would without a slab. */
const OWN_BUFFER_BYTES = 4 * 1024;

export class SlabEncoder {
  private readonly encoder: Encoder;
  private slab = new Uint8Array(0);
  private used = 0;

  constructor(options: EncoderOptions) {
    this.encoder = new Encoder(options);
  }

  /** Encodes `value`; the bytes are the caller's, never written again by this encoder. */
  encode(value: unknown): Uint8Array {
    // A view on the encoder's own buffer, valid until its next encode: copied out at once.
    const encoded = this.encoder.encodeSharedRef(value);
    const size = encoded.byteLength;
    if (size > OWN_BUFFER_BYTES) return encoded.slice();
    if (this.used + size > this.slab.byteLength) {
      this.slab = new Uint8Array(SLAB_BYTES);
      this.used = 0;
    }
    const out = this.slab.subarray(this.used, this.used + size);
    out.set(encoded);
    this.used += size;
    return out;
  }
}
