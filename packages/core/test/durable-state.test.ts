// A member's term, vote and view go to disk as one record, never backwards, and logs that kept
// them under separate keys still load.
import { encode } from '@msgpack/msgpack';
import { memoryStore } from '@kiln/store-memory';
import { describe, expect, it } from 'vitest';
import { AssertionFailure } from '../src/assert.js';
import { defaultLogLimits } from '../src/limits.js';
import type { GroupView } from '../src/replication/group-view.js';
import { viewToWire } from '../src/replication/group-view.js';
import { CONSENSUS_META_KEY, DurableState } from '../src/replication/durable-state.js';
import { checkedStore, type CheckedStore } from '../src/store/checked-store.js';

async function openStore(): Promise<CheckedStore> {
  const store = checkedStore(memoryStore(), defaultLogLimits);
  await store.open();
  return store;
}

const view = (term: number, version: number, inSync = ['a', 'b']): GroupView => ({
  term,
  version,
  members: ['a', 'b', 'c'].map((name) => ({ name, kind: 'server' as const, peer: `sim://${name}/peer`, clientUrls: [`sim://${name}`], weight: 1 })),
  inSync,
});

describe('DurableState', () => {
  it('starts at term 0 with no vote and no view on an empty store', async () => {
    const state = await DurableState.load(await openStore());
    expect({ term: state.term, vote: state.vote, view: state.view, durableTerm: state.durableTerm }).toEqual({ term: 0, vote: undefined, view: undefined, durableTerm: 0 });
  });

  it('writes term, vote and view as one record that loads back whole', async () => {
    const store = await openStore();
    const state = await DurableState.load(store);
    await state.save({ term: 7, vote: { term: 7, name: 'b' }, view: view(6, 3, ['b']) });
    expect(state.durableTerm).toBe(7);
    const again = await DurableState.load(store);
    expect({ term: again.term, vote: again.vote, view: again.view }).toEqual({ term: 7, vote: { term: 7, name: 'b' }, view: view(6, 3, ['b']) });
    // One key holds it all: the old separate keys are not written.
    for (const key of ['term', 'vote', 'view']) expect(await store.getMeta(key)).toBeUndefined();
    expect(await store.getMeta(CONSENSUS_META_KEY)).toBeDefined();
  });

  it('writes in the order asked, and tells when each write reached the store', async () => {
    const store = await openStore();
    let written = 0;
    const state = await DurableState.load(store, () => written++);
    const first = state.save({ term: 2 });
    const second = state.save({ term: 3, vote: { term: 3, name: 'a' } });
    expect(state.term).toBe(3); // in memory at once
    expect(state.durableTerm).toBe(0); // on disk only once written
    await first;
    await second;
    expect(written).toBe(2);
    expect(state.durableTerm).toBe(3);
    expect((await DurableState.load(store)).vote).toEqual({ term: 3, name: 'a' });
  });

  it('refuses, as a bug, any write that moves the term, the vote or the view backwards, and writes nothing', async () => {
    const store = await openStore();
    const state = await DurableState.load(store);
    await state.save({ term: 5, vote: { term: 5, name: 'a' }, view: view(5, 2) });
    expect(() => state.save({ term: 4 })).toThrow(AssertionFailure);
    expect(() => state.save({ vote: { term: 4, name: 'a' } })).toThrow(AssertionFailure);
    expect(() => state.save({ vote: { term: 5, name: 'b' } })).toThrow(/second vote in term 5/);
    expect(() => state.save({ vote: undefined })).toThrow(AssertionFailure);
    expect(() => state.save({ vote: { term: 6, name: 'a' } })).toThrow(/beyond the term/);
    expect(() => state.save({ view: view(5, 1) })).toThrow(/view would move back/);
    expect(() => state.save({ view: view(4, 9) })).toThrow(/view would move back/);
    expect(() => state.save({ view: undefined })).toThrow(AssertionFailure);
    const again = await DurableState.load(store);
    expect({ term: again.term, vote: again.vote, view: again.view }).toEqual({ term: 5, vote: { term: 5, name: 'a' }, view: view(5, 2) });
    // Forward is fine: the same view again, a later version, a later term.
    await state.save({ view: view(5, 2) });
    await state.save({ term: 6, view: view(6, 0) });
    expect(state.view).toEqual(view(6, 0));
  });

  it("loads a log written with the separate 'term', 'vote' and 'view' keys", async () => {
    const store = await openStore();
    await store.putMeta('term', encode(4));
    await store.putMeta('vote', encode([4, 'c']));
    await store.putMeta('view', encode(viewToWire(view(3, 7, ['a', 'c']))));
    const state = await DurableState.load(store);
    expect({ term: state.term, vote: state.vote, view: state.view }).toEqual({ term: 4, vote: { term: 4, name: 'c' }, view: view(3, 7, ['a', 'c']) });
    // The first write makes the one record, which wins from then on.
    await state.save({ term: 5 });
    await store.putMeta('term', encode(1));
    expect((await DurableState.load(store)).term).toBe(5);
  });

  it("loads a lone server's log, which kept only the term; and a vote whose term write was lost", async () => {
    const lone = await openStore();
    await lone.putMeta('term', encode(12));
    expect((await DurableState.load(lone)).term).toBe(12);
    const lost = await openStore();
    await lost.putMeta('term', encode(2));
    await lost.putMeta('vote', encode([3, 'a']));
    expect((await DurableState.load(lost)).term).toBe(3);
  });

  it('refuses a malformed record with a typed error', async () => {
    const store = await openStore();
    await store.putMeta(CONSENSUS_META_KEY, encode([1, 'x', null, null]));
    await expect(DurableState.load(store)).rejects.toMatchObject({ name: 'CorruptRecordError' });
  });

  it('reports a failed write and releases nothing waiting on it', async () => {
    const store = await openStore();
    const failures: unknown[] = [];
    const state = await DurableState.load(store, () => {}, (error) => failures.push(error));
    const broken = new Error('disk gone');
    store.putMeta = () => Promise.reject(broken);
    let released = false;
    void state.save({ term: 1 }).then(() => (released = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(failures).toEqual([broken]);
    expect(released).toBe(false);
    expect(state.durableTerm).toBe(0);
  });
});
