/** The client id a session's transactions carry. */
import { InvalidArgumentError } from '../errors.js';
import { checkWellFormed } from '../log/stream-name.js';
import { CLIENT_ID_LENGTH_MAX } from '../protocol/messages.js';
import type { Random } from '../time.js';

/** Length of the `/<UUID>` a given `clientId` gets. */
const SESSION_SUFFIX_LENGTH = 37;

/**
 * The id this client's transactions carry: unique to this client, since the server tells
 * transactions apart by `(clientId, seq)` and every client numbers its own from 1.
 */
export function sessionClientId(clientId: string | undefined, random: Random): string {
  if (clientId === undefined) return random.uuid();
  const lengthMax = CLIENT_ID_LENGTH_MAX - SESSION_SUFFIX_LENGTH;
  if (typeof clientId !== 'string' || clientId.length === 0 || clientId.length > lengthMax) {
    throw new InvalidArgumentError('clientId', `must be a string of 1 to ${lengthMax} characters`);
  }
  // The id goes into the log as UTF-8: a lone surrogate would come back as another id after a restart.
  checkWellFormed(clientId, 'clientId');
  return `${clientId}/${random.uuid()}`;
}
