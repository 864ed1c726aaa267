/** The bounds of one log read, and the records it has gathered so far. */
import type { LogReadOptions, StoredRecord } from '@kiln/core';
import { lsnOfKey } from './keys.js';
import { decodeChunk } from './record-chunks.js';

/** The most bytes one trip of a log read brings from LevelDB into memory. */
const READ_BATCH_BYTES_MAX = 16 * 1024 * 1024;

/** What one log read returns: records up to its count, stopping once their bytes reach its bound. */
export class ReadPage {
  readonly records: StoredRecord[] = [];
  readonly direction: LogReadOptions['direction'];
  /**
   * Bytes one trip to LevelDB may bring: by default an iterator brings 16 KiB per trip, and each
   * trip waits its turn on a busy event loop (a mirror catching up reads megabytes this way).
   */
  readonly highWaterMarkBytes: number;
  private bytes = 0;
  private chunksRead = 0;
  private recordsInChunksRead = 0;

  constructor(private readonly options: LogReadOptions) {
    this.direction = options.direction;
    this.highWaterMarkBytes = Math.min(options.maxBytes, READ_BATCH_BYTES_MAX);
  }

  get full(): boolean {
    return this.records.length >= this.options.maxCount || this.bytes >= this.options.maxBytes;
  }

  get countLeft(): number {
    return this.options.maxCount - this.records.length;
  }

  /**
   * Chunks to ask LevelDB for next: as many as the records still wanted fill, going by the chunks
   * read so far (one at first). Asking for a chunk per record wanted brought a page of small
   * records twenty times the chunks it needed.
   */
  get chunksWanted(): number {
    if (this.chunksRead === 0) return 1;
    return Math.ceil((this.countLeft * this.chunksRead) / Math.max(1, this.recordsInChunksRead));
  }

  /** The records of a chunk LevelDB returned, counted for {@link chunksWanted}. */
  chunk([key, value]: [Uint8Array, Uint8Array]): StoredRecord[] {
    const records = decodeChunk(lsnOfKey(key), value);
    this.chunksRead++;
    this.recordsInChunksRead += records.length;
    return records;
  }

  add(record: StoredRecord): void {
    this.records.push(record);
    this.bytes += record.bytes.length;
  }
}
