/**
 * The de-duplication table: for each client, the results of its most recent transactions by
 * `seq`, so that a resent transaction gets its original result instead of committing twice.
 * Each result keeps a digest of what its transaction wrote, so that a different transaction
 * under the same `(clientId, seq)` is refused rather than answered with a write it never made.
 * It holds only what the log holds (every record carries its `(clientId, seq)` and its writes),
 * so any server rebuilds the same table from the log's tail.
 */
import { crc32c } from '../crc32c.js';
import type { TransactionResult } from '../protocol/messages.js';

interface Remembered {
  result: TransactionResult;
  /** {@link writeDigest} of the transaction. */
  digest: number;
}

interface ClientHistory {
  highestSeq: number;
  /** Results by seq, in commit order, so the oldest is first to go. */
  results: Map<number, Remembered>;
}

/** What the table knows of one `(clientId, seq)`. */
export type DedupLookup = { kind: 'committed'; result: TransactionResult } | { kind: 'reused' } | { kind: 'expired' } | { kind: 'unknown' };

/** Room for lengths and name code units on their way into the digest; reused, so a digest allocates nothing. */
const scratch = new Uint8Array(512);
const scratchView = new DataView(scratch.buffer);

/**
 * What a transaction writes, as one CRC-32C over each written stream's name (its UTF-16 code
 * units) and event bytes, in order, lengths included. Expected versions and check-only streams
 * are left out: the log does not keep them, and a table rebuilt from the log must hold the same
 * digests. Digests live only in memory, so their form may change between versions.
 */
export function writeDigest(appends: ReadonlyArray<{ stream: string; events?: Uint8Array }>): number {
  let crc = 0;
  for (const { stream, events } of appends) {
    if (!events) continue;
    scratchView.setUint32(0, stream.length, true);
    scratchView.setUint32(4, events.length, true);
    crc = crc32c(scratch.subarray(0, 8), crc);
    crc = textDigest(stream, crc);
    crc = crc32c(events, crc);
  }
  return crc;
}

function textDigest(text: string, crc: number): number {
  const unitsPerChunk = scratch.length / 2;
  for (let start = 0; start < text.length; start += unitsPerChunk) {
    const end = Math.min(text.length, start + unitsPerChunk);
    for (let i = start; i < end; i++) scratchView.setUint16((i - start) * 2, text.charCodeAt(i), true);
    crc = crc32c(scratch.subarray(0, (end - start) * 2), crc);
  }
  return crc;
}

export class DedupTable {
  // Map iteration order is insertion order: re-inserting on use makes the first key the least recently seen.
  private readonly clients = new Map<string, ClientHistory>();

  constructor(
    /** Results kept per client, counted back from its newest seq. */
    private readonly window: number,
    /** Clients remembered; the least recently seen is forgotten first. */
    private readonly clientsMax: number,
  ) {}

  get clientCount(): number {
    return this.clients.size;
  }

  /** `digest` is the {@link writeDigest} of the transaction asking: one that differs is `reused`. */
  lookup(clientId: string, seq: number, digest: number): DedupLookup {
    const history = this.clients.get(clientId);
    if (!history) return { kind: 'unknown' };
    const known = history.results.get(seq);
    if (known) return known.digest === digest ? { kind: 'committed', result: known.result } : { kind: 'reused' };
    // A seq this far back may have committed and been forgotten; the server cannot tell.
    if (seq <= history.highestSeq - this.window) return { kind: 'expired' };
    return { kind: 'unknown' };
  }

  remember(clientId: string, seq: number, result: TransactionResult, digest: number): void {
    let history = this.clients.get(clientId);
    if (history) {
      this.clients.delete(clientId);
    } else {
      history = { highestSeq: seq, results: new Map() };
      if (this.clients.size >= this.clientsMax) this.clients.delete(this.clients.keys().next().value!);
    }
    this.clients.set(clientId, history);
    history.results.set(seq, { result, digest });
    if (seq > history.highestSeq) history.highestSeq = seq;
    for (const oldSeq of history.results.keys()) {
      if (oldSeq > history.highestSeq - this.window && history.results.size <= this.window) break;
      history.results.delete(oldSeq);
    }
  }
}
