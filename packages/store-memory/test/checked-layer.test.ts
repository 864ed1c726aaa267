// The checked layer over the memory store, where the store cannot mask anything: a failed write
// stops the store, pipelined appends keep their order, and the position follows the durable log.
import { describe, expect, it } from 'vitest';
import { checkedStore, defaultLogLimits, encodeRecord, RecordKind, StoreFailedError, type Store } from '@kiln/core';
import { memoryStore } from '@kiln/store-memory';

const rec = (lsn: number, term = 1) =>
  encodeRecord({ lsn, term, kind: RecordKind.Commit, clientId: 'c', seq: lsn, timestampMs: 0, appends: [{ stream: 'a', firstVersion: lsn - 1, eventCount: 1, events: new Uint8Array([1]) }] });

describe('checked layer over the memory store', () => {
  it('refuses everything with StoreFailedError after a write fails, until reopened', async () => {
    const inner = memoryStore();
    let fail = false;
    const flaky: Store = Object.assign(Object.create(inner) as Store, {
      append: async (records: Parameters<Store['append']>[0]) => {
        if (fail) throw new Error('disk full');
        return inner.append(records);
      },
    });
    const store = checkedStore(flaky, defaultLogLimits);
    await store.open();
    await store.append([rec(1)]);
    fail = true;
    const error = await store.append([rec(2)]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreFailedError);
    expect((error as Error).cause).toEqual(new Error('disk full'));
    await expect(store.read(1, { direction: 'forward', maxCount: 1, maxBytes: 1 })).rejects.toBeInstanceOf(StoreFailedError);
    expect(store.lastPosition).toEqual({ lsn: 1, term: 1 });
    await store.close();
  });

  it('refuses everything after a truncation or a meta write fails too, whichever write it was', async () => {
    for (const failing of ['truncateAfter', 'putMeta'] as const) {
      const inner = memoryStore();
      let fail = false;
      const flaky: Store = Object.assign(Object.create(inner) as Store, {
        [failing]: async (...args: unknown[]) => {
          if (fail) throw new Error('disk full');
          return (inner[failing] as (...a: unknown[]) => Promise<void>)(...args);
        },
      });
      const store = checkedStore(flaky, defaultLogLimits);
      await store.open();
      await store.append([rec(1), rec(2)]);
      fail = true;
      const write = failing === 'truncateAfter' ? store.truncateAfter(1) : store.putMeta('term', new Uint8Array([1]));
      await expect(write, failing).rejects.toBeInstanceOf(StoreFailedError);
      await expect(store.append([rec(3)]), failing).rejects.toBeInstanceOf(StoreFailedError);
      await expect(store.getMeta('term'), failing).rejects.toBeInstanceOf(StoreFailedError);
      await store.close();
    }
  });

  it('accepts a pipelined append that follows one still in flight', async () => {
    const store = checkedStore(memoryStore(), defaultLogLimits);
    await store.open();
    const first = store.append([rec(1), rec(2)]);
    const second = store.append([rec(3, 2)]);
    await Promise.all([first, second]);
    expect(store.lastPosition).toEqual({ lsn: 3, term: 2 });
    await store.close();
  });
});
