// A group member's promotion racing the server's shutdown: the store closes while the new active
// rebuilds its de-duplication table (a StoreClosedError nothing caught: an unhandled rejection).
import { memoryStore } from '@kiln/store-memory';
import { describe, expect, it } from 'vitest';
import { NotActiveError } from '../src/errors.js';
import { defaultConnectionLimits, defaultGroupTiming, defaultLogLimits } from '../src/limits.js';
import { encodeRecord, RecordKind } from '../src/log/record.js';
import { GroupMember } from '../src/replication/member.js';
import { checkedStore } from '../src/store/checked-store.js';
import { systemClock, systemRandom, systemTimers } from '../src/time.js';

describe('GroupMember: a promotion that loses the race with close', () => {
  it('ends quietly, taking no office, when the store closes while the new active recovers', async () => {
    const store = checkedStore(memoryStore(), defaultLogLimits);
    await store.open();
    const record = { lsn: 1, term: 1, kind: RecordKind.Commit, clientId: 'c', seq: 1, timestampMs: 0, appends: [{ stream: 's', firstVersion: 0, eventCount: 1, events: new Uint8Array([0x91, 1]) }] };
    await store.append([encodeRecord(record)]);
    const member = new GroupMember(
      { self: 'a', members: [{ name: 'a', kind: 'server', peer: '', clientUrls: [], weight: 1 }], ...defaultGroupTiming },
      {
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
        standalone: true,
      },
    );
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
});
