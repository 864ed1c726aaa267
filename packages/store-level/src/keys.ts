/**
 * Key layout of the level store. Every key starts with one byte naming its kind, and numbers are
 * fixed-width big-endian, so LevelDB's bytewise order is numeric order within a kind:
 *
 * | kind | key | value |
 * | --- | --- | --- |
 * | chunk of records | `R` u64 firstLsn | some records of one group commit, see `record-chunks.ts` |
 * | group's index keys | `S` u64 firstLsn | u64 lastLsn, then per index entry: u64 lsn, its `I` key |
 * | stream index | `I` u32 nameBytes, name (UTF-8), u64 firstVersion | u64 lsn, u32 eventCount |
 * | meta | `M` key (UTF-8) | the value |
 * | record (older stores) | `L` u64 lsn | the record's bytes |
 * | record's streams (older stores) | `E` u64 lsn | JSON `[[stream, firstVersion], ...]` |
 *
 * A group commit's `S` entry lists the index keys its records made, so truncation can remove
 * them: one binary entry per group, where older stores kept an `E` entry per record. Each entry
 * in a batch costs LevelDB a memtable insert, log bytes and compaction work. Older stores keep
 * their `L` and `E` entries, always below the first `R` chunk and `S` group; reads and truncation
 * take both.
 *
 * The stream name is length-prefixed so that no stream's keys fall inside another's range
 * (`order-1` and `order-10`). "The entry holding version v" is then one reverse seek: the greatest
 * key `<= I name v`, limit 1.
 *
 * Names become keys as UTF-8, which is one-to-one only on well-formed Unicode: a lone surrogate
 * encodes as U+FFFD, so 'a\uD800' and 'a\uFFFD' would share a key. The checked layer refuses such
 * names; the encoder refuses them too, so that no caller can make two names share a key.
 */

const RECORD = 0x4c; // 'L'
const RECORD_STREAMS = 0x45; // 'E'
const GROUP_INDEX_KEYS = 0x53; // 'S'
const RECORD_CHUNK = 0x52; // 'R'
const INDEX = 0x49; // 'I'
const META = 0x4d; // 'M'

const TWO_TO_32 = 2 ** 32;
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();
// With the `u` flag this range matches only a surrogate that is not half of a pair.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/** UTF-8 of a name that is part of a key. @throws TypeError on a lone surrogate, which UTF-8 cannot hold */
function keyText(text: string): Uint8Array {
  // Every append makes a key of its stream's name, and names are mostly ASCII, whose UTF-8 is
  // their char codes: copied here at a fifth of the cost of the check and the encoder's call.
  const ascii = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0x7f) return encodedKeyText(text);
    ascii[i] = code;
  }
  return ascii;
}

function encodedKeyText(text: string): Uint8Array {
  if (LONE_SURROGATE.test(text)) throw new TypeError(`a key name must be well-formed Unicode: ${JSON.stringify(text)}`);
  return utf8.encode(text);
}

/** Writes a safe integer as 8 bytes big-endian at `offset`; byte by byte, as a DataView per key costs more than the key. */
function putU64(target: Uint8Array, offset: number, value: number): void {
  putU32(target, offset, Math.floor(value / TWO_TO_32));
  putU32(target, offset + 4, value >>> 0);
}

function putU32(target: Uint8Array, offset: number, value: number): void {
  target[offset] = value >>> 24;
  target[offset + 1] = value >>> 16;
  target[offset + 2] = value >>> 8;
  target[offset + 3] = value;
}

function getU64(source: Uint8Array, offset: number): number {
  const view = new DataView(source.buffer, source.byteOffset, source.byteLength);
  return view.getUint32(offset) * TWO_TO_32 + view.getUint32(offset + 4);
}

function numberKey(kind: number, value: number): Uint8Array {
  const key = new Uint8Array(9);
  key[0] = kind;
  putU64(key, 1, value);
  return key;
}

/** Key of the chunk of records whose first record is at an LSN. */
export const chunkKey = (firstLsn: number): Uint8Array => numberKey(RECORD_CHUNK, firstLsn);

/** Key of the record at an LSN, in stores written before chunks. */
export const recordKey = (lsn: number): Uint8Array => numberKey(RECORD, lsn);

/** Key of the list of streams the record at an LSN wrote, in stores written before `S` entries. */
export const recordStreamsKey = (lsn: number): Uint8Array => numberKey(RECORD_STREAMS, lsn);

/** Key of the index keys of the group commit whose first record is at an LSN. */
export const groupIndexKeysKey = (firstLsn: number): Uint8Array => numberKey(GROUP_INDEX_KEYS, firstLsn);

/** LSN held in a chunk, record, record-streams or group key. */
export const lsnOfKey = (key: Uint8Array): number => getU64(key, 1);

/** Key of a stream index entry. */
export function indexKey(stream: string, firstVersion: number): Uint8Array {
  // Every append makes one: an ASCII name (nearly every name) goes straight into the key, without
  // a buffer of its own first.
  if (!isAscii(stream)) return indexKeyOfName(keyText(stream), firstVersion);
  const key = new Uint8Array(1 + 4 + stream.length + 8);
  for (let i = 0; i < stream.length; i++) key[5 + i] = stream.charCodeAt(i);
  return finishIndexKey(key, stream.length, firstVersion);
}

function indexKeyOfName(name: Uint8Array, firstVersion: number): Uint8Array {
  const key = new Uint8Array(1 + 4 + name.length + 8);
  key.set(name, 5);
  return finishIndexKey(key, name.length, firstVersion);
}

/** Writes the kind, the name's length and the version around a name already at byte 5. */
function finishIndexKey(key: Uint8Array, nameBytes: number, firstVersion: number): Uint8Array {
  key[0] = INDEX;
  putU32(key, 1, nameBytes);
  putU64(key, 5 + nameBytes, firstVersion);
  return key;
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** First version held in a stream index key. */
export const versionOfIndexKey = (key: Uint8Array): number => getU64(key, key.length - 8);

/** Value of a stream index entry. */
export function indexValue(lsn: number, eventCount: number): Uint8Array {
  const value = new Uint8Array(12);
  putU64(value, 0, lsn);
  putU32(value, 8, eventCount);
  return value;
}

/** Reads a stream index value. */
export function readIndexValue(value: Uint8Array): { lsn: number; eventCount: number } {
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  return { lsn: getU64(value, 0), eventCount: view.getUint32(8) };
}

/** Key of a metadata value. */
export function metaKey(key: string): Uint8Array {
  const name = keyText(key);
  const out = new Uint8Array(1 + name.length);
  out[0] = META;
  out.set(name, 1);
  return out;
}

/** The index keys of one group commit: its last LSN, and each index key with its record's LSN. */
export interface GroupIndexKeys {
  lastLsn: number;
  /** In ascending LSN order. */
  entries: Array<{ lsn: number; key: Uint8Array }>;
}

/** Encodes a group's index keys into one value; the keys are copied in as they are. */
export function encodeGroupIndexKeys(group: GroupIndexKeys): Uint8Array {
  let size = 8;
  for (const entry of group.entries) size += 8 + entry.key.length;
  const value = new Uint8Array(size);
  putU64(value, 0, group.lastLsn);
  let at = 8;
  for (const { lsn, key } of group.entries) {
    putU64(value, at, lsn);
    value.set(key, at + 8);
    at += 8 + key.length;
  }
  return value;
}

/** Decodes a group's index keys; each key is a view into `value`. */
export function decodeGroupIndexKeys(value: Uint8Array): GroupIndexKeys {
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  const entries: GroupIndexKeys['entries'] = [];
  let at = 8;
  while (at < value.length) {
    // An index key is `I`, u32 nameBytes, the name, u64 firstVersion.
    const keyBytes = 1 + 4 + view.getUint32(at + 9) + 8;
    entries.push({ lsn: getU64(value, at), key: value.subarray(at + 8, at + 8 + keyBytes) });
    at += 8 + keyBytes;
  }
  return { lastLsn: getU64(value, 0), entries };
}

/** The (stream, firstVersion) pairs a record wrote, as stores written before `S` entries hold under its record-streams key. */
export type RecordStreams = Array<[stream: string, firstVersion: number]>;

export const decodeRecordStreams = (value: Uint8Array): RecordStreams => JSON.parse(fromUtf8.decode(value)) as RecordStreams;
