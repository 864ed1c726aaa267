/**
 * A member's consensus state on disk: its term, its vote and the view it recorded, in ONE metadata
 * record, so a crash never leaves a term without the vote given in it, or a view without its term.
 * Writes go one at a time, in the order they were asked for; a member acts on a change (answers,
 * votes, ships) only once the write holding it resolved.
 *
 * No write may move the term, the vote or the view backwards: that is a bug, and an assertion
 * stops the server (TigerBeetle's superblock `monotonic()` is the model).
 */
import { decode, encode } from '@msgpack/msgpack';
import { assert } from '../assert.js';
import { CorruptRecordError } from '../errors.js';
import type { CheckedStore } from '../store/checked-store.js';
import { isNewerView, viewFromWire, viewToWire, type GroupView } from './group-view.js';

/** The vote a member gave, in the term it gave it. */
export interface Vote {
  term: number;
  name: string;
}

export interface ConsensusState {
  term: number;
  vote: Vote | undefined;
  /** The view this member recorded; undefined until it recorded one (the configuration's holds). */
  view: GroupView | undefined;
}

/** The metadata key of the one record. */
export const CONSENSUS_META_KEY = 'consensus';
/** Keys written, one value each, before the one record: read once, when the record is absent. */
const LEGACY_KEYS = { term: 'term', vote: 'vote', view: 'view' } as const;
const RECORD_FORMAT = 1;

type WireState = [format: number, term: number, vote: [number, string] | null, view: unknown];

export class DurableState {
  /** The state as last asked for: what the member acts on in memory. */
  private wanted: ConsensusState;
  /** The term of the last write that reached the store. */
  private writtenTerm: number;
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    private readonly store: CheckedStore,
    state: ConsensusState,
    private readonly onWritten: () => void,
    private readonly onFailed: (error: unknown) => void,
  ) {
    this.wanted = state;
    this.writtenTerm = state.term;
  }

  /**
   * Reads the record, or the separate keys of an older log when there is none.
   * @param onWritten called after each write reached the store
   * @param onFailed called once if a write fails; nothing waiting on a write is released then
   */
  static async load(store: CheckedStore, onWritten: () => void = () => {}, onFailed: (error: unknown) => void = () => {}): Promise<DurableState> {
    const bytes = await store.getMeta(CONSENSUS_META_KEY);
    const state = bytes === undefined ? await loadLegacy(store) : stateFromWire(decode(bytes));
    return new DurableState(store, state, onWritten, onFailed);
  }

  get term(): number {
    return this.wanted.term;
  }

  get vote(): Vote | undefined {
    return this.wanted.vote;
  }

  get view(): GroupView | undefined {
    return this.wanted.view;
  }

  /** The highest term that reached the store: a member says nothing in a higher one. */
  get durableTerm(): number {
    return this.writtenTerm;
  }

  /**
   * Records a change of the state, whole and atomically; resolves once it reached the store (at
   * once when the store is already closed: the member is stopping). Never rejects: a failed write
   * is reported to `onFailed` and leaves the promise pending, so nothing acts on it.
   */
  save(change: Partial<ConsensusState>): Promise<void> {
    const next: ConsensusState = { ...this.wanted, ...change };
    checkMonotonic(this.wanted, next);
    this.wanted = next;
    const bytes = encode(stateToWire(next));
    const write = this.writing.then(async () => {
      if (!this.store.isOpen) return;
      await this.store.putMeta(CONSENSUS_META_KEY, bytes);
      this.writtenTerm = next.term;
      this.onWritten();
    });
    this.writing = write.catch((error: unknown) => {
      this.onFailed(error);
      return new Promise<void>(() => {});
    });
    return this.writing;
  }

  /** Resolves once every change asked for so far reached the store. */
  settled(): Promise<void> {
    return this.writing;
  }
}

/** @throws AssertionFailure when `next` would move the term, the vote or the view backwards */
export function checkMonotonic(previous: ConsensusState, next: ConsensusState): void {
  assert(next.term >= previous.term, `term would move back from ${previous.term} to ${next.term}`);
  if (previous.vote) {
    assert(next.vote !== undefined, `the vote of term ${previous.vote.term} would be forgotten`);
    assert(next.vote.term >= previous.vote.term, `vote would move back from term ${previous.vote.term} to ${next.vote.term}`);
    assert(next.vote.term > previous.vote.term || next.vote.name === previous.vote.name, `a second vote in term ${next.vote.term}: ${previous.vote.name}, then ${next.vote.name}`);
  }
  if (next.vote) assert(next.vote.term <= next.term, `a vote in term ${next.vote.term} beyond the term ${next.term}`);
  if (previous.view) {
    assert(next.view !== undefined, `the view ${previous.view.version} would be forgotten`);
    assert(!isNewerView(previous.view, next.view), `view would move back from ${previous.view.term}/${previous.view.version} to ${next.view.term}/${next.view.version}`);
  }
}

function stateToWire(state: ConsensusState): WireState {
  return [RECORD_FORMAT, state.term, state.vote ? [state.vote.term, state.vote.name] : null, state.view ? viewToWire(state.view) : null];
}

function stateFromWire(value: unknown): ConsensusState {
  const malformed = (detail: string): never => {
    throw new CorruptRecordError(0, `the consensus state in the store's metadata ${detail}`);
  };
  if (!Array.isArray(value) || value.length !== 4) return malformed('is no four-field record');
  const [format, term, vote, wireView] = value as unknown[];
  if (format !== RECORD_FORMAT) return malformed(`has format ${String(format)}, not ${RECORD_FORMAT}`);
  if (!isCount(term)) return malformed('has no term');
  if (vote !== null && !isVote(vote)) return malformed('has a malformed vote');
  const view = wireView === null ? undefined : viewFromWire(wireView);
  if (wireView !== null && !view) return malformed('has a malformed view');
  return { term, vote: vote === null ? undefined : { term: vote[0], name: vote[1] }, view };
}

/** The state as logs before the one record kept it: a key each, the term written alone and not awaited. */
async function loadLegacy(store: CheckedStore): Promise<ConsensusState> {
  const read = async (key: string): Promise<unknown> => {
    const bytes = await store.getMeta(key);
    return bytes === undefined ? undefined : decode(bytes);
  };
  const term = Number(await read(LEGACY_KEYS.term)) || 0;
  const vote = await read(LEGACY_KEYS.vote);
  const view = viewFromWire(await read(LEGACY_KEYS.view));
  // The term was written without waiting: a vote (always awaited) may name a later one.
  const voted = isVote(vote) ? { term: vote[0], name: vote[1] } : undefined;
  return { term: Math.max(term, voted?.term ?? 0), vote: voted, view };
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isVote = (v: unknown): v is [number, string] => Array.isArray(v) && v.length === 2 && isCount(v[0]) && typeof v[1] === 'string';
