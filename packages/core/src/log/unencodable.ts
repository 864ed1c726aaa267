/**
 * Finds the value MessagePack cannot carry in an event, so that an append names it: the encoder
 * itself only says "Unrecognized object". Run only after the encoder failed, so a good append
 * pays nothing for it.
 */

/** Objects nest at most this deep in an event's `data` or `metadata` (the encoder's own limit). */
export const EVENT_VALUE_DEPTH_MAX = 100;

/** What cannot be encoded, and where: `path` extends the path given (`events[0].data.amount`). */
export interface Unencodable {
  path: string;
  rule: string;
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

const member = (path: string, key: string): string => (IDENTIFIER.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`);

/** The first value under `value` that MessagePack cannot carry, or undefined when there is none. */
export function findUnencodable(value: unknown, path: string): Unencodable | undefined {
  return walk(value, path, new Set(), 0);
}

function walk(value: unknown, path: string, ancestors: Set<object>, depth: number): Unencodable | undefined {
  switch (typeof value) {
    case 'bigint':
      return { path, rule: 'is a BigInt, which MessagePack cannot carry: pass a number or a string' };
    case 'function':
      return { path, rule: 'is a function, which MessagePack cannot carry' };
    case 'symbol':
      return { path, rule: 'is a symbol, which MessagePack cannot carry' };
    case 'object':
      break;
    default:
      return undefined;
  }
  if (value === null || ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof Date) return undefined;
  if (value instanceof Map) return { path, rule: 'is a Map, which MessagePack would store as an empty map: pass a plain object (Object.fromEntries)' };
  if (value instanceof Set) return { path, rule: 'is a Set, which MessagePack would store as an empty map: pass an array ([...set])' };
  if (ancestors.has(value)) return { path, rule: 'refers back to an object that contains it (a cycle), which MessagePack cannot carry' };
  if (depth >= EVENT_VALUE_DEPTH_MAX) return { path, rule: `nests deeper than ${EVENT_VALUE_DEPTH_MAX} levels` };
  ancestors.add(value);
  try {
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const found = walk(value[i], `${path}[${i}]`, ancestors, depth + 1);
        if (found) return found;
      }
      return undefined;
    }
    for (const [key, child] of Object.entries(value)) {
      const found = walk(child, member(path, key), ancestors, depth + 1);
      if (found) return found;
    }
    return undefined;
  } finally {
    ancestors.delete(value);
  }
}
