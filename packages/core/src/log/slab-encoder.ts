/**
 * A MessagePack encoder whose small outputs are carved out of a shared slab ({@link ByteSlab})
 * instead of each getting an ArrayBuffer of its own: a client encodes two small outputs per append
 * (the events blob and the request frame), and with a slab neither costs a buffer. Outputs live as
 * long as the request they belong to, so this holds at most a few slabs per client.
 */
import { Encoder, type EncoderOptions } from '@msgpack/msgpack';
import { ByteSlab } from './byte-slab.js';

export class SlabEncoder {
  private readonly encoder: Encoder;
  private readonly slab = new ByteSlab();

  constructor(options: EncoderOptions) {
    this.encoder = new Encoder(options);
  }

  /** Encodes `value`; the bytes are the caller's, never written again by this encoder. */
  encode(value: unknown): Uint8Array {
    // A view on the encoder's own buffer, valid until its next encode: copied out at once.
    const encoded = this.encoder.encodeSharedRef(value);
    const out = this.slab.take(encoded.byteLength);
    out.set(encoded);
    return out;
  }
}
