/**
 * A planted bug for the harness's self-test: a store that keeps every prepare record (a
 * participant's part of a transaction over several stripes) as a commit record, so its events
 * are indexed and visible before the outcome decides them, and visible again at a committing
 * outcome. The checker must catch it. Test-only: no production path uses it.
 */
import { decodeRecord, encodeRecord, RecordKind, type EncodedRecord } from '../../log/record.js';
import type { IndexReadOptions, LogReadOptions, Store, StoredRecord, StreamIndexEntry } from '../../store/store.js';

/** `inner`, writing each prepare record as a commit of the events it holds. */
export function visiblePreparesStore(inner: Store): Store {
  return new VisiblePreparesStore(inner);
}

class VisiblePreparesStore implements Store {
  constructor(private readonly inner: Store) {}

  get persistent(): boolean {
    return this.inner.persistent;
  }

  open(): Promise<void> {
    return this.inner.open();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  append(records: readonly EncodedRecord[]): Promise<void> {
    return this.inner.append(records.map(asCommit));
  }

  read(fromLsn: number, options: LogReadOptions): Promise<StoredRecord[]> {
    return this.inner.read(fromLsn, options);
  }

  readStreamIndex(stream: string, fromVersion: number, options: IndexReadOptions): Promise<StreamIndexEntry[]> {
    return this.inner.readStreamIndex(stream, fromVersion, options);
  }

  truncateAfter(afterLsn: number): Promise<void> {
    return this.inner.truncateAfter(afterLsn);
  }

  getMeta(key: string): Promise<Uint8Array | undefined> {
    return this.inner.getMeta(key);
  }

  putMeta(key: string, value: Uint8Array): Promise<void> {
    return this.inner.putMeta(key, value);
  }
}

function asCommit(encoded: EncodedRecord): EncodedRecord {
  const record = decodeRecord(encoded.bytes, encoded.lsn);
  if (record.kind !== RecordKind.Prepare) return encoded;
  const { txn: _prepare, ...rest } = record;
  return encodeRecord({ ...rest, kind: RecordKind.Commit, appends: record.appends.filter((a) => a.eventCount > 0) });
}
