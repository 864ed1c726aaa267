// What an active's log says of transactions over several stripes (TxnLog): it remembers the newest
// TXN_REMEMBERED_MAX decisions and ended parts, forgetting the oldest first, and finds the oldest
// through one live iterator per map. A `map.keys()` asked at each forgetting walked every entry
// forgotten since the map's last rehash: 10 to 60 µs a transaction once the map was full.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TXN_REMEMBERED_MAX } from '../src/limits.js';
import { Decision, RecordKind, type LogRecord } from '../src/log/record.js';
import { TxnLog } from '../src/txn/txn-log.js';

/** A decide or an outcome of transaction `id`. */
function step(kind: typeof RecordKind.Decide | typeof RecordKind.Outcome, id: string, decision: Decision): LogRecord {
  return { lsn: 1, term: 1, kind, clientId: 'c', seq: 1, timestampMs: 0, appends: [], txn: { id, coordinator: 0, participants: [0, 1], decision, prepareLsn: 0, streams: [] } };
}

/** Sees the decide of `d<i>` and the outcome of `e<i>` for every i in [from, to). */
function see(log: TxnLog, from: number, to: number): void {
  for (let i = from; i < to; i++) {
    log.see(step(RecordKind.Decide, `d${i}`, Decision.Commit), 0);
    log.see(step(RecordKind.Outcome, `e${i}`, Decision.Abort), 0);
  }
}

describe('TxnLog', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('past TXN_REMEMBERED_MAX forgets the oldest decision and ended part first, without a new walk of the map for each', () => {
    const log = new TxnLog();
    const keys = vi.spyOn(Map.prototype, 'keys');
    const over = 1_000;
    see(log, 0, TXN_REMEMBERED_MAX + over);
    expect(keys, 'no map.keys() per forgotten entry').not.toHaveBeenCalled();
    for (const [map, prefix] of [[log.decisions, 'd'], [log.ended, 'e']] as const) {
      expect(map.size).toBe(TXN_REMEMBERED_MAX);
      expect(map.has(`${prefix}${over - 1}`), 'the oldest are forgotten').toBe(false);
      expect(map.has(`${prefix}${over}`), 'the newest TXN_REMEMBERED_MAX are kept').toBe(true);
    }
    expect(log.decisions.get(`d${TXN_REMEMBERED_MAX + over - 1}`)).toBe(Decision.Commit);
    expect(log.ended.get(`e${TXN_REMEMBERED_MAX + over - 1}`)).toBe(Decision.Abort);
  });

  it('keeps a decision seen again (a recovery scan) as the newest, and forgets the oldest again after clear()', () => {
    const log = new TxnLog();
    see(log, 0, TXN_REMEMBERED_MAX);
    log.see(step(RecordKind.Decide, 'd0', Decision.Commit), 0);
    see(log, TXN_REMEMBERED_MAX, TXN_REMEMBERED_MAX + 1);
    expect(log.decisions.has('d0'), 'seen again: the newest but one').toBe(true);
    expect(log.decisions.has('d1'), 'the oldest then').toBe(false);

    log.clear();
    see(log, 0, TXN_REMEMBERED_MAX + 1);
    expect(log.decisions.size).toBe(TXN_REMEMBERED_MAX);
    expect(log.decisions.has('d0')).toBe(false);
    expect(log.decisions.has('d1')).toBe(true);
    expect(log.ended.has('e0')).toBe(false);
    expect(log.ended.has('e1')).toBe(true);
  });
});
