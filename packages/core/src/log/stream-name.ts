/**
 * The rule for stream names, in one place: the client checks it before it sends, the server on
 * every request that carries a name, and the checked store before a name becomes a key.
 *
 * A name must be well-formed Unicode. Names are stored and sent as UTF-8, which has no bytes for
 * a lone UTF-16 surrogate: encoders put U+FFFD in its place, so 'a\uD800', 'a\uDC00' and
 * 'a\uFFFD' would become one stream on disk while the commit path kept them apart.
 */
import { InvalidArgumentError } from '../errors.js';

// With the `u` flag this range matches only a surrogate that is not half of a pair.
// (`String.prototype.isWellFormed` is ES2024; core's lib and the browser client target ES2023.)
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/** @throws InvalidArgumentError naming `field` when the text holds a lone surrogate, which UTF-8 cannot encode */
export function checkWellFormed(text: string, field: string): void {
  if (hasLoneSurrogate(text)) throw new InvalidArgumentError(field, 'must be well-formed Unicode (no lone surrogate)');
}

/**
 * True when the text holds a surrogate that is not half of a pair. Every name of every request
 * is checked, several times: a scan of the code units answers for nearly all of them in half the
 * regular expression's time, which then decides only for text holding a surrogate at all.
 */
function hasLoneSurrogate(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdfff) return LONE_SURROGATE.test(text);
  }
  return false;
}

/**
 * {@link checkStreamNameText} for the stream of `appends[index]`, on the hot path: the field's
 * name is built only when the check fails.
 */
export function checkAppendStreamText(value: unknown, index: number): asserts value is string {
  if (typeof value !== 'string' || value.length === 0 || hasLoneSurrogate(value)) checkStreamNameText(value, `appends[${index}].stream`);
}

/**
 * The part of the rule that needs no server settings, for the client and the wire decoders.
 * @throws InvalidArgumentError naming `field` when the value is not a non-empty, well-formed string
 */
export function checkStreamNameText(value: unknown, field = 'stream'): asserts value is string {
  if (typeof value !== 'string' || value.length === 0) throw new InvalidArgumentError(field, 'must be a non-empty string');
  checkWellFormed(value, field);
}

const utf8 = new TextEncoder();

/** @throws InvalidArgumentError when the name is empty, not well-formed Unicode, reserved or too long */
export function checkStreamName(stream: string, bytesMax: number): void {
  checkStreamNameText(stream);
  if (stream.startsWith('$')) throw new InvalidArgumentError('stream', "names starting with '$' are reserved");
  if (stream.length * 3 > bytesMax && utf8.encode(stream).length > bytesMax) {
    throw new InvalidArgumentError('stream', `must be at most ${bytesMax} UTF-8 bytes`);
  }
}
