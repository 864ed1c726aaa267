/**
 * A cheap structural pre-scan of untrusted MessagePack, run before the decoder allocates
 * anything: it rejects nesting deeper than a limit, and containers claiming more items than the
 * bytes left could hold. The decoder limits lengths but not depth, and one 4 MiB frame of nested
 * one-item arrays would otherwise cost seconds of CPU and hundreds of MiB.
 */

/** Nesting depth allowed in frames and event data. */
export const MSGPACK_DEPTH_MAX = 64;

/** Fixed sizes of the payload after each type byte 0xc0..0xdf (-1: variable or invalid). */
const FIXED: Record<number, number> = {
  0xc0: 0, 0xc2: 0, 0xc3: 0, 0xca: 4, 0xcb: 8, 0xcc: 1, 0xcd: 2, 0xce: 4, 0xcf: 8,
  0xd0: 1, 0xd1: 2, 0xd2: 4, 0xd3: 8, 0xd4: 2, 0xd5: 3, 0xd6: 5, 0xd7: 9, 0xd8: 17,
};

/**
 * Returns a reason when `bytes` nests deeper than `depthMax` or claims impossible sizes, else
 * undefined. It does not validate everything: the decoder still does that.
 */
export function msgpackShapeProblem(bytes: Uint8Array, depthMax = MSGPACK_DEPTH_MAX): string | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const pending: number[] = []; // items still due in each open container
  let pos = 0;
  const size = (width: number): number => {
    if (pos + width > bytes.length) return -1;
    const value = width === 1 ? bytes[pos]! : width === 2 ? view.getUint16(pos) : view.getUint32(pos);
    pos += width;
    return value;
  };
  while (pos < bytes.length) {
    const type = bytes[pos++]!;
    let skip = 0;
    let items = 0;
    if (type <= 0x7f || type >= 0xe0) skip = 0;
    else if (type <= 0x8f) items = (type & 0x0f) * 2;
    else if (type <= 0x9f) items = type & 0x0f;
    else if (type <= 0xbf) skip = type & 0x1f;
    else if (type in FIXED) skip = FIXED[type]!;
    else if (type === 0xc4 || type === 0xd9) skip = size(1);
    else if (type === 0xc5 || type === 0xda) skip = size(2);
    else if (type === 0xc6 || type === 0xdb) skip = size(4);
    else if (type === 0xc7) skip = size(1) + 1;
    else if (type === 0xc8) skip = size(2) + 1;
    else if (type === 0xc9) skip = size(4) + 1;
    else if (type === 0xdc) items = size(2);
    else if (type === 0xdd) items = size(4);
    else if (type === 0xde) items = size(2) * 2;
    else if (type === 0xdf) items = size(4) * 2;
    else return `invalid type byte 0x${type.toString(16)}`;
    if (skip < 0 || items < 0 || pos + skip > bytes.length) return 'truncated';
    pos += skip;
    if (items > 0) {
      if (items > bytes.length - pos) return 'a container claims more items than the bytes left';
      if (pending.length >= depthMax) return `nested deeper than ${depthMax}`;
      pending.push(items);
      continue;
    }
    // A whole value ended: count it against every container it completes.
    while (pending.length > 0) {
      const left = pending[pending.length - 1]! - 1;
      if (left > 0) {
        pending[pending.length - 1] = left;
        break;
      }
      pending.pop();
    }
    if (pending.length === 0) return pos === bytes.length ? undefined : 'extra bytes after the value';
  }
  return pending.length > 0 || bytes.length === 0 ? 'truncated' : undefined;
}
