// A group member's promotion racing the server's shutdown, or its store failing: the store closes
// or a read fails while the new active rebuilds its de-duplication table (either was a rejection
// nothing caught). A closed store ends the promotion quietly; a failed one fails the server.
import { memoryStore } from '@kiln/store-memory';
import { describe, expect, it } from 'vitest';
import { NotActiveError, TimeoutError } from '../src/errors.js';
import { defaultConnectionLimits, defaultGroupTiming, defaultLogLimits } from '../src/limits.js';
import { encodeRecord, RecordKind } from '../src/log/record.js';
import { GroupMember, type GroupOptions, type MemberContext } from '../src/replication/member.js';
import { checkedStore, type CheckedStore } from '../src/store/checked-store.js';
import { systemClock, systemRandom, systemTimers, type Timers } from '../src/time.js';

describe('GroupMember: a promotion that loses the race with close', () => {
  it('ends quietly, taking no office, when the store closes while the new active recovers', async () => {
    const store = await storeWithOneRecord();
    const member = new GroupMember(loneGroup('a'), memberContext(store, { standalone: true }));
    // The server shuts down just as the promotion reads the log: the member stops, the store closes.
    const readRecords = store.readRecords.bind(store);
    let closedUnderRecovery = false;
    store.readRecords = async (lsn, options) => {
      if (!closedUnderRecovery) {
        closedUnderRecovery = true;
        await member.stop();
        await store.close();
      }
      return readRecords(lsn, options);
    };
    await expect(member.start()).resolves.toBeUndefined();
    expect(closedUnderRecovery).toBe(true);
    expect(() => member.activeCommitter()).toThrow(NotActiveError);
  });

  it('fails a lone server\'s start with the cause when a store read fails during its promotion', async () => {
    const store = await storeWithOneRecord();
    const broken = new Error('disk read failed');
    store.readRecords = () => Promise.reject(broken);
    const member = new GroupMember(loneGroup('a'), memberContext(store, { standalone: true }));
    await expect(member.start()).rejects.toBe(broken);
    expect(() => member.activeCommitter()).toThrow(NotActiveError);
  });

  it('reports a store read that fails during a group member\'s promotion to onFailed, and takes no office', async () => {
    const store = await storeWithOneRecord();
    const broken = new Error('disk read failed');
    store.readRecords = () => Promise.reject(broken);
    let reportFailure!: (error: unknown) => void;
    const failed = new Promise((resolve) => (reportFailure = resolve));
    // A group of one server, not standalone: it elects itself once the mirror timeout passes.
    const member = new GroupMember(
      { ...loneGroup('a'), electionTimeMs: 100, mirrorTimeoutMs: 50, leaseMs: 40 },
      memberContext(store, { onFailed: reportFailure }),
    );
    await member.start();
    try {
      expect(await Promise.race([failed, new Promise((resolve) => setTimeout(resolve, 10_000, 'no failure reported'))])).toBe(broken);
      expect(() => member.activeCommitter()).toThrow(NotActiveError);
    } finally {
      await member.stop();
    }
  });
});

describe('GroupMember: the tick of an active alone in its group', () => {
  it('rests once the active is alone with nothing to record, and wakes for a membership change', async () => {
    const store = await storeWithOneRecord();
    const timers = countingTimers();
    // A stripe of one server in a cluster of several: a group member, not standalone. It ticks every 10 ms.
    const options: GroupOptions = { ...loneGroup('a'), electionTimeMs: 100, mirrorTimeoutMs: 50, leaseMs: 50, failoverPriority: 'availability' };
    const member = new GroupMember(options, memberContext(store, { timers }));
    await member.start();
    try {
      await until(() => member.state === 'ACTIVE-COORDINATOR' && timers.pending() === 0, 'the active alone leaves no timer pending');
      // An operator adds a mirror that never answers: ticks must run again to give the change up.
      const added = member.addMirror({ name: 'b', kind: 'server', peer: 'tcp://127.0.0.1:1', clientUrls: ['tcp://127.0.0.1:2'], weight: 1 });
      expect(timers.pending()).toBeGreaterThan(0);
      await expect(added).rejects.toBeInstanceOf(TimeoutError);
      expect(member.describe().members.map((m) => m.name)).toEqual(['a']);
      await until(() => timers.pending() === 0, 'the tick rests again once the view given up is recorded');
    } finally {
      await member.stop();
    }
  });
});

/** The process's timers, counting those scheduled and neither fired nor cancelled. */
function countingTimers(): Timers & { pending(): number } {
  let pending = 0;
  return {
    setTimeout(callback, delayMs, options) {
      pending++;
      let done = false;
      const finish = (): void => {
        if (!done) pending--;
        done = true;
      };
      const handle = systemTimers.setTimeout(
        () => {
          finish();
          callback();
        },
        delayMs,
        options,
      );
      return {
        cancel: () => {
          finish();
          handle.cancel();
        },
      };
    },
    defer: (callback) => systemTimers.defer(callback),
    pending: () => pending,
  };
}

/** Polls `condition` every 5 ms until it holds; fails after 5 s. */
async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A store holding one committed record, for a new active to recover. */
async function storeWithOneRecord(): Promise<CheckedStore> {
  const store = checkedStore(memoryStore(), defaultLogLimits);
  await store.open();
  const record = { lsn: 1, term: 1, kind: RecordKind.Commit, clientId: 'c', seq: 1, timestampMs: 0, appends: [{ stream: 's', firstVersion: 0, eventCount: 1, events: new Uint8Array([0x91, 1]) }] };
  await store.append([encodeRecord(record)]);
  return store;
}

function loneGroup(self: string): GroupOptions {
  return { self, members: [{ name: self, kind: 'server', peer: '', clientUrls: [], weight: 1 }], ...defaultGroupTiming };
}

function memberContext(store: CheckedStore, overrides: Partial<MemberContext>): MemberContext {
  return {
    store,
    logLimits: defaultLogLimits,
    connectionLimits: defaultConnectionLimits,
    transports: [],
    clock: systemClock,
    timers: systemTimers,
    random: systemRandom,
    log: () => {},
    onCommitted: () => {},
    onFailed: () => {},
    onStepDown: () => {},
    ...overrides,
  };
}
