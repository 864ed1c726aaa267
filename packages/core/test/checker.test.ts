// The history checker's self-test (RELIABILITY.md §2.4): a tiny reference model of a correct Kiln
// log generates clean histories from a seed; the checker must pass them, and must flag every
// injected anomaly with the right class, and only that class.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  anomalyClasses,
  checkHistory,
  checkStripes,
  overlappingLeases,
  staleLeaseReads,
  type AnomalyClass,
  type CheckResult,
  type EventPosition,
  type HistoryAppend,
  type HistoryOp,
  type SubscriptionLog,
} from '../src/testing/checker/index.js';

interface Scenario {
  history: HistoryOp[];
  finalLogs: EventPosition[][];
  subscriptions: SubscriptionLog[];
}

interface SimOptions {
  seed: number;
  /** Operations (appends and reads) to issue. */
  ops: number;
  processes: number;
  streams: number;
  nodes: number;
  /** Share of appends whose completion is lost (`info`); half of them commit anyway. */
  infoRate: number;
}

/** mulberry32: a small seeded PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The reference model: one serial log (what a correct active does), driven by concurrent
 * processes in discrete time. Each operation is invoked at tick t, takes effect at a later tick
 * (its linearization point) and completes later still, so real time and the log order agree.
 */
function simulate(options: SimOptions): Scenario {
  const random = prng(options.seed);
  const int = (lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo + 1));
  const streamNames = Array.from({ length: options.streams }, (_, i) => `s${i}`);
  const log: EventPosition[] = [];
  const byStream = new Map<string, EventPosition[]>(streamNames.map((s) => [s, []]));
  let lastLsn = 0;
  const history: HistoryOp[] = [];
  const emit = (op: Omit<HistoryOp, 'index'>): void => void history.push({ index: history.length, ...op });
  const agenda = new Map<number, Array<() => void>>();
  const at = (tick: number, run: () => void): void => {
    const list = agenda.get(tick);
    if (list) list.push(run);
    else agenda.set(tick, [run]);
  };
  const believed = Array.from({ length: options.processes }, () => new Map<string, number>());
  const busy = new Array<boolean>(options.processes).fill(false);
  let issued = 0;
  let inFlight = 0;

  const startAppend = (p: number, t: number): void => {
    const n = issued;
    const picks = [...streamNames].sort(() => random() - 0.5).slice(0, random() < 0.2 ? int(2, 3) : 1);
    const appends: HistoryAppend[] = picks.map((stream, j) => {
      const known = believed[p]!.get(stream) ?? -1;
      const r = random();
      const append: HistoryAppend = { stream, eventIds: Array.from({ length: int(1, 3) }, (_, k) => `p${p}-${n}-${j}-${k}`) };
      if (r < 0.2) return append;
      if (r < 0.45) append.expectedVersion = 'any';
      else if (r < 0.85) append.expectedVersion = known === -1 ? 'no-stream' : known;
      else if (r < 0.93) append.expectedVersion = 'exists';
      else append.expectedVersion = known + 2;
      return append;
    });
    emit({ process: p, type: 'invoke', f: 'append', txn: { appends }, timeMs: t });
    const commitAt = t + int(1, 4);
    const completeAt = commitAt + int(1, 4);
    const info = random() < options.infoRate;
    const commits = !info || random() < 0.5;
    let outcome: { lsn: number; streams: Array<{ stream: string; firstVersion: number; eventCount: number }> } | undefined;
    if (commits)
      at(commitAt, () => {
        const fits = appends.every((a) => {
          const length = byStream.get(a.stream)!.length;
          const e = a.expectedVersion ?? 'any';
          return e === 'any' || (e === 'no-stream' ? length === 0 : e === 'exists' ? length > 0 : length === e + 1);
        });
        if (!fits) return;
        const lsn = ++lastLsn;
        outcome = { lsn, streams: [] };
        for (const a of appends) {
          const events = byStream.get(a.stream)!;
          outcome.streams.push({ stream: a.stream, firstVersion: events.length, eventCount: a.eventIds.length });
          for (const id of a.eventIds) {
            const e = { stream: a.stream, version: events.length, lsn, id };
            events.push(e);
            log.push(e);
          }
        }
      });
    at(completeAt, () => {
      busy[p] = false;
      inFlight--;
      if (info) emit({ process: p, type: 'info', f: 'append', error: 'TimeoutError', timeMs: completeAt });
      else if (!outcome) emit({ process: p, type: 'fail', f: 'append', error: 'WrongExpectedVersionError', timeMs: completeAt });
      else {
        emit({ process: p, type: 'ok', f: 'append', result: outcome, timeMs: completeAt });
        for (const r of outcome.streams) believed[p]!.set(r.stream, r.firstVersion + r.eventCount - 1);
      }
    });
  };

  const startRead = (p: number, t: number): void => {
    const stream = random() < 0.7 ? streamNames[int(0, streamNames.length - 1)]! : null;
    const from = stream === null ? Math.max(1, lastLsn - int(0, 4)) : Math.max(0, (believed[p]!.get(stream) ?? -1) - int(0, 3));
    emit({ process: p, type: 'invoke', f: 'read', read: { stream, from }, timeMs: t });
    const commitAt = t + int(1, 4);
    const completeAt = commitAt + int(1, 4);
    let events: EventPosition[] = [];
    let length = 0;
    at(commitAt, () => {
      if (stream === null) {
        let i = log.length;
        while (i > 0 && log[i - 1]!.lsn >= from) i--;
        events = log.slice(i).map((e) => ({ ...e }));
      } else {
        const all = byStream.get(stream)!;
        length = all.length;
        events = all.slice(from).map((e) => ({ ...e }));
      }
    });
    at(completeAt, () => {
      busy[p] = false;
      inFlight--;
      emit({ process: p, type: 'ok', f: 'read', read: { stream, from, events }, timeMs: completeAt });
      if (stream !== null) believed[p]!.set(stream, length - 1);
    });
  };

  for (let t = 0; issued < options.ops || inFlight > 0; t++) {
    const due = agenda.get(t);
    if (due) {
      agenda.delete(t);
      for (const run of due) run();
    }
    for (let p = 0; p < options.processes; p++) {
      if (busy[p] || issued >= options.ops || random() < 0.4) continue;
      busy[p] = true;
      inFlight++;
      if (random() < 0.65) startAppend(p, t);
      else startRead(p, t);
      issued++;
    }
  }

  // Subscriptions: one on a stream from 0, one on $all from LSN 1, one from the middle of a stream
  // that stopped early. The first one's deliveries are also in the history, in batches.
  const copy = (events: EventPosition[]): EventPosition[] => events.map((e) => ({ ...e }));
  const s0 = byStream.get('s0')!;
  const s1 = byStream.get('s1')!;
  const subscriptions: SubscriptionLog[] = [
    { name: 'sub-s0', stream: 's0', from: 0, events: copy(s0) },
    { name: 'sub-all', stream: null, from: 1, events: copy(log) },
    { name: 'sub-s1-mid', stream: 's1', from: Math.floor(s1.length / 3), events: copy(s1.slice(Math.floor(s1.length / 3), Math.floor((2 * s1.length) / 3))) },
  ];
  const end = history.length === 0 ? 0 : history[history.length - 1]!.timeMs;
  for (let i = 0; i < s0.length; i += 10)
    emit({ process: 'sub-s0', type: 'ok', f: 'subscribe-delivery', read: { stream: 's0', from: i, events: copy(s0.slice(i, i + 10)) }, timeMs: end + 1 });
  const finalLogs = Array.from({ length: options.nodes }, () => copy(log));
  return { history, finalLogs, subscriptions };
}

/** The anomaly classes with a count above zero. */
const flagged = (result: CheckResult): AnomalyClass[] => anomalyClasses.filter((c) => result.counts[c] > 0);

const check = (sc: Scenario): CheckResult => checkHistory(sc.history, sc.finalLogs, sc.subscriptions);

// ---- helpers over a scenario, for choosing what to mutate ----

interface TxnView {
  invoke: HistoryOp;
  completion: HistoryOp | undefined;
  appends: HistoryAppend[];
  ids: string[];
}

function transactions(history: HistoryOp[]): TxnView[] {
  const open = new Map<number | string, TxnView>();
  const out: TxnView[] = [];
  for (const op of history) {
    if (op.f !== 'append') continue;
    if (op.type === 'invoke') {
      const view: TxnView = { invoke: op, completion: undefined, appends: op.txn!.appends, ids: op.txn!.appends.flatMap((a) => a.eventIds) };
      open.set(op.process, view);
      out.push(view);
    } else {
      open.get(op.process)!.completion = op;
      open.delete(op.process);
    }
  }
  return out;
}

const okTxns = (sc: Scenario): TxnView[] => transactions(sc.history).filter((t) => t.completion?.type === 'ok');
const reads = (sc: Scenario): HistoryOp[] => sc.history.filter((op) => op.f === 'read' && op.type === 'ok');
const invokeOf = (sc: Scenario, completion: HistoryOp): HistoryOp => {
  for (let i = completion.index - 1; i >= 0; i--) {
    const op = sc.history[i]!;
    if (op.process === completion.process && op.type === 'invoke') return op;
  }
  throw new Error('no invoke');
};
/** Appends a whole record at the end of every final log. */
function appendRecord(sc: Scenario, events: Array<{ stream: string; id: string }>): void {
  for (const log of sc.finalLogs) {
    const lsn = (log[log.length - 1]?.lsn ?? 0) + 1;
    for (const { stream, id } of events) {
      const version = log.filter((e) => e.stream === stream).length;
      log.push({ stream, version, lsn, id });
    }
  }
}
/** Every event object anyone saw: final logs, reads, deliveries, subscriptions. */
function* everyEvent(sc: Scenario): Generator<EventPosition> {
  for (const log of sc.finalLogs) yield* log;
  for (const op of sc.history) if (op.read?.events) yield* op.read.events;
  for (const sub of sc.subscriptions) yield* sub.events;
}
function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`the clean scenario has no ${what}`);
  return value;
}

interface Mutation {
  name: string;
  /** The classes it must raise, and nothing else. */
  classes: AnomalyClass[];
  mutate(sc: Scenario): void;
}

function lostFromOneNode(which: 'prefix' | 'middle'): (sc: Scenario) => void {
  return (sc) => {
    const byProducer = new Map<number | string, TxnView[]>();
    for (const t of okTxns(sc)) byProducer.set(t.completion!.process, [...(byProducer.get(t.completion!.process) ?? []), t]);
    const list = need([...byProducer.values()].find((l) => l.length >= 3), 'producer with 3 acked transactions');
    const victim = which === 'prefix' ? list[0]! : list[1]!;
    const lsn = victim.completion!.result!.lsn;
    sc.finalLogs[1] = sc.finalLogs[1]!.filter((e) => e.lsn !== lsn);
  };
}

const mutations: Mutation[] = [
  {
    name: 'drop an acked value from one node (middle of its producer)',
    classes: ['lost', 'lostMiddle', 'divergentNodes'],
    mutate: lostFromOneNode('middle'),
  },
  {
    name: 'drop an acked value from one node (first of its producer)',
    classes: ['lost', 'lostPrefix', 'divergentNodes'],
    mutate: lostFromOneNode('prefix'),
  },
  {
    name: 'a lagging node misses the tail from the last acked record',
    classes: ['lost', 'lostPostfix', 'divergentNodes'],
    mutate: (sc) => {
      const last = Math.max(...okTxns(sc).map((t) => t.completion!.result!.lsn));
      sc.finalLogs[2] = sc.finalLogs[2]!.filter((e) => e.lsn < last);
    },
  },
  {
    name: 'duplicate a value (a resend committed twice, on every node)',
    classes: ['duplicate'],
    mutate: (sc) => {
      const t = need(
        okTxns(sc).find((x) => x.ids.length === 1),
        'single-event acked transaction',
      );
      appendRecord(sc, [{ stream: t.appends[0]!.stream, id: t.ids[0]! }]);
    },
  },
  {
    name: 'swap two positions on one node',
    classes: ['divergentNodes'],
    mutate: (sc) => {
      const log = sc.finalLogs[2]!;
      const [a, b] = [log[10]!, log[20]!];
      [a.id, b.id] = [b.id, a.id];
    },
  },
  {
    name: "make a failed transaction's value visible in the final log",
    classes: ['abortedReads'],
    mutate: (sc) => {
      const t = need(
        transactions(sc.history).find((x) => x.completion?.type === 'fail'),
        'failed transaction',
      );
      appendRecord(
        sc,
        t.appends.flatMap((a) => a.eventIds.map((id) => ({ stream: a.stream, id }))),
      );
    },
  },
  {
    name: "make a failed transaction's value visible in a read",
    classes: ['abortedReads'],
    mutate: (sc) => {
      const t = need(
        transactions(sc.history).find((x) => x.completion?.type === 'fail'),
        'failed transaction',
      );
      const read = need(
        reads(sc).find((r) => r.read!.events!.length >= 2),
        'read of 2 events',
      );
      const first = read.read!.events![0]!;
      read.read!.events!.splice(1, 0, { stream: first.stream, version: first.version + 1, lsn: first.lsn, id: t.ids[0]! });
    },
  },
  {
    name: 'an unexpected value, never invoked, on every node',
    classes: ['unexpected'],
    mutate: (sc) => appendRecord(sc, [{ stream: 's0', id: 'ghost' }]),
  },
  {
    name: 'a read returns a stale length',
    classes: ['staleReads'],
    mutate: (sc) => {
      const acked = okTxns(sc);
      for (const r of reads(sc)) {
        const { stream, from, events } = r.read!;
        if (stream === null) continue;
        const invoke = invokeOf(sc, r);
        // The latest transaction on the stream acknowledged before the read began, inside the read's range.
        const before = acked
          .filter((t) => t.completion!.timeMs < invoke.timeMs)
          .map((t) => t.completion!.result!.streams.find((x) => x.stream === stream))
          .filter((x) => x !== undefined && x.firstVersion >= from);
        const cut = Math.max(-1, ...before.map((x) => x!.firstVersion));
        if (cut < 0) continue;
        r.read!.events = events!.filter((e) => e.version < cut);
        return;
      }
      throw new Error('no read to make stale');
    },
  },
  {
    name: 'two ok appends with the same expected version on one stream',
    classes: ['expectedVersionDoubleSuccess'],
    mutate: (sc) => {
      const acked = okTxns(sc);
      const a = need(
        acked.find((t) => t.appends.length === 1 && typeof t.appends[0]!.expectedVersion === 'number'),
        'acked append with a numeric expected version',
      );
      const stream = a.appends[0]!.stream;
      const b = need(
        acked.find((t) => t !== a && t.appends.length === 1 && t.appends[0]!.stream === stream),
        'second acked append on the stream',
      );
      b.appends[0]!.expectedVersion = a.appends[0]!.expectedVersion!;
    },
  },
  {
    name: 'split a multi-stream transaction across two records in the final log',
    classes: ['tornTransactions'],
    mutate: (sc) => {
      const t = need(
        okTxns(sc)
          .filter((x) => x.appends.length >= 2)
          .sort((x, y) => y.completion!.result!.lsn - x.completion!.result!.lsn)[0],
        'multi-stream acked transaction',
      );
      const lsn = t.completion!.result!.lsn;
      // The last stream's events end the record, so they can take the next LSN in place.
      const moved = new Set(t.appends[t.appends.length - 1]!.eventIds);
      // Everything after the record shifts by one LSN, consistently, everywhere.
      for (const e of everyEvent(sc)) {
        if (e.lsn > lsn) e.lsn++;
        else if (moved.has(e.id)) e.lsn = lsn + 1;
      }
      for (const op of sc.history) {
        if (op.result && op.result.lsn > lsn) op.result.lsn++;
        if (op.read && op.read.stream === null && op.read.from > lsn) op.read.from++;
      }
      for (const sub of sc.subscriptions) if (sub.stream === null && sub.from > lsn) sub.from++;
    },
  },
  {
    name: 'an acknowledgement reports a position that differs from the final log',
    classes: ['wrongPosition'],
    mutate: (sc) => {
      okTxns(sc)[5]!.completion!.result!.streams[0]!.firstVersion += 1;
    },
  },
  {
    name: 'a read disagrees with the final order (inconsistent offsets)',
    classes: ['wrongPosition'],
    mutate: (sc) => {
      const read = need(
        reads(sc).find((r) => r.read!.stream !== null && r.read!.events!.length >= 2),
        'stream read of 2 events',
      );
      const [a, b] = read.read!.events!;
      [a!.id, b!.id] = [b!.id, a!.id];
    },
  },
  {
    name: 'a real-time order violation (two appends committed in the reverse of real-time order)',
    classes: ['realTimeViolations'],
    mutate: (sc) => {
      const single = okTxns(sc).filter((t) => t.ids.length === 1 && (t.appends[0]!.expectedVersion ?? 'any') === 'any');
      const readEnds = reads(sc).map((r) => {
        const { stream, from, events } = r.read!;
        const last = events![events!.length - 1];
        return { stream, end: stream === null ? (last ? last.lsn : from - 1) : last ? last.version + 1 : from };
      });
      for (const a of single) {
        const stream = a.appends[0]!.stream;
        const b = single.find((x) => x.appends[0]!.stream === stream && x.invoke.timeMs > a.completion!.timeMs);
        if (!b) continue;
        const [ra, rb] = [a.completion!.result!, b.completion!.result!];
        const [va, vb] = [ra.streams[0]!.firstVersion, rb.streams[0]!.firstVersion];
        // No read may end between the two, or the swap would also make it stale.
        if (readEnds.some((r) => (r.stream === stream && r.end > va && r.end <= vb) || (r.stream === null && r.end >= ra.lsn && r.end < rb.lsn))) continue;
        const [x, y] = [a.ids[0]!, b.ids[0]!];
        for (const e of everyEvent(sc)) {
          if (e.id === x) e.id = y;
          else if (e.id === y) e.id = x;
        }
        [a.completion!.result, b.completion!.result] = [rb, ra];
        return;
      }
      throw new Error('no pair to reorder');
    },
  },
  {
    name: 'a stream read with a gap',
    classes: ['readGaps'],
    mutate: (sc) => {
      const read = need(
        reads(sc).find((r) => r.read!.stream !== null && r.read!.events!.length >= 3),
        'stream read of 3 events',
      );
      read.read!.events!.splice(1, 1);
    },
  },
  {
    name: 'an $all read with a gap',
    classes: ['readGaps'],
    mutate: (sc) => {
      const read = need(
        reads(sc).find((r) => r.read!.stream === null && r.read!.events!.length >= 3),
        '$all read of 3 events',
      );
      read.read!.events!.splice(1, 1);
    },
  },
  {
    name: 'a subscription delivers an event twice',
    classes: ['subscriptionAnomalies'],
    mutate: (sc) => {
      const events = sc.subscriptions[1]!.events;
      events.splice(8, 0, { ...events[7]! });
    },
  },
  {
    name: 'a subscription skips an event',
    classes: ['subscriptionAnomalies'],
    mutate: (sc) => void sc.subscriptions[0]!.events.splice(3, 1),
  },
  {
    name: 'a subscription delivers two events out of order',
    classes: ['subscriptionAnomalies'],
    mutate: (sc) => {
      const events = sc.subscriptions[2]!.events;
      [events[1], events[2]] = [events[2]!, events[1]!];
    },
  },
];

const baseOptions: SimOptions = { seed: 42, ops: 600, processes: 6, streams: 5, nodes: 3, infoRate: 0.05 };

describe('history checker', () => {
  const clean = simulate(baseOptions);

  it('passes a clean history from the reference model with zero anomalies', () => {
    const result = check(clean);
    expect(result.examples).toEqual({});
    expect(result.warnings).toEqual([]);
    expect(result.valid).toBe(true);
    const c = result.counts;
    // The scenario exercises what the mutations need: conflicts, timeouts, reads of both kinds.
    expect(c.attempted).toBeGreaterThan(300);
    expect(c.acked).toBeGreaterThan(200);
    expect(c.acked).toBeLessThan(c.attempted);
    expect(c.indeterminate).toBeGreaterThan(5);
    expect(c.recovered).toBeGreaterThan(0);
    expect(c.recovered).toBeLessThan(c.indeterminate);
    expect(c.read).toBeGreaterThan(100);
    console.log(`clean history: ${clean.history.length} entries, counts ${JSON.stringify(c)}`);
  });

  describe('flags every injected anomaly with the right class, and only that class', () => {
    for (const m of mutations) {
      it(m.name, () => {
        const sc = structuredClone(clean);
        m.mutate(sc);
        const result = check(sc);
        expect(result.valid).toBe(false);
        expect(flagged(result), JSON.stringify(result.examples, null, 1)).toEqual(anomalyClasses.filter((c) => m.classes.includes(c)));
        expect(result.counts.lostPrefix + result.counts.lostMiddle + result.counts.lostPostfix).toBe(result.counts.lost);
      });
    }
    it('covers every anomaly class', () => {
      // The anomalies across stripes come from checkStripes only: their own tests below.
      const covered = new Set<AnomalyClass>([...mutations.flatMap((m) => m.classes), 'wrongStripe', 'fracturedTransactions', 'duplicatedTransactions', 'fracturedReads']);
      expect(anomalyClasses.filter((c) => !covered.has(c))).toEqual([]);
      console.log(`mutation self-test: ${mutations.length} mutations over ${covered.size} anomaly classes`);
    });
  });

  it('passes every random history of the reference model (property)', () => {
    fc.assert(
      fc.property(
        fc.integer(),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 3 }),
        fc.double({ min: 0, max: 0.3, noNaN: true }),
        (seed, processes, streams, nodes, infoRate) => {
          const sc = simulate({ seed, ops: 150, processes, streams: Math.max(streams, 2), nodes, infoRate });
          const result = check(sc);
          expect(result.examples).toEqual({});
          expect(result.warnings).toEqual([]);
          return result.valid;
        },
      ),
      { numRuns: 200 },
    );
  });

  it('treats a resend of an indeterminate transaction as one transaction (exactly once)', () => {
    const appends: HistoryAppend[] = [{ stream: 'a', eventIds: ['x'], expectedVersion: 'no-stream' }];
    const history: HistoryOp[] = [
      { index: 0, process: 0, type: 'invoke', f: 'append', txn: { appends }, timeMs: 0 },
      { index: 1, process: 0, type: 'info', f: 'append', error: 'TimeoutError', timeMs: 5 },
      { index: 2, process: 0, type: 'invoke', f: 'append', txn: { appends }, timeMs: 6 },
      { index: 3, process: 0, type: 'ok', f: 'append', result: { lsn: 1, streams: [{ stream: 'a', firstVersion: 0, eventCount: 1 }] }, timeMs: 7 },
    ];
    const log = [{ stream: 'a', version: 0, lsn: 1, id: 'x' }];
    const result = checkHistory(history, [log]);
    expect(result.valid).toBe(true);
    expect(result.counts).toMatchObject({ attempted: 1, acked: 1, indeterminate: 0 });
    // Committed twice is a duplicate, even though the client sent it twice.
    const twice = checkHistory(history, [[...log, { stream: 'a', version: 1, lsn: 2, id: 'x' }]]);
    expect(flagged(twice)).toEqual(['duplicate']);
  });

  it('does not judge staleness of a read cut short by its page size, and is not valid without a final log', () => {
    const history: HistoryOp[] = [
      { index: 0, process: 0, type: 'invoke', f: 'append', txn: { appends: [{ stream: 'a', eventIds: ['x', 'y'] }] }, timeMs: 0 },
      { index: 1, process: 0, type: 'ok', f: 'append', result: { lsn: 1, streams: [{ stream: 'a', firstVersion: 0, eventCount: 2 }] }, timeMs: 1 },
      { index: 2, process: 1, type: 'invoke', f: 'read', read: { stream: 'a', from: 0, maxCount: 1 }, timeMs: 2 },
      { index: 3, process: 1, type: 'ok', f: 'read', read: { stream: 'a', from: 0, maxCount: 1, events: [{ stream: 'a', version: 0, lsn: 1, id: 'x' }] }, timeMs: 3 },
    ];
    const log = [
      { stream: 'a', version: 0, lsn: 1, id: 'x' },
      { stream: 'a', version: 1, lsn: 1, id: 'y' },
    ];
    expect(checkHistory(history, [log]).valid).toBe(true);
    const unpaged = structuredClone(history);
    delete unpaged[3]!.read!.maxCount;
    delete unpaged[2]!.read!.maxCount;
    expect(flagged(checkHistory(unpaged, [log]))).toEqual(['staleReads', 'tornTransactions']);
    const none = checkHistory(history, []);
    expect(none.valid).toBe(false);
    expect(none.warnings[0]).toMatch(/no final log/);
  });

  it('warns about a WrongExpectedVersion failure the log proves wrong', () => {
    const history: HistoryOp[] = [
      { index: 0, process: 0, type: 'invoke', f: 'append', txn: { appends: [{ stream: 'a', eventIds: ['x'] }] }, timeMs: 0 },
      { index: 1, process: 0, type: 'ok', f: 'append', result: { lsn: 1, streams: [{ stream: 'a', firstVersion: 0, eventCount: 1 }] }, timeMs: 1 },
      { index: 2, process: 0, type: 'invoke', f: 'append', txn: { appends: [{ stream: 'a', eventIds: ['y'], expectedVersion: 0 }] }, timeMs: 2 },
      { index: 3, process: 0, type: 'fail', f: 'append', error: 'WrongExpectedVersionError', timeMs: 3 },
    ];
    const result = checkHistory(history, [[{ stream: 'a', version: 0, lsn: 1, id: 'x' }]]);
    expect(result.valid).toBe(true);
    expect(result.warnings).toHaveLength(1);
    expect(result.warnings[0]).toMatch(/provably had that version/);
  });

  it('logs the time to check 100k operations', () => {
    const big = simulate({ seed: 7, ops: 100_000, processes: 16, streams: 40, nodes: 3, infoRate: 0.02 });
    const started = performance.now();
    const result = check(big);
    const ms = performance.now() - started;
    expect(result.valid).toBe(true);
    console.log(
      `checked 100k operations (${big.history.length} history entries, ${big.finalLogs[0]!.length} events x ${big.finalLogs.length} servers) in ${ms.toFixed(0)} ms; heap ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MiB`,
    );
  });
});

describe('history checker across stripes', () => {
  /** Stripe `a` holds streams `a-*`, stripe `b` the rest. */
  const stripeOf = (stream: string): number => (stream.startsWith('a-') ? 0 : 1);
  const at = (stream: string, version: number, lsn: number, id: string): EventPosition => ({ stream, version, lsn, id });

  /**
   * Two stripes of two servers; a write to each, a `$all` read of `b`, and a transaction over both,
   * committed: `a` coordinates it (its part at the acknowledged LSN 2), `b`'s part is at its
   * outcome, LSN 3 of `b`'s log, which the client never learns.
   */
  function striped(): { history: HistoryOp[]; logs: EventPosition[][][] } {
    const ops: Array<Omit<HistoryOp, 'index'>> = [
      { process: 0, type: 'invoke', f: 'append', txn: { appends: [{ stream: 'a-x', eventIds: ['e1'], expectedVersion: 'no-stream' }] }, timeMs: 1 },
      { process: 1, type: 'invoke', f: 'append', txn: { appends: [{ stream: 'b-y', eventIds: ['e2'] }] }, timeMs: 1 },
      { process: 0, type: 'ok', f: 'append', result: { lsn: 1, streams: [{ stream: 'a-x', firstVersion: 0, eventCount: 1 }] }, timeMs: 2 },
      { process: 1, type: 'ok', f: 'append', result: { lsn: 1, streams: [{ stream: 'b-y', firstVersion: 0, eventCount: 1 }] }, timeMs: 2 },
      { process: 0, type: 'invoke', f: 'read', read: { stream: null, from: 1, stripe: 'b' }, timeMs: 3 },
      { process: 1, type: 'invoke', f: 'append', txn: { appends: [{ stream: 'a-x', eventIds: ['e3'], expectedVersion: 0 }, { stream: 'b-y', eventIds: ['e4'], expectedVersion: 0 }] }, timeMs: 3 },
      { process: 0, type: 'ok', f: 'read', read: { stream: null, from: 1, stripe: 'b', events: [at('b-y', 0, 1, 'e2')] }, timeMs: 4 },
      { process: 1, type: 'ok', f: 'append', result: { lsn: 2, streams: [{ stream: 'a-x', firstVersion: 1, eventCount: 1 }, { stream: 'b-y', firstVersion: 1, eventCount: 1 }] }, timeMs: 4 },
      // Read after the acknowledgement, before `b` wrote its outcome: `b`'s `$all` need not show the part yet.
      { process: 0, type: 'invoke', f: 'read', read: { stream: null, from: 1, stripe: 'b' }, timeMs: 5 },
      { process: 0, type: 'ok', f: 'read', read: { stream: null, from: 1, stripe: 'b', events: [at('b-y', 0, 1, 'e2')] }, timeMs: 6 },
    ];
    const a = [at('a-x', 0, 1, 'e1'), at('a-x', 1, 2, 'e3')];
    const b = [at('b-y', 0, 1, 'e2'), at('b-y', 1, 3, 'e4')];
    return { history: ops.map((op, index) => ({ ...op, index })), logs: [[a, structuredClone(a)], [b, structuredClone(b)]] };
  }
  const run = ({ history, logs }: ReturnType<typeof striped>): CheckResult =>
    checkStripes(history, logs.map((finalLogs, i) => ({ name: 'ab'[i]!, finalLogs })), stripeOf);

  it('passes a clean history of two stripes, a transaction over both included, its participant part at an LSN of its own', () => {
    const result = run(striped());
    expect(result.examples).toEqual({});
    expect(result.warnings).toEqual([]);
    expect(result.valid).toBe(true);
    // The transaction over both counts in each stripe.
    expect(result.counts.acked).toBe(4);
    expect(result.counts.read).toBe(2);
  });

  it("flags a stream found in another stripe's log, naming both stripes", () => {
    const sc = striped();
    sc.logs[0] = sc.logs[0]!.map((log) => [...log, at('b-y', 0, 3, 'e2')]);
    const result = run(sc);
    expect(result.valid).toBe(false);
    expect(result.counts.wrongStripe).toBe(2);
    expect(result.examples.wrongStripe![0]).toMatch(/^stripe a: stream b-y, which stripe b holds, is in the final log of its server 0/);
  });

  it("checks each part's versions, and the coordinator's LSN", () => {
    const versions = striped();
    versions.history[7]!.result!.streams[1]!.firstVersion = 2;
    expect(run(versions).examples.wrongPosition).toEqual([expect.stringMatching(/^stripe b: acknowledgement of e4 .* it put e4 at b-y\/2#\?, the final order at b-y\/1#3/)]);
    const lsn = striped();
    lsn.history[7]!.result!.lsn = 3;
    expect(run(lsn).examples.wrongPosition).toEqual([expect.stringMatching(/^stripe a: acknowledgement of e3 .* it put e3 at a-x\/1#3, the final order at a-x\/1#2/)]);
  });

  it('flags a transaction over several stripes on one of its stripes only, naming them', () => {
    const sc = striped();
    sc.logs[1] = sc.logs[1]!.map((log) => log.slice(0, 1));
    const result = run(sc);
    expect(result.counts.fracturedTransactions).toBe(1);
    expect(result.examples.fracturedTransactions).toEqual(['transaction e3 (ok) over stripes a, b is in the final log of stripe a, not of stripe b']);
    expect(result.examples.lost![0]).toMatch(/^stripe b: acknowledged transaction e4 /);

    // Failed, yet on one stripe: visible and fractured.
    const failed = striped();
    failed.history[7] = { ...failed.history[7]!, type: 'fail', error: 'StreamBusyError' };
    delete failed.history[7]!.result;
    failed.logs[1] = failed.logs[1]!.map((log) => log.slice(0, 1));
    const flaggedFailed = run(failed);
    expect(flaggedFailed.counts.fracturedTransactions).toBe(1);
    expect(flaggedFailed.examples.abortedReads![0]).toMatch(/^stripe a: failed transaction e3 \(StreamBusyError\)/);

    // Failed and on neither stripe: clean.
    failed.logs[0] = failed.logs[0]!.map((log) => log.slice(0, 1));
    expect(run(failed).valid).toBe(true);
  });

  it('flags a transaction over several stripes with an event twice (its part committed again)', () => {
    const sc = striped();
    sc.logs[1] = sc.logs[1]!.map((log) => [...log, at('b-y', 2, 4, 'e4')]);
    const result = run(sc);
    expect(result.counts.duplicatedTransactions).toBe(1);
    expect(result.examples.duplicatedTransactions).toEqual(['transaction e3 (ok) over stripes a, b: e4 is on stripe b at b-y/1#3 and again on stripe b at b-y/2#4']);
    expect(result.counts.duplicate).toBe(1);
  });

  it("flags a read that misses a part of a transaction after another read saw another of its parts, and not one invoked before", () => {
    const sc = striped();
    // Process 2 reads `a-x` and sees the coordinator's part (e3) at 4.5 ms; the `$all` read of `b`
    // invoked at 5 ms then misses `b`'s part (e4), which its final log has at LSN 3.
    const seenAt = 4.5;
    const extra: Array<Omit<HistoryOp, 'index'>> = [
      { process: 2, type: 'invoke', f: 'read', read: { stream: 'a-x', from: 0 }, timeMs: 4 },
      { process: 2, type: 'ok', f: 'read', read: { stream: 'a-x', from: 0, events: [at('a-x', 0, 1, 'e1'), at('a-x', 1, 2, 'e3')] }, timeMs: seenAt },
    ];
    const history = [...sc.history.slice(0, 8), ...extra.map((op) => ({ ...op, index: 0 })), ...sc.history.slice(8)].map((op, index) => ({ ...op, index }));
    const result = run({ ...sc, history });
    expect(result.counts.fracturedReads).toBe(1);
    expect(result.examples.fracturedReads).toEqual([
      'read op 10 of $all of stripe b (invoked at 5 ms) misses e4 at b-y/1#3, part of transaction e3 whose other part op 8 had already seen at 4.5 ms',
    ]);

    // Seen only after the `$all` read was invoked: the read was concurrent, and may miss it.
    const late = history.map((op) => (op.process === 2 && op.type === 'ok' ? { ...op, timeMs: 5.5 } : op));
    expect(run({ ...sc, history: late }).counts.fracturedReads).toBe(0);

    // A page cut short before the part's position does not cover it.
    const cut = history.map((op) => (op.index >= 10 && op.read ? { ...op, read: { ...op.read, maxCount: 1 } } : op));
    expect(run({ ...sc, history: cut }).counts.fracturedReads).toBe(0);
  });

  it("judges each stripe on its own log: a write lost in one stripe is that stripe's", () => {
    const sc = striped();
    sc.logs[1]![1] = [];
    const result = run(sc);
    expect(result.valid).toBe(false);
    // Server 1 of `b` lost both its writes: the one to `b`, and `b`'s part of the one over both.
    expect(result.counts.lost).toBe(2);
    expect(result.examples.lost![0]).toMatch(/^stripe b: acknowledged transaction e2 /);
    expect(result.counts.wrongStripe).toBe(0);
  });
});

describe('lease check', () => {
  const lease = (name: string, term: number, fromMs: number, untilMs: number) => ({ name, term, fromMs, untilMs });

  it('flags leases of two terms that share an instant, not those that only touch, nor an empty one', () => {
    expect(overlappingLeases([lease('a', 1, 0, 10), lease('b', 2, 9, 20)])).toEqual(['a (term 1) 0.0..10.0 ms overlaps b (term 2) 9.0..20.0 ms']);
    expect(overlappingLeases([lease('a', 1, 0, 10), lease('b', 2, 10, 20)])).toEqual([]);
    // b found its lease just as it ran out: it held nothing, inside a's or not.
    expect(overlappingLeases([lease('a', 1, 0, 10), lease('b', 2, 5, 5)])).toEqual([]);
    expect(overlappingLeases([lease('a', 1, 0, 10), lease('a', 1, 5, 15)])).toEqual([]);
  });
});

describe('check of reads served on leases', () => {
  const read = (name: string, term: number, commitIndex: number, atMs: number) => ({ name, term, kind: 'read' as const, commitIndex, atMs });
  const commit = (name: string, term: number, commitIndex: number, atMs: number) => ({ name, term, kind: 'commit' as const, commitIndex, atMs });

  it('flags a read that misses what a later term committed before it, in the order they happened', () => {
    expect(staleLeaseReads([commit('a', 1, 5, 0), commit('b', 2, 7, 10), read('a', 1, 5, 12)])).toEqual([
      'a (term 1) served a read at commit index 5 at 12.0 ms, after b (term 2) committed through 7 at 10.0 ms',
    ]);
    // Served before the later term committed anything past it: the read is not stale.
    expect(staleLeaseReads([commit('a', 1, 5, 0), read('a', 1, 5, 10), commit('b', 2, 7, 10)])).toEqual([]);
  });

  it('passes a read that holds what the later term committed, reads of the later term, and commits of the same term', () => {
    // b committed only what a had (its barrier): a's read still holds every acknowledgement.
    expect(staleLeaseReads([commit('a', 1, 5, 0), commit('b', 2, 5, 10), read('a', 1, 5, 12)])).toEqual([]);
    expect(staleLeaseReads([commit('a', 1, 5, 0), commit('b', 2, 7, 10), read('b', 2, 7, 12)])).toEqual([]);
    expect(staleLeaseReads([commit('a', 1, 5, 0), read('a', 1, 5, 1), commit('a', 1, 7, 2), read('a', 1, 7, 3)])).toEqual([]);
  });
});
