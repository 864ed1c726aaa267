/**
 * A transaction's appends as they go on the wire, checked on the way: each stream name, events
 * and expected version, with errors that name the argument as the caller passed it (`append`'s
 * `events`, `transact`'s `appends[0].events`).
 */
import { InvalidArgumentError } from '../errors.js';
import { encodeEvents } from '../log/events.js';
import { checkAppendStreamText, checkStreamNameText } from '../log/stream-name.js';
import { checkExpectedVersion, type TransactionAppend, type TransactionResult } from '../protocol/messages.js';
import type { AppendResult, TransactAppend } from './options.js';

/** How an error names part `part` of the `index`th stream of a transaction, as the caller passed it. */
export type ArgumentName = (index: number, part: 'stream' | 'events' | 'expectedVersion') => string;
export const transactArgument: ArgumentName = (index, part) => `appends[${index}].${part}`;
export const appendArgument: ArgumentName = (_index, part) => (part === 'expectedVersion' ? 'options.expectedVersion' : part);

/** What `append` answers, from the result of its one-stream transaction. */
export function appendResultOf(result: TransactionResult): AppendResult {
  const range = result.streams[0]!;
  return { lsn: result.lsn, firstVersion: range.firstVersion, lastVersion: range.firstVersion + range.eventCount - 1 };
}

/**
 * Checks `appends` and encodes their events once; `newEventId` names an event given no id.
 * @throws InvalidArgumentError naming the argument (see {@link ArgumentName}) that breaks a rule
 */
export function wireAppends(appends: readonly TransactAppend[], argument: ArgumentName, newEventId: () => string): TransactionAppend[] {
  if (!Array.isArray(appends) || appends.length === 0) throw new InvalidArgumentError('appends', 'must hold at least one stream');
  return appends.map((a, i) => {
    if (argument === transactArgument) checkAppendStreamText(a.stream, i);
    else checkStreamNameText(a.stream, argument(i, 'stream'));
    if (a.events !== undefined && (!Array.isArray(a.events) || a.events.length === 0)) {
      throw new InvalidArgumentError(argument(i, 'events'), argument === transactArgument ? 'must be a non-empty array when given' : 'must be a non-empty array');
    }
    const expectedVersion = checkExpectedVersion(a.expectedVersion ?? 'any', argument(i, 'expectedVersion'));
    return a.events ? { stream: a.stream, expectedVersion, events: encodeEvents(a.events, newEventId, () => argument(i, 'events')) } : { stream: a.stream, expectedVersion };
  });
}
