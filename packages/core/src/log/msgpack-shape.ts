/**
 * A cheap structural pre-scan of untrusted MessagePack, run before the decoder allocates
 * anything: it rejects nesting deeper than a limit, and containers claiming more items than the
 * bytes left could hold. The decoder limits lengths but not depth, and one 4 MiB frame of nested
 * one-item arrays would otherwise cost seconds of CPU and hundreds of MiB.
 */
import { EVENT_NAME_BYTES_MAX, MSGPACK_DEPTH_MAX } from '../limits.js';

/** Width of the length or count after each variable-size type byte. */
const WIDTH: Record<number, number> = {
  0xc4: 1, 0xc5: 2, 0xc6: 4, 0xc7: 1, 0xc8: 2, 0xc9: 4, 0xd9: 1, 0xda: 2, 0xdb: 4, 0xdc: 2, 0xdd: 4, 0xde: 2, 0xdf: 4,
};

/** Sizes of the fixed payload after each fixed-size type byte from 0xc0 to 0xdf. */
const FIXED: Record<number, number> = {
  0xc0: 0, 0xc2: 0, 0xc3: 0, 0xca: 4, 0xcb: 8, 0xcc: 1, 0xcd: 2, 0xce: 4, 0xcf: 8,
  0xd0: 1, 0xd1: 2, 0xd2: 4, 0xd3: 8, 0xd4: 2, 0xd5: 3, 0xd6: 5, 0xd7: 9, 0xd8: 17,
};

/**
 * Returns a reason when `bytes` nests deeper than `depthMax` or claims impossible sizes, else
 * undefined. It does not validate everything: the decoder still does that.
 */
export function msgpackShapeProblem(bytes: Uint8Array, depthMax = MSGPACK_DEPTH_MAX): string | undefined {
  const end = skipValue(bytes, 0, depthMax);
  if (typeof end === 'string') return end;
  return end === bytes.length ? undefined : 'extra bytes after the value';
}

/**
 * Items still due in each open container, for {@link skipValue}: one array for every call (every
 * frame and every event passes there, and the walk is synchronous), grown when a caller allows
 * deeper nesting.
 */
let pendingScratch = new Float64Array(MSGPACK_DEPTH_MAX);

/**
 * Walks one value starting at `start` without decoding it; returns the offset after it, or a
 * reason it is not acceptable.
 */
export function skipValue(bytes: Uint8Array, start: number, depthMax = MSGPACK_DEPTH_MAX): number | string {
  if (pendingScratch.length < depthMax) pendingScratch = new Float64Array(depthMax);
  const pending = pendingScratch;
  let depth = 0;
  const length = bytes.length;
  let pos = start;
  while (pos < length) {
    const type = bytes[pos++]!;
    let skip = 0;
    let items = 0;
    if (type <= 0x7f || type >= 0xe0) skip = 0;
    else if (type <= 0x8f) items = (type & 0x0f) * 2;
    else if (type <= 0x9f) items = type & 0x0f;
    else if (type <= 0xbf) skip = type & 0x1f;
    else if (FIXED[type] !== undefined) skip = FIXED[type]!;
    else {
      // A length or count follows: 1, 2 or 4 bytes, big-endian.
      const width = WIDTH[type];
      if (width === undefined) return `invalid type byte 0x${type.toString(16)}`;
      if (pos + width > length) return 'truncated';
      let size = 0;
      for (let i = 0; i < width; i++) size = size * 256 + bytes[pos + i]!;
      pos += width;
      if (type >= 0xdc) items = type >= 0xde ? size * 2 : size;
      else skip = type >= 0xc7 && type <= 0xc9 ? size + 1 : size;
    }
    if (pos + skip > length) return 'truncated';
    pos += skip;
    if (items > 0) {
      if (items > length - pos) return 'a container claims more items than the bytes left';
      if (depth >= depthMax) return `nested deeper than ${depthMax}`;
      pending[depth++] = items;
      continue;
    }
    // A whole value ended: count it against every container it completes.
    while (depth > 0) {
      const left = pending[depth - 1]! - 1;
      if (left > 0) {
        pending[depth - 1] = left;
        break;
      }
      depth--;
    }
    if (depth === 0) return pos;
  }
  return 'truncated';
}

/** The header of a string or array at `pos`: its kind, its length or count, and where its body starts. */
export function header(bytes: Uint8Array, pos: number): { kind: 'str' | 'array' | 'other'; length: number; body: number } {
  const type = bytes[pos];
  if (type === undefined) return { kind: 'other', length: 0, body: pos };
  if (type >= 0xa0 && type <= 0xbf) return { kind: 'str', length: type & 0x1f, body: pos + 1 };
  if (type >= 0x90 && type <= 0x9f) return { kind: 'array', length: type & 0x0f, body: pos + 1 };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (type === 0xd9 && pos + 2 <= bytes.length) return { kind: 'str', length: bytes[pos + 1]!, body: pos + 2 };
  if (type === 0xda && pos + 3 <= bytes.length) return { kind: 'str', length: view.getUint16(pos + 1), body: pos + 3 };
  if (type === 0xdc && pos + 3 <= bytes.length) return { kind: 'array', length: view.getUint16(pos + 1), body: pos + 3 };
  if (type === 0xdd && pos + 5 <= bytes.length) return { kind: 'array', length: view.getUint32(pos + 1), body: pos + 5 };
  return { kind: 'other', length: 0, body: pos };
}

/**
 * Checks, without decoding, that a blob is a non-empty array of events `[id, type, data,
 * metadata?]` with id and type strings of 1 to {@link EVENT_NAME_BYTES_MAX} bytes and data
 * within the depth limit. Returns the event count, or a reason.
 */
export function eventRowsProblem(bytes: Uint8Array): number | string {
  const outer = header(bytes, 0);
  if (outer.kind !== 'array' || outer.length === 0) return 'must be a non-empty array of events';
  if (outer.length > bytes.length) return 'a container claims more items than the bytes left';
  let pos = outer.body;
  for (let i = 0; i < outer.length; i++) {
    const row = header(bytes, pos);
    if (row.kind !== 'array' || row.length < 3 || row.length > 4) return 'each event must be [id, type, data, metadata?]';
    pos = nameEnd(bytes, row.body);
    if (pos < 0) return nameRule('id');
    pos = nameEnd(bytes, pos);
    if (pos < 0) return nameRule('type');
    for (let field = 2; field < row.length; field++) {
      const next = skipValue(bytes, pos, MSGPACK_DEPTH_MAX - 2);
      if (typeof next === 'string') return next;
      pos = next;
    }
  }
  return pos === bytes.length ? outer.length : pos > bytes.length ? 'truncated' : 'extra bytes after the events';
}

/** Where an event's name (a string of 1 to {@link EVENT_NAME_BYTES_MAX} bytes) at `pos` ends, or -1 when none is there. Every event passes here twice: nothing is allocated. */
function nameEnd(bytes: Uint8Array, pos: number): number {
  const type = bytes[pos];
  let length: number;
  let body: number;
  if (type !== undefined && type >= 0xa0 && type <= 0xbf) {
    length = type & 0x1f;
    body = pos + 1;
  } else if (type === 0xd9 && pos + 2 <= bytes.length) {
    length = bytes[pos + 1]!;
    body = pos + 2;
  } else if (type === 0xda && pos + 3 <= bytes.length) {
    length = (bytes[pos + 1]! << 8) | bytes[pos + 2]!;
    body = pos + 3;
  } else return -1;
  return length === 0 || length > EVENT_NAME_BYTES_MAX ? -1 : body + length;
}

const nameRule = (name: string): string => `event ${name} must be a string of 1 to ${EVENT_NAME_BYTES_MAX} bytes`;
