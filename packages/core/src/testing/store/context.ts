/**
 * What every area of the store suite shares: the fixture, a harness that creates a store behind
 * the checked layer and always cleans it up, and small assertion helpers.
 */
import { StoreClosedError } from '../../errors.js';
import { defaultLogLimits } from '../../limits.js';
import { decodeRecord, RECORD_HEADER_BYTES } from '../../log/record.js';
import { checkedStore, type CheckedStore, type RecoveryReport } from '../../store/checked-store.js';
import type { Store } from '../../store/store.js';
import type { TestRunner } from '../runner.js';
import { hex, LogBuilder } from './records.js';

/** How the suite makes, reopens and removes the stores it tests. */
export interface StoreFixture {
  /** Names the suite run, for example `level (sync: true)`. */
  name: string;
  /** A fresh, empty, isolated store, not yet opened (a new temp directory per call, say). */
  create(): Promise<Store>;
  /**
   * A new, unopened store over the data of `store`, which the suite has closed. Only for
   * persistent stores: the reopen and torn-tail areas run only when it is given, and then
   * require `store.persistent` to be true.
   */
  reopen?(store: Store): Promise<Store>;
  /** Removes what `create` made (its temp directory, say). Called once per store, after close. */
  destroy?(store: Store): Promise<void>;
  /**
   * Writes bad bytes under the last LSN of an open store, going around the checked layer, so
   * that its CRC no longer checks. When absent, the suite does it through the store's own
   * `truncateAfter` and `append`, which take bytes unchanged.
   */
  corruptLastRecord?(store: Store): Promise<void>;
}

/** A store under test: the raw store, the checked layer around it, and the log it should hold. */
export class Harness {
  readonly log = new LogBuilder();
  /** What the last open found. */
  recovery: RecoveryReport | undefined;
  private checked: CheckedStore;

  constructor(
    private readonly fixture: StoreFixture,
    public raw: Store,
  ) {
    this.checked = checkedStore(raw, defaultLogLimits);
  }

  /** The checked store the tests call. */
  get store(): CheckedStore {
    return this.checked;
  }

  async open(): Promise<RecoveryReport> {
    this.recovery = await this.checked.open();
    return this.recovery;
  }

  /** Appends records through the checked layer. */
  async append(...records: Parameters<CheckedStore['append']>[0][number][]): Promise<void> {
    await this.checked.append(records);
  }

  /** Closes the checked store, reopens the raw one through the fixture, and opens it again. */
  async reopen(): Promise<RecoveryReport> {
    const reopen = this.fixture.reopen;
    if (!reopen) throw new TypeError(`fixture ${this.fixture.name} cannot reopen`);
    if (this.checked.isOpen) await this.checked.close();
    this.raw = await reopen.call(this.fixture, this.raw);
    this.checked = checkedStore(this.raw, defaultLogLimits);
    return this.open();
  }

  /** Garbles the last record: the fixture's own way if it has one, else through the raw store. */
  async corruptLastRecord(how: 'flip' | 'cut' = 'flip'): Promise<void> {
    if (how === 'flip' && this.fixture.corruptLastRecord) return this.fixture.corruptLastRecord(this.raw);
    const [tail] = await this.raw.read(Number.MAX_SAFE_INTEGER, { direction: 'backward', maxCount: 1, maxBytes: 1 });
    if (!tail) throw new TypeError('no record to corrupt');
    const record = decodeRecord(tail.bytes, tail.lsn);
    const bytes = how === 'flip' ? tail.bytes.slice() : tail.bytes.slice(0, tail.bytes.length - 3);
    // Flip one bit of the body so the CRC no longer matches; or cut the end off as a torn write would.
    if (how === 'flip') bytes[RECORD_HEADER_BYTES + 1] = bytes[RECORD_HEADER_BYTES + 1]! ^ 0x10;
    const streams = record.appends.map((a) => ({ stream: a.stream, firstVersion: a.firstVersion, eventCount: a.eventCount }));
    await this.raw.truncateAfter(tail.lsn - 1);
    await this.raw.append([{ lsn: tail.lsn, term: record.term, bytes, streams }]);
  }

  /** Closes whatever is open and lets the fixture remove the store. */
  async dispose(): Promise<void> {
    try {
      if (this.checked.isOpen) await this.checked.close();
    } catch (error) {
      if (!(error instanceof StoreClosedError)) throw error;
    } finally {
      await this.fixture.destroy?.(this.raw);
    }
  }
}

/** What each area file receives. */
export interface SuiteContext {
  runner: TestRunner;
  fixture: StoreFixture;
  /** Declares a test that runs against a fresh, opened store, cleaned up afterwards. */
  test(name: string, body: (h: Harness) => Promise<void>): void;
}

export function suiteContext(runner: TestRunner, fixture: StoreFixture): SuiteContext {
  return {
    runner,
    fixture,
    test(name, body) {
      runner.it(name, async () => {
        const h = new Harness(fixture, await fixture.create());
        try {
          await h.open();
          await body(h);
        } finally {
          await h.dispose();
        }
      });
    },
  };
}

/** Runs `operation` and returns what it rejected with; fails when it resolves. */
export async function rejection(operation: () => Promise<unknown>): Promise<unknown> {
  try {
    await operation();
  } catch (error) {
    return error;
  }
  throw new Error('expected the operation to reject, but it resolved');
}

/** Asserts that `operation` rejects with an instance of `type`. */
export async function expectRejects(runner: TestRunner, operation: () => Promise<unknown>, type: abstract new (...args: never[]) => Error): Promise<unknown> {
  const error = await rejection(operation);
  runner.expect(error, String(error)).toBeInstanceOf(type);
  return error;
}

/** A summary of everything a store holds for the given streams and meta keys, to compare before and after. */
export async function snapshot(h: Harness, streams: readonly string[], metaKeys: readonly string[] = []): Promise<unknown> {
  const all = [];
  for (let from = 1; ; ) {
    const page = await h.store.read(from, { direction: 'forward', maxCount: 1000, maxBytes: 1 << 30 });
    if (page.length === 0) break;
    all.push(...page.map((r) => `${r.lsn}:${hex(r.bytes)}`));
    from = page[page.length - 1]!.lsn + 1;
  }
  const index: Record<string, unknown> = {};
  for (const stream of streams) index[stream] = await h.store.readStreamIndex(stream, 0, { direction: 'forward', maxCount: 4096 });
  const meta: Record<string, string | undefined> = {};
  for (const key of metaKeys) {
    const value = await h.store.getMeta(key);
    meta[key] = value && hex(value);
  }
  return { last: h.store.lastPosition, records: all, index, meta };
}

/** Asserts that the store holds exactly the builder's log, bytes and stream index included. */
export async function expectHolds(runner: TestRunner, h: Harness): Promise<void> {
  const { expect } = runner;
  const last = h.log.records[h.log.records.length - 1];
  expect(h.store.lastPosition).toEqual({ lsn: last?.lsn ?? 0, term: last?.term ?? 0 });
  const records = await h.store.read(1, { direction: 'forward', maxCount: 4096, maxBytes: 1 << 30 });
  expect(records.map((r) => r.lsn)).toEqual(h.log.records.map((r) => r.lsn));
  expect(records.map((r) => hex(r.bytes))).toEqual(h.log.records.map((r) => hex(r.bytes)));
  for (const stream of h.log.streams()) {
    const options = { direction: 'forward', maxCount: 4096 } as const;
    expect(await h.store.readStreamIndex(stream, 0, options), stream).toEqual(h.log.index(stream, 0, options));
  }
}
